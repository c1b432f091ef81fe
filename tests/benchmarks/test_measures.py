"""benchmarks.measures end to end at a tiny size: every measure timed on both engines, and the
two engines agree on the generated week (nothing here judges speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot_telemetry.analytics.measures import MEASURES
from tests.support.processes import REPO


def test_every_measure_on_both_engines_with_the_same_answers() -> None:
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.measures",
            "--spans",
            "20000",
            "--repeats",
            "1",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    (size,) = json.loads(ran.stdout)["sizes"]
    assert size["spans"] == 20_000
    assert size["events"] > 5_000
    measured = size["measures"]
    assert {name.split("+")[0] for name in measured} == set(MEASURES)
    assert len(measured) == 2 * len(MEASURES)  # each alone and narrowed
    for name, row in measured.items():
        assert row["duckdb_ms"] > 0 and row["chdb_ms"] > 0, name
        assert row["same"], f"{name}: the engines disagree"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.measures", "--spans", "20000", "--repeats", "1", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_folder_keeps_the_data_and_the_next_run_reuses_it(tmp_path: Path) -> None:
    first = _bench("--folder", str(tmp_path), "--only", "turns", "--no-clickhouse", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    (made,) = json.loads(first.stdout)["sizes"]
    assert not made["reused_data"]
    assert (tmp_path / "20000" / "store.duckdb").exists()
    stamp = (tmp_path / "20000" / "store.duckdb").stat().st_mtime_ns

    again = _bench("--folder", str(tmp_path), "--only", "turns", "sessions", "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    (reused,) = json.loads(again.stdout)["sizes"]
    assert reused["reused_data"]
    assert (tmp_path / "20000" / "store.duckdb").stat().st_mtime_ns == stamp
    assert reused["spans"] == made["spans"] == 20_000
    assert reused["events"] == made["events"]
    # Only the measures asked for, alone and narrowed; chDB loaded from the kept Parquet.
    assert set(reused["measures"]) == {"turns", "turns+channelId", "sessions", "sessions+channelId"}
    assert made["measures"]["turns"].keys() == {"duckdb_ms", "duckdb_cpu_ms"}
    assert all(row["same"] for row in reused["measures"].values())


def test_an_unknown_measure_to_time_is_refused_with_the_valid_ones() -> None:
    ran = _bench("--only", "turnz", "--no-clickhouse")
    assert ran.returncode == 2
    assert "unknown measures ['turnz']" in ran.stderr
    assert "activeUsers" in ran.stderr
