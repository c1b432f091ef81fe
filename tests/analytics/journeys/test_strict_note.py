"""A strict funnel whose steps are in different turns reaches nobody after its first step:
every turn records several events, so the next turn's event is never the very next one. The
answer says so (``notes``) on DuckDB and ClickHouse (chDB), over a real botbuilder bot's
telemetry (tests/support/recognizers.py: one conversation, three messages, each turn
recording BotMessageReceived, two recognizers' results and BotMessageSend); a strict funnel
whose steps are adjacent, and an ordered one, say nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import funnel
from bot_telemetry.analytics.traces import iso
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.support.bot_traffic import load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.recognizers import record_two_recognizers
from tests.support.telemetry import CapturedTelemetry

MESSAGE = {"event": "BotMessageReceived", "where": {"activityType": "message"}}


@pytest.fixture
def engines(
    telemetry: CapturedTelemetry, tmp_path: Path
) -> Iterator[tuple[list[Engine], dict[str, str]]]:
    traffic, start_ns, end_ns = asyncio.run(record_two_recognizers(telemetry))
    store = Store.open(tmp_path / "store.duckdb")
    load_duckdb(store, traffic)
    window = {"startTime": iso(start_ns - 10**9), "endTime": iso(end_ns + 10**9)}
    try:
        with chdb_engine("strict_note") as clickhouse:
            load_clickhouse(clickhouse, traffic)
            yield [DuckDBEngine(store), clickhouse], window
    finally:
        store.close()


def _funnel(engine: Engine, window: dict[str, str], order: str, *steps: Any) -> Any:
    return funnel(engine, {**window, "steps": list(steps), "order": order, "window": "1h"})


def test_a_strict_funnel_across_turns_says_why_nobody_got_through(
    engines: tuple[list[Engine], dict[str, str]],
) -> None:
    found, window = engines
    for engine in found:
        strict = _funnel(engine, window, "strict", MESSAGE, MESSAGE)
        assert [s["count"] for s in strict["steps"]] == [1, 0], engine.dialect
        (note,) = strict["notes"]
        assert "1 conversation did with other events between" in note, note
        assert "order ordered" in note and "never adjacent" in note, note
    # When to say nothing is decided from the answers alone, the same on both engines (and
    # a funnel takes seconds to plan on chDB): on DuckDB.
    duckdb = found[0]
    ordered = _funnel(duckdb, window, "ordered", MESSAGE, MESSAGE)
    assert [s["count"] for s in ordered["steps"]] == [1, 1]
    assert ordered["notes"] == []
    # Adjacent steps (the message, then the first recognizer's result in its turn).
    adjacent = _funnel(duckdb, window, "strict", MESSAGE, "LuisIntent.BookTable")
    assert [s["count"] for s in adjacent["steps"]] == [1, 1]
    assert adjacent["notes"] == []
    # Steps nobody did in any order: no note either (the 0 is not the order's).
    never = _funnel(duckdb, window, "strict", MESSAGE, "TableBooked")
    assert [s["count"] for s in never["steps"]] == [1, 0]
    assert never["notes"] == []
