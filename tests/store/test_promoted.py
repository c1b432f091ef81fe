"""Promoted columns: a turn's and an event's vocabulary (and the trace key, the span and parent
numbers, a result's recognizer) kept in columns at ingest; a store written before them (schema
2, 3 or 4) gets them, filled from its rows, when opened, and reads the same."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import duckdb

from bot_telemetry import contract
from bot_telemetry.analytics import appmap
from bot_telemetry.store.database import SCHEMA_VERSION, Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.rows import promoted_values
from tests.support.measure_traffic import planned_store

EVERY_TURN = "SELECT * EXCLUDE (span_id) FROM turns ORDER BY trace_id, start_ns"
EVERY_EVENT = "SELECT * FROM events ORDER BY time_ns, name, span_id"


def test_values_are_the_first_present_as_their_column_wants() -> None:
    promoted = contract.PROMOTED_EVENT_PROPERTIES
    values = dict(
        zip(
            promoted,
            promoted_values(
                {
                    "enduser.pseudo.id": "",  # empty: the next key answers
                    "fromId": "u-7",
                    "intent": "Book",
                    "intentScore": "0.93",
                    "articleFound": "False",
                    "locale": 3,
                },
                promoted,
            ),
            strict=True,
        )
    )
    assert values["user_id"] == "u-7"
    assert values["intent"] == "Book"
    assert values["intent_score"] == 0.93
    assert values["article_found"] is False
    assert values["locale"] == "3"
    assert values["session_id"] is None and values["dialog_id"] is None
    flags = promoted_values({"articleFound": True, "intentScore": "high"}, promoted)
    found = dict(zip(promoted, flags, strict=True))
    assert found["article_found"] is True and found["intent_score"] is None


def _without_recognizers(path: Path, *, keep_property: bool = True) -> None:
    """Make the store what schema version 4 wrote: no recognizer column; and, unless
    ``keep_property``, results recorded before the ``recognizer`` property existed."""
    db = duckdb.connect(str(path))
    db.execute("ALTER TABLE logs DROP COLUMN recognizer")
    if not keep_property:
        db.execute("UPDATE logs SET attributes = json_remove(attributes, '$.recognizer')")
    db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.close()


def _without_span_numbers(path: Path) -> None:
    """Make the store what schema version 3 wrote: no span and parent numbers."""
    _without_recognizers(path)
    db = duckdb.connect(str(path))
    db.execute("ALTER TABLE spans DROP COLUMN span_number")
    db.execute("ALTER TABLE spans DROP COLUMN parent_number")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.close()


def _without_promoted_columns(path: Path) -> None:
    """Make the store what schema version 2 wrote: no promoted columns, no trace key."""
    _without_span_numbers(path)
    db = duckdb.connect(str(path))
    for table, promoted in (
        ("spans", contract.PROMOTED_SPAN_ATTRIBUTES),
        ("logs", contract.PROMOTED_EVENT_PROPERTIES),
    ):
        for column in (*promoted, "trace_key"):
            if column == "recognizer":  # already gone: schema 4's
                continue
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()


def test_an_older_store_is_upgraded_and_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    planned_store(path)
    with closing(Store.open(path, read_only=True)) as current:
        engine = DuckDBEngine(current)
        turns, events = engine.query(EVERY_TURN).rows, engine.query(EVERY_EVENT).rows
    assert sum(1 for row in events if row[14] is not None) > 100  # intent_score
    assert all(row[-1] is not None for row in turns)  # trace_key
    _without_promoted_columns(path)

    with closing(Store.open(path, read_only=True)) as upgraded:  # upgraded on the way
        engine = DuckDBEngine(upgraded)
        assert engine.query(EVERY_TURN).rows == turns
        assert engine.query(EVERY_EVENT).rows == events
        with upgraded.reader() as db:
            version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (SCHEMA_VERSION,)


def test_a_version_3_store_gets_span_numbers_and_draws_the_same_app_map(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    planned_store(path)
    with closing(Store.open(path, read_only=True)) as current:
        engine = DuckDBEngine(current)
        drawn = appmap.build_app_map(engine)
        with current.reader() as db:
            numbers = db.execute(
                "SELECT span_id, parent_span_id, span_number, parent_number FROM spans"
            ).fetchall()
    assert drawn["edges"]  # calls paired on the numbers
    assert all(number == int(span_id, 16) for span_id, _, number, _ in numbers)
    assert all(
        (parent is None and number is None) or number == int(parent, 16)
        for _, parent, _, number in numbers
    )
    assert any(parent is not None for _, parent, _, _ in numbers)
    _without_span_numbers(path)

    with closing(Store.open(path, read_only=True)) as upgraded:
        assert appmap.build_app_map(DuckDBEngine(upgraded)) == drawn
        with upgraded.reader() as db:
            assert (
                db.execute(
                    "SELECT span_id, parent_span_id, span_number, parent_number FROM spans"
                ).fetchall()
                == numbers
            )


def test_a_version_4_store_gets_each_results_recognizer(tmp_path: Path) -> None:
    """Results recorded before the property existed take the recognizer they were recorded
    on (TelemetryRecognizer's span: its peer), as the property would have said."""
    path = tmp_path / "store.duckdb"
    planned_store(path)
    with closing(Store.open(path, read_only=True)) as current:
        events = DuckDBEngine(current).query(EVERY_EVENT).rows
    recognized = [row for row in events if row[13] is not None]  # intent
    assert recognized and all(row[18] == "nlu" for row in recognized)  # recognizer
    assert all(row[18] is None for row in events if row[13] is None)
    _without_recognizers(path, keep_property=False)

    with closing(Store.open(path, read_only=True)) as upgraded:
        again = DuckDBEngine(upgraded).query(EVERY_EVENT).rows
    # The same rows, but each result's attributes: the property was taken out above.
    assert [row[:18] + row[20:] for row in again] == [row[:18] + row[20:] for row in events]
    assert [row[18] for row in again] == [row[18] for row in events]
