"""The store file: idempotent writes, retention, group commit and clear errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot_telemetry.store.database import Store, StoreError
from bot_telemetry.store.rows import Batch, spans_batch
from bot_telemetry.store.writer import StoreWriter


def batch_of(count: int, start_ns: int | None = None) -> Batch:
    provider = TracerProvider(resource=Resource.create({"service.name": "bot"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for index in range(count):
        tracer.start_span(f"span {index}", start_time=start_ns).end(
            end_time=None if start_ns is None else start_ns + 1000
        )
    return spans_batch(encode_spans(memory.get_finished_spans()))


def test_writes_are_idempotent_and_grouped(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    batches = [batch_of(20) for _ in range(10)]
    futures = [writer.submit(b) for b in batches] + [writer.submit(batches[0])]
    assert [f.result(10).spans for f in futures] == [20] * 11
    writer.close()
    assert store.counts()["spans"] == 200
    assert store.counts()["resources"] == 1
    store.close()


def test_retention_drops_old_telemetry(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    old = time.time_ns() - 10 * 86400 * 10**9
    store.write(batch_of(5, start_ns=old))
    store.write(batch_of(3))
    writer = StoreWriter(store, retention_seconds=7 * 86400)
    deadline = time.monotonic() + 10
    while store.counts()["spans"] != 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.close()
    assert store.counts()["spans"] == 3
    store.close()


def test_clear_errors_for_a_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no store at .*bot-telemetry serve"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)
    import duckdb

    duckdb.connect(str(tmp_path / "other.duckdb")).close()
    with pytest.raises(StoreError, match="not a bot-telemetry store"):
        Store.open(tmp_path / "other.duckdb", read_only=True)
    read_only = Store.open(tmp_path / "s.duckdb")
    read_only.close()
    opened = Store.open(tmp_path / "s.duckdb", read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        opened.write(batch_of(1))
    opened.close()


def test_a_duckdb_file_of_someone_elses_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(path)) as theirs:
        theirs.execute("CREATE TABLE spans (x INTEGER)")
    with pytest.raises(StoreError, match=r"not a bot-telemetry store: it holds other tables"):
        Store.open(path)
    with duckdb.connect(str(path), read_only=True) as theirs:
        tables = theirs.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("spans",)]  # nothing of ours was added


def test_the_collector_and_cli_do_not_import_botbuilder() -> None:
    import subprocess
    import sys

    from tests.support.processes import REPO

    code = (
        "import sys, bot_telemetry.cli, bot_telemetry.web, "
        "bot_telemetry.cli.access, bot_telemetry.analytics.conversations; "
        "print(sorted(m for m in sys.modules if m.startswith('botbuilder')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_a_batch_overlapping_stored_rows_adds_only_the_new_ones(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    stored, new = batch_of(4), batch_of(3)
    store.write(stored)
    overlapping = Batch()
    overlapping.extend(new)
    overlapping.extend(stored)
    assert store.write(overlapping).spans == 7
    assert store.counts()["spans"] == 7
    store.close()
