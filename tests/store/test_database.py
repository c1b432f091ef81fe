"""The store file: a store written by schema version 1 is upgraded on open, by a writer or
a reader; a newer one is refused; a folder means the store file inside it; an insert names
the columns that hold values; a large batch is several inserts in one transaction; JSON text
is compressed with zstd."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bot_telemetry.store import database
from bot_telemetry.store.database import (
    SCHEMA_VERSION,
    Store,
    StoreBusy,
    StoreError,
    json_text_type,
    store_file,
)
from bot_telemetry.store.location import open_engine
from bot_telemetry.store.rows import LOG_COLUMNS, Batch, metrics_batch
from tests.support.otlp_messages import metrics_request

# Schema version 1, as bot-telemetry 0.1.0 wrote it (the tables these tests need).
VERSION_1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE resources (
    resource_id VARCHAR PRIMARY KEY, service_name VARCHAR NOT NULL, attributes VARCHAR);
CREATE TABLE spans (
    trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL, parent_span_id VARCHAR,
    service_name VARCHAR NOT NULL, name VARCHAR NOT NULL, kind TINYINT NOT NULL,
    start_ns BIGINT NOT NULL, end_ns BIGINT NOT NULL, duration_ns BIGINT NOT NULL,
    status_code TINYINT NOT NULL, status_message VARCHAR, peer VARCHAR, conversation_id VARCHAR,
    attributes VARCHAR, links VARCHAR, resource_id VARCHAR, scope_name VARCHAR,
    PRIMARY KEY (trace_id, span_id));
CREATE TABLE span_events (
    trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL, seq INTEGER NOT NULL,
    time_ns BIGINT NOT NULL, name VARCHAR NOT NULL, attributes VARCHAR,
    PRIMARY KEY (trace_id, span_id, seq));
CREATE TABLE logs (
    record_id VARCHAR PRIMARY KEY, time_ns BIGINT NOT NULL, trace_id VARCHAR, span_id VARCHAR,
    service_name VARCHAR NOT NULL, severity_number INTEGER, severity_text VARCHAR, body VARCHAR,
    event_name VARCHAR, conversation_id VARCHAR, attributes VARCHAR, resource_id VARCHAR,
    scope_name VARCHAR);
CREATE TABLE metric_points (
    point_id VARCHAR PRIMARY KEY, metric_name VARCHAR NOT NULL, unit VARCHAR,
    service_name VARCHAR NOT NULL, time_ns BIGINT NOT NULL, value DOUBLE, count BIGINT,
    attributes VARCHAR);
INSERT INTO logs (record_id, time_ns, service_name, severity_number, attributes) VALUES
    ('a', 1, 'svc', 13, '{"event.name":"attr.event"}'),
    ('b', 2, 'svc', 9, '{}');
INSERT INTO metric_points VALUES
    ('p1', 'requests', NULL, 'svc', 1, 5.0, NULL, '{}'),
    ('p2', 'latency', 'ms', 'svc', 1, 61.5, 6, '{}');
"""


def version_1_store(path: Path) -> Path:
    connection = duckdb.connect(str(path))
    connection.execute(VERSION_1)
    connection.close()
    return path


def check_upgraded(store: Store) -> None:
    with store.reader() as db:
        assert db.execute("SELECT value FROM meta").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute(
            "SELECT record_id, event_name, severity_text FROM logs ORDER BY record_id"
        ).fetchall() == [("a", "attr.event", "WARN"), ("b", None, "INFO")]
        assert db.execute(
            "SELECT point_id, kind, bounds FROM metric_points WHERE point_id LIKE 'p%' ORDER BY 1"
        ).fetchall() == [("p1", "gauge", None), ("p2", "summary", None)]


def test_a_writer_upgrades_a_version_1_store_and_writes_the_new_columns(tmp_path: Path) -> None:
    store = Store.open(version_1_store(tmp_path / "old.duckdb"))
    check_upgraded(store)
    store.write(
        metrics_batch(
            metrics_request(
                [
                    {
                        "name": "h",
                        "kind": "histogram",
                        "points": [{"count": 1, "explicit_bounds": [1.0], "bucket_counts": [1, 0]}],
                    }
                ]
            )
        )
    )
    with store.reader() as db:
        assert db.execute(
            "SELECT bounds, bucket_counts FROM metric_points WHERE kind = 'histogram'"
        ).fetchall() == [([1.0], [1, 0])]
    store.close()
    # Opening again changes nothing.
    store = Store.open(tmp_path / "old.duckdb")
    check_upgraded(store)
    store.close()


