"""The exhaust benchmark runs end to end on a small store, on both engines."""

from __future__ import annotations

import json

import pytest

from benchmarks.exhaust import main


def test_a_small_run_reports_each_engine(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    assert main(["--rows", "2500", "--json"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(printed[: printed.index("\nresponse exhaust")])
    for engine in ("duckdb", "chdb"):
        assert report[engine]["rows"] == 2500
        assert report[engine]["seconds"] > 0 and report[engine]["file_mib"] > 0
