"""The intents of two recognizers in one bot are apart, on DuckDB and ClickHouse (chDB), over
a real botbuilder bot's telemetry (tests/support/recognizers.py: a CLU-like recognizer and an
LLM one asked on every message). ``intents`` gives one row per (intent, recognizer), and the
``dependency`` context narrows it to one recognizer's results, not to every result of the
turns that called it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics import query
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.support.bot_traffic import load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.recognizers import record_two_recognizers
from tests.support.telemetry import CapturedTelemetry


@pytest.fixture
def engines(
    telemetry: CapturedTelemetry, tmp_path: Path
) -> Iterator[tuple[list[Engine], int, int]]:
    traffic, start_ns, end_ns = asyncio.run(record_two_recognizers(telemetry))
    store = Store.open(tmp_path / "store.duckdb")
    load_duckdb(store, traffic)
    try:
        with chdb_engine("recognizers") as clickhouse:
            load_clickhouse(clickhouse, traffic)
            yield [DuckDBEngine(store), clickhouse], start_ns, end_ns
    finally:
        store.close()


def _intents(
    engine: Engine, window: tuple[int, int], **context: list[str]
) -> dict[tuple[Any, Any], tuple[int, float]]:
    """(intent, recognizer) -> (count, meanScore), over the whole window."""
    (result,) = query(
        engine,
        start_time=window[0] // 1_000_000,
        end_time=window[1] // 1_000_000 + 1000,
        context=context or None,
        measures=[{"measureType": "intents", "timeGranularity": ["week"]}],
    )
    found: dict[tuple[Any, Any], tuple[int, float]] = {}
    for row in result.response:
        if row["count"]:
            key = (row["intent"], row.get("recognizer"))
            count, _ = found.get(key, (0, 0.0))
            found[key] = (count + int(row["count"]), float(row["meanScore"]))
    return found


def test_each_recognizers_intents_are_apart(engines: tuple[list[Engine], int, int]) -> None:
    found, start_ns, end_ns = engines
    window = (start_ns, end_ns)
    for engine in found:
        assert _intents(engine, window) == {
            ("BookTable", "clu"): (2, 0.9),
            ("BookTable", "llm"): (2, 0.6),
            ("Greeting", "clu"): (1, 0.8),
            ("SmallTalk", "llm"): (1, 0.7),
        }, engine.dialect
        # One recognizer's results alone (both ran in every turn).
        assert _intents(engine, window, dependency=["llm"]) == {
            ("BookTable", "llm"): (2, 0.6),
            ("SmallTalk", "llm"): (1, 0.7),
        }, engine.dialect
