"""benchmarks.measures end to end at a tiny size: every measure timed on both engines, and the
two engines agree on the generated week (nothing here judges speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks import measures
from bot_telemetry.analytics.measures import MEASURES
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from tests.analytics.test_measures_tokens import usage
from tests.support.clickhouse import chdb_engine
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


def test_the_generated_q_and_a_calls_of_some_conversations_are_model_calls(
    tmp_path: Path,
) -> None:
    # tokenUsage is timed on model calls, not on an empty filter, and both engines count
    # the same tokens: chat calls with input and output tokens, embeddings with input only.
    counts = measures.generate(tmp_path, 6000)  # 600 turns, 100 conversations
    assert counts["spans"] == 6000
    store = Store.open(tmp_path / "store.duckdb", read_only=True)
    try:
        with chdb_engine("measures_bench_tokens") as chdb:
            measures.load_chdb(tmp_path, chdb)
            found = {
                name: usage(engine, measures.START_NS, measures.END_NS)
                for name, engine in (("duckdb", DuckDBEngine(store)), ("chdb", chdb))
            }
    finally:
        store.close()
    assert found["duckdb"] == found["chdb"]
    models = found["duckdb"]
    assert set(models) == {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}
    for model in ("gpt-4o-mini", "gpt-4o"):
        calls, given, taken = models[model]
        assert 350 * calls <= given < 2150 * calls and 20 * calls <= taken < 420 * calls
    calls, given, taken = models["text-embedding-3-small"]
    assert 0 < calls and 8 * calls <= given < 68 * calls and taken == 0
    # Every other conversation's message turns (5 of 6): about 250 of the 600 Q&A calls.
    assert sum(calls for calls, _, _ in models.values()) == 250


def test_a_folder_kept_from_before_the_model_calls_is_generated_again(tmp_path: Path) -> None:
    measures.generate(tmp_path, 2000)
    assert measures.finished(tmp_path)
    # The set an earlier version left: its own ``done`` and other rows (here: none).
    (tmp_path / "done").write_text("complete\n")
    (tmp_path / "store.duckdb").unlink()
    Store.open(tmp_path / "store.duckdb").close()
    assert not measures.finished(tmp_path)
    assert measures.generate(tmp_path, 2000)["spans"] == 2000
    assert measures.finished(tmp_path)