def test_a_reader_upgrades_a_version_1_store_too(tmp_path: Path) -> None:
    store = Store.open(version_1_store(tmp_path / "old.duckdb"), read_only=True)
    assert store.read_only
    check_upgraded(store)
    store.close()


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path / "new.duckdb").close()
    connection = duckdb.connect(str(tmp_path / "new.duckdb"))
    connection.execute("UPDATE meta SET value = '99'")
    connection.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="newer bot-telemetry"):
            Store.open(tmp_path / "new.duckdb", read_only=read_only)


def test_the_folder_a_store_creates_is_its_users_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual one: a folder made with it is readable by all
    try:
        Store.open(tmp_path / "new" / "telemetry.duckdb").close()
        (tmp_path / "kept").mkdir()
        Store.open(tmp_path / "kept" / "telemetry.duckdb").close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o755  # one that exists


def test_a_folder_means_the_store_file_inside_it(tmp_path: Path) -> None:
    assert store_file(tmp_path) == tmp_path / "telemetry.duckdb"
    assert store_file(f"{tmp_path}/not-yet/") == tmp_path / "not-yet" / "telemetry.duckdb"
    assert store_file(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"
    store = Store.open(tmp_path)
    assert store.path == tmp_path / "telemetry.duckdb"
    store.close()
    Store.open(tmp_path, read_only=True).close()


def _log_rows(batch: Batch, rows: list[dict[str, Any]]) -> None:
    # Rows as a receiver makes them: every column of the table, None where a row has none.
    for row in rows:
        for name in LOG_COLUMNS:
            batch.logs[name].append(row.get(name))


def test_an_insert_names_only_the_columns_holding_a_value_and_keeps_rows_aligned(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "t.duckdb")
    first, second = Batch(), Batch()
    common = {"service_name": "svc", "attributes": "{}"}
    _log_rows(first, [{"record_id": "a", "time_ns": 1, "user_id": "u-1", **common}])
    _log_rows(
        second,
        [
            {"record_id": "b", "time_ns": 2, "locale": "fr", **common},
            {"record_id": "c", "time_ns": 3, "user_id": "u-3", "intent_score": 0.5, **common},
        ],
    )
    store.write(first)
    store.write(second)
    with store.reader() as db:
        rows = db.execute(
            "SELECT record_id, user_id, locale, intent_score, body FROM logs ORDER BY 1"
        ).fetchall()
    store.close()
    assert rows == [
        ("a", "u-1", None, None, None),
        ("b", None, "fr", None, None),
        ("c", "u-3", None, 0.5, None),
    ]


def test_a_missing_required_value_still_fails_the_insert(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.duckdb")
    batch = Batch()
    _log_rows(batch, [{"record_id": "a", "service_name": "svc"}])  # no time_ns
    with pytest.raises(duckdb.ConstraintException):
        store.write(batch)
    with store.reader() as db:
        assert db.execute("SELECT count(*) FROM logs").fetchone() == (0,)
    store.close()


def _numbered_logs(count: int, *, missing_time_at: int | None = None) -> Batch:
    batch = Batch()
    _log_rows(
        batch,
        [
            {
                "record_id": f"r{index:06d}",
                "time_ns": None if index == missing_time_at else index,
                "service_name": "svc",
                "attributes": f'{{"n":{index}}}',
            }
            for index in range(count)
        ],
    )
    return batch


# Small pieces, so a batch of a few rows is several inserts (the real size is ~4 MiB of text).
PIECE_BYTES = 64


def test_a_batch_is_cut_into_even_pieces_by_its_text() -> None:
    text: dict[str, list[Any]] = {"attributes": ["x" * 100] * 50, "body": [None] * 50}
    assert database._piece_rows(text, 50) == 50  # well under INSERT_PIECE_BYTES: one insert
    pieces = 1 + 5_000 // PIECE_BYTES
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(database, "INSERT_PIECE_BYTES", PIECE_BYTES)
        assert database._piece_rows(text, 50) == -(-50 // pieces)
        assert database._piece_rows({"attributes": [None] * 3}, 3) == 3


def test_a_batch_larger_than_one_insert_is_stored_whole_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "INSERT_PIECE_BYTES", PIECE_BYTES)
    count = 203  # about 30 pieces, the last one short
    store = Store.open(tmp_path / "t.duckdb")
    store.write(_numbered_logs(count))
    store.write(_numbered_logs(count))  # a retry: each piece skips the rows it holds
    with store.reader() as db:
        stored = db.execute(
            "SELECT count(*), count(DISTINCT record_id), min(time_ns), max(time_ns), "
            "sum(CAST(json_extract(attributes, '$.n') AS BIGINT)) FROM logs"
        ).fetchone()
    store.close()
    assert stored == (count, count, 0, count - 1, count * (count - 1) // 2)


def test_a_bad_row_in_a_later_insert_stores_nothing_of_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "INSERT_PIECE_BYTES", PIECE_BYTES)
    store = Store.open(tmp_path / "t.duckdb")
    bad = _numbered_logs(100, missing_time_at=95)  # in the last of about 15 pieces
    with pytest.raises(duckdb.ConstraintException):
        store.write(bad)
    store.write(_numbered_logs(2))  # the store goes on
    with store.reader() as db:
        assert db.execute("SELECT list(record_id ORDER BY 1) FROM logs").fetchone() == (
            ["r000000", "r000001"],
        )
    store.close()


def test_json_text_is_stored_with_zstd(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.duckdb")
    batch = Batch()
    attributes = '{"sunbird.edata.type":"session","sunbird.context.env":"webchat"}'
    _log_rows(
        batch,
        [
            {"record_id": f"r{i}", "time_ns": i, "service_name": "svc", "attributes": attributes}
            for i in range(5000)
        ],
    )
    store.write(batch)
    with store.reader() as db:
        db.execute("CHECKPOINT")
        methods = db.execute(
            "SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info('logs') "
            "WHERE column_name IN ('attributes', 'record_id') AND segment_type = 'VARCHAR' "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    store.close()
    assert methods[0][0] == "attributes" and methods[0][1] == ["ZSTD"]
    assert methods[1][0] == "record_id" and "ZSTD" not in methods[1][1]


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ("latest", "VARCHAR USING COMPRESSION zstd"),
        ("v1.2.0", "VARCHAR USING COMPRESSION zstd"),
        # DuckDB 1.x's default: there zstd would leave the column uncompressed (1.2-1.4) or
        # be refused (1.1).
        ("v0.10.2", "VARCHAR"),
    ],
)
def test_json_text_uses_zstd_only_where_the_file_s_format_has_it(
    tmp_path: Path, storage: str, expected: str
) -> None:
    db = duckdb.connect(
        str(tmp_path / "t.duckdb"), config={"storage_compatibility_version": storage}
    )
    assert json_text_type(db) == expected
    # A store made in that format works either way.
    db.execute(f"CREATE TABLE logs (attributes {json_text_type(db)})")
    db.execute("INSERT INTO logs SELECT '{\"a\":' || i || '}' FROM range(3000) r(i)")
    db.execute("CHECKPOINT")
    assert db.execute("SELECT count(*) FROM logs").fetchone() == (3000,)
    db.close()


def test_a_store_open_for_writing_in_this_process_is_refused_saying_what_to_do(
    tmp_path: Path,
) -> None:
    """A notebook running a CollectorThread (which holds the store for writing) and then
    opening the store to analyse it got DuckDB's "Can't open a connection to same database
    file with a different configuration than existing connections"."""
    writing = Store.open(tmp_path / "telemetry.duckdb")
    try:
        with pytest.raises(StoreError) as refused:
            open_engine(tmp_path / "telemetry.duckdb")
        message = str(refused.value)
        assert "is open for writing in this process" in message, message
        assert "POST /analytics/query" in message and "stop it first" in message, message
    finally:
        writing.close()
    reading = open_engine(tmp_path / "telemetry.duckdb")  # once closed, it opens
    try:
        with pytest.raises(StoreError, match="is open for reading in this process"):
            Store.open(tmp_path / "telemetry.duckdb")
    finally:
        reading.close()


def test_a_store_another_process_holds_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    """A notebook opening the store of a running `bot-telemetry serve` (make demo) got "the
    store ... is in use by process N" and no way on."""
    path = tmp_path / "telemetry.duckdb"
    Store.open(path).close()
    hold = "import sys; from bot_telemetry.store.database import Store; "
    hold += "store = Store.open(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(StoreBusy) as reading:
            open_engine(path)
        held = f"the store {path} is in use by process {holder.pid}"
        assert reading.value.held == held  # what the CLI says before finding the server
        assert str(reading.value).startswith(f"{held}: the `bot-telemetry serve` holding it")
        assert "POST /analytics/query" in str(reading.value), reading.value
        with pytest.raises(StoreBusy) as writing:
            Store.open(path)
        assert str(writing.value) == f"{held}: stop that process, or use another store"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
