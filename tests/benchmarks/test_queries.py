"""queries runs every analytics query on DuckDB and on chDB over the same generated telemetry
and reports both times, their ratio and whether the answers agree. A small size here; nothing
judges speed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.processes import REPO


def test_json_report_times_every_query_on_both_engines() -> None:
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    command = ["-m", "benchmarks.queries", "--spans", "9000", "--repeats", "1", "--json"]
    result = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["machine"]["nproc"] >= 1
    (size,) = report["sizes"]
    assert size["spans"] == 9000
    assert "app_map" in size["queries"] and "conversations" in size["queries"]
    for name, row in size["queries"].items():
        assert row["duckdb_ms"] > 0 and row["chdb_ms"] > 0, name
        assert row["same"] is True, f"{name}: the engines disagree"
