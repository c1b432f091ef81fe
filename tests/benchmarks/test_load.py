"""load drives both copies of the sample over loopback and reports well-formed figures.

A second of load per copy; nothing here judges speed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.load import measure
from tests.support.processes import REPO


def test_json_report_compares_a_telemetry_free_copy_with_an_exporting_one() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.load",
            "--json",
            "--rounds",
            "1",
            "--duration",
            "1",
            "--warm-up",
            "0.2",
            "--concurrency",
            "4",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)

    for mode in ("off", "on"):
        assert report[f"turns_{mode}"] > 0
        assert report[f"errors_{mode}"] == 0
        assert report[f"turns_per_s_{mode}"] > 0
        assert 0 < report[f"p50_ms_{mode}"] <= report[f"p99_ms_{mode}"]
        # every turn answered through the connector API, in both copies
        assert report["exported"][mode]["replies"] >= report[f"turns_{mode}"]
    assert report["throughput_ratio"] > 0 and report["p99_ratio"] > 0
    assert 0 < report["cpu_ms_per_turn_off"] and 0 < report["cpu_ms_per_turn_on"]
    assert report["cpu_capacity_ratio"] > 0
    assert isinstance(report["targets"]["throughput_met"], bool)
    # The baseline really is telemetry-free; the other copy exports spans and custom events.
    assert report["telemetry_off_records_nothing"] is True
    assert report["telemetry_off_exported_nothing"] is True
    assert report["spans_per_turn_on"] >= 1
    assert report["log_records_per_turn_on"] >= 1


@pytest.mark.parametrize("option", [{"rounds": 0}, {"duration": 0}, {"concurrency": 0}])
def test_bad_arguments_are_refused_before_anything_starts(option: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        measure(**option)  # type: ignore[arg-type]
