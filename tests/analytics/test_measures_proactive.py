"""Proactive turns in the measures, on DuckDB and ClickHouse (chDB): a real botbuilder bot
over HTTP answers two users, then writes to them and to a third user unasked (as a reminder
job does, ``adapter.continue_conversation``). The bot writing to a user makes nobody active,
new or in a session; the turns and the messages sent still count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics import query
from bot_telemetry.store.engine import Engine
from tests.support.proactive import proactive_engines
from tests.support.telemetry import CapturedTelemetry

GRANULARITIES = ["minute", "hour"]


@pytest.fixture
def engines(
    telemetry: CapturedTelemetry, tmp_path: Path
) -> Iterator[tuple[list[Engine], int, int]]:
    with proactive_engines(telemetry, tmp_path, "proactive") as found:
        yield found


def _total(
    engine: Engine, measure: str, value: str, window: tuple[int, int], user: str | None = None
) -> list[Any]:
    """The value summed over the buckets, for each granularity."""
    results = query(
        engine,
        start_time=window[0] // 1_000_000 - 1000,
        end_time=window[1] // 1_000_000 + 1000,
        context={"userId": [user]} if user else None,
        measures=[{"measureType": measure, "timeGranularity": GRANULARITIES}],
    )
    return [sum(row[value] for row in result.response) for result in results]


def test_proactive_turns_count_as_turns_and_sends_but_make_no_user_active(
    engines: tuple[list[Engine], int, int], telemetry: CapturedTelemetry
) -> None:
    found, start_ns, end_ns = engines
    window = (start_ns, end_ns)
    only_written_to = telemetry.handle.privacy.pseudonymize("user-3")
    answered = telemetry.handle.privacy.pseudonymize("user-1")
    for engine in found:
        dialect = engine.dialect
        # The turns and messages the bot had: two answers and three reminders.
        assert _total(engine, "turns", "turns", window) == [5, 5], dialect
        assert _total(engine, "messagesSent", "messages", window) == [5, 5], dialect
        assert _total(engine, "messagesReceived", "messages", window) == [2, 2], dialect
        # The user the bot only wrote to did nothing.
        for measure in ("activeUsers", "newUsers"):
            assert _total(engine, measure, "users", window, only_written_to) == [0, 0], (
                dialect,
                measure,
            )
        assert _total(engine, "sessions", "sessions", window, only_written_to) == [0, 0]
        assert _total(engine, "turns", "turns", window, only_written_to) == [1, 1], dialect
        # A user who spoke is active, new, in one session: the reminder that followed
        # started no second one.
        assert _total(engine, "activeUsers", "users", window, answered) == [1, 1], dialect
        assert _total(engine, "newUsers", "users", window, answered) == [1, 1], dialect
        assert _total(engine, "sessions", "sessions", window, answered) == [1, 1], dialect
