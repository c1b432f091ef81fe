"""``bot-telemetry metrics``, the same answers from the store file and from a running serve."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

from bot_telemetry.cli.metrics import sparkline
from bot_telemetry.store.database import Store
from bot_telemetry.store.rows import metrics_batch
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.otlp_messages import T0, metrics_request
from tests.support.processes import run_cli, run_cli_here

SECOND = 1_000_000_000


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    # In this process; with serve holding the file the CLI runs as a process of its own.
    return run_cli_here(*args)


def fill(store_path: Path) -> None:
    store = Store.open(store_path)
    gauge = [
        {"as_double": v, "time_unix_nano": T0 + i * SECOND}
        for i, v in enumerate([1.0, 2.0, math.nan, 4.0])
    ]
    histogram = [
        {
            "count": 4,
            "sum": 40.0,
            "explicit_bounds": [5.0, 50.0],
            "bucket_counts": [1, 3, 0],
            "min": 2.0,
            "max": 20.0,
        }
    ]
    store.write(
        metrics_batch(
            metrics_request(
                [
                    {"name": "queue.depth", "kind": "gauge", "points": gauge},
                    {"name": "latency", "kind": "histogram", "unit": "ms", "points": histogram},
                ]
            )
        )
    )
    store.close()


def test_metrics_from_the_file_and_from_serve_agree(tmp_path: Path) -> None:
    fill(tmp_path / "telemetry.duckdb")
    listing = cli("metrics", "--store", str(tmp_path))  # a folder: the store inside it
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["METRIC", "KIND", "UNIT", "SERIES", "POINTS", "LAST"]
    assert [line.split()[:5] for line in lines[1:]] == [
        ["latency", "histogram", "ms", "1", "1"],
        ["queue.depth", "gauge", "-", "1", "4"],
    ]
    gauge = cli("metrics", "queue.depth", "--store", str(tmp_path)).stdout
    assert gauge.splitlines()[0] == "queue.depth (gauge)"
    assert "▁▃ █" in gauge  # 1, 2, a gap for NaN, 4
    histogram = cli("metrics", "latency", "--store", str(tmp_path)).stdout
    row = histogram.splitlines()[2].split()
    assert row[:5] == ["svc", "-", "4", "40", "2"]
    assert "(-inf, 5] 1  (5, 50] 3  (50, +inf] 0" in histogram
    from_file = json.loads(
        cli("metrics", "latency", "--store", str(tmp_path), "--format", "json").stdout
    )
    with CollectorThread(ServerConfig(store=tmp_path, port=0)):
        # The file is held by serve now: the CLI asks it and gets the same answer.
        from_server = run_cli("metrics", "latency", "--store", str(tmp_path), "--format", "json")
        assert from_server.returncode == 0, from_server.stderr
        assert json.loads(from_server.stdout) == from_file
        missing = run_cli("metrics", "nothing", "--store", str(tmp_path))
    assert missing.returncode == 1
    assert (
        missing.stderr
        == "bot-telemetry: error: no points of metric 'nothing' in this time window\n"
    )


def test_sparkline_scales_and_leaves_gaps() -> None:
    assert sparkline([0, 7, "NaN", None, 3.5]) == "▁█  ▅"
    assert sparkline([5, 5]) == "▁▁"
    assert sparkline(["NaN"]) == ""
