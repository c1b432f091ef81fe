"""The store file: a store written by schema version 1 is upgraded on open, by a writer or
a reader; a newer one is refused; a folder means the store file inside it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from bot_telemetry.store.database import SCHEMA_VERSION, Store, StoreError, store_file
from bot_telemetry.store.rows import metrics_batch
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


def test_a_folder_means_the_store_file_inside_it(tmp_path: Path) -> None:
    assert store_file(tmp_path) == tmp_path / "telemetry.duckdb"
    assert store_file(f"{tmp_path}/not-yet/") == tmp_path / "not-yet" / "telemetry.duckdb"
    assert store_file(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"
    store = Store.open(tmp_path)
    assert store.path == tmp_path / "telemetry.duckdb"
    store.close()
    Store.open(tmp_path, read_only=True).close()
