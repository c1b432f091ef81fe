"""benchmarks.posthog runs end to end and reports well-formed figures (tiny counts; nothing
here judges speed)."""

from __future__ import annotations

from benchmarks.posthog import measure


def test_report_has_every_figure_and_everything_was_delivered() -> None:
    report = measure(events=50, rounds=2, forwarded=600)  # raises if anything was not delivered
    assert report["turn_path_us_per_event"] > 0
    for side in ("bot", "serve"):
        assert report[side]["events_per_second"] > 0
        assert report[side]["events_per_cpu_second"] > 0
    assert isinstance(report["targets"]["turn_path_met"], bool)
    assert report["machine"]["nproc"] >= 1
