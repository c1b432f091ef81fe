"""_metrics_cost measures at any size and refuses one it cannot measure."""

from __future__ import annotations

import pytest

from benchmarks import _metrics_cost


def test_a_small_measurement_reports_every_figure() -> None:
    found = _metrics_cost.measure(calls=300, repeats=1)

    for kind in ("echo", "full"):
        for state in ("off", "sync", "on"):
            assert found[f"{kind}_{state}_us"] > 0
            # The collections' work is added to the turns', never taken from it.
            assert found[f"{kind}_{state}_all_us"] >= found[f"{kind}_{state}_us"]
        added = found[f"{kind}_on_us"] - found[f"{kind}_off_us"]
        assert found[f"{kind}_added_us"] == pytest.approx(added, abs=0.011)
    # Four dependency calls more than an echo turn: a full turn records more.
    assert found["full_sync_us"] > found["echo_sync_us"]


@pytest.mark.parametrize("argv", [["--calls", "0"], ["--repeats", "0"]])
def test_bad_sizes_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _metrics_cost.main(argv)

    assert exit_.value.code == 2
    assert "at least 1" in capsys.readouterr().err
