"""The vocabulary's fallback and escalation: the events relation's columns and the compiler's
macros agree, on DuckDB and ClickHouse, with what contract/analytics.py says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot_telemetry.store.compiler import QueryError, compile_query
from bot_telemetry.store.engine import Engine
from tests.support.journeys import Stream, journey_engines

#: (event, properties, fallback, escalation)
EVENTS = [
    ("LuisIntent.None", {"intent": "None", "intentScore": 0.9}, True, False),
    ("LuisIntent.Book", {"intent": "Book", "intentScore": 0.49}, True, False),
    ("LuisIntent.Book", {"intent": "Book", "intentScore": 0.5}, False, False),
    ("LuisIntent.Book", {"intent": "Book", "intentScore": "not a number"}, False, False),
    ("LuisResult", {"intent": "None", "intentScore": 0.99}, True, False),
    ("QnAMessage", {"articleFound": False}, True, False),
    ("QnAMessage", {"articleFound": True}, False, False),
    ("QnaMessage", {"articleFound": False}, True, False),
    # A flag sent as text is read as ingest reads it, in any case.
    ("QnAMessage", {"articleFound": "False"}, True, False),
    ("QnAMessage", {"articleFound": "yes"}, False, False),
    ("BotMessageSend", {"activityType": "handoff"}, False, True),
    ("BotMessageReceived", {"activityType": "handoff"}, False, True),
    ("BotMessageSend", {"activityType": "message"}, False, False),
    ("TableBooked", {"activityType": "handoff", "intent": "None"}, False, False),
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    stream = Stream()
    for i, (name, properties, _, _) in enumerate(EVENTS):
        stream.event(f"v{i:02d}", i, name, **properties)
    with journey_engines(stream, tmp_path_factory.mktemp("vocabulary"), "vocabulary") as found:
        yield found


SQL = """SELECT conversation_id AS c, fallback AS f, escalation AS e,
    is_fallback(name, attributes) AS mf, is_escalation(name, attributes) AS me
FROM events ORDER BY conversation_id"""


def test_columns_and_macros_agree_on_both_engines(engines: tuple[Engine, Engine]) -> None:
    duckdb, clickhouse = engines
    rows = [tuple(bool(v) if i else v for i, v in enumerate(r)) for r in duckdb.query(SQL)]
    assert [
        tuple(bool(v) if i else v for i, v in enumerate(r)) for r in clickhouse.query(SQL)
    ] == rows
    expected = [(f"v{i:02d}", f, e, f, e) for i, (_, _, f, e) in enumerate(EVENTS)]
    assert rows == expected


def test_a_macro_takes_two_arguments() -> None:
    with pytest.raises(QueryError, match="takes an event's name and attributes"):
        compile_query("SELECT is_fallback(name) AS f FROM events", "duckdb", {})
