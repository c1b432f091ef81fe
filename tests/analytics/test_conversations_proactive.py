"""A conversation with a proactive reply, on DuckDB and ClickHouse (chDB): the reminder is
in place after the user's turn, as a turn the bot started (no user line), and the
transcript (``bot-telemetry conversations ID``) says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry import PrivacyPolicy
from bot_telemetry.analytics.conversations import get_conversation
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from bot_telemetry.web.render import conversation_as_text
from tests.support.bot_traffic import load_clickhouse, load_duckdb
from tests.support.clickhouse import chdb_engine
from tests.support.proactive import record_proactive_traffic
from tests.support.telemetry import CapturedTelemetry, capture


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[list[Engine]]:
    # Text recorded, so the transcript shows which reply is which.
    telemetry: CapturedTelemetry = capture("bot", PrivacyPolicy(log_personal_information=True))
    try:
        traffic, _, _ = asyncio.run(record_proactive_traffic(telemetry))
    finally:
        telemetry.handle.shutdown()
    store = Store.open(tmp_path / "store.duckdb")
    load_duckdb(store, traffic)
    with chdb_engine("proactive_conversations") as clickhouse:
        load_clickhouse(clickhouse, traffic)
        yield [DuckDBEngine(store), clickhouse]
    store.close()


def test_the_proactive_reply_is_in_place_as_the_bots_own_turn(engines: list[Engine]) -> None:
    for engine in engines:
        found = get_conversation(engine, "conv-user-1")
        assert found is not None, engine.dialect
        turns = found["turns"]
        assert [(t["text"], t["replies"], t["proactive"]) for t in turns] == [
            ("remind me", ["noted"], False),
            (None, ["Your table is booked for 8 pm"], True),
        ], engine.dialect
        assert "BotMessageReceived" not in turns[1]["events"]
        text = conversation_as_text(found)
        first, second = text.split("\n#")[1:]
        assert "user: remind me" in first and "bot: noted" in first
        assert " proactive " in second.splitlines()[0]
        assert "user:" not in second, text
        assert "proactive: the bot wrote unasked" in second
        assert "bot: Your table is booked for 8 pm" in second
        # A conversation the bot only ever wrote in is one proactive turn.
        only = get_conversation(engine, "conv-user-3")
        assert only is not None
        assert [t["proactive"] for t in only["turns"]] == [True]
