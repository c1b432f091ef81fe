"""The single writer: a failed group commit never fails a batch that is valid on its own."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from bot_telemetry.store.database import Store, Written
from bot_telemetry.store.rows import Batch, spans_batch
from bot_telemetry.store.writer import LINGER_ROWS, StoreWriter
from tests.support.otlp_messages import spans_request


class GatedStore(Store):
    """A real store whose first write waits for the test to open the gate, so the batches
    submitted meanwhile queue up and are written as one group."""

    gate = threading.Event()
    entered = threading.Event()

    def write(self, batch: Batch) -> Written:
        self.entered.set()
        self.gate.wait(10)
        return super().write(batch)


def unstorable() -> Batch:
    """A batch the store refuses: rows that skipped validation (a kind its column cannot hold)."""
    batch = spans_batch(spans_request([{"name": "bad"}]))
    batch.spans["kind"][0] = 1000
    return batch


def test_a_bad_batch_in_a_group_fails_alone(tmp_path: Path) -> None:
    GatedStore.gate, GatedStore.entered = threading.Event(), threading.Event()
    store = GatedStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    try:
        first = writer.submit(spans_batch(spans_request([{"name": "first"}])))
        assert GatedStore.entered.wait(10)
        grouped: list[Future[Written]] = [
            writer.submit(spans_batch(spans_request([{"name": f"good {i}"}, {"name": "x"}])))
            for i in range(3)
        ]
        bad = writer.submit(unstorable())
        grouped.append(writer.submit(spans_batch(spans_request([{"name": "after"}]))))
        GatedStore.gate.set()
        assert first.result(10) == Written(1, 0, 0)
        assert [f.result(10).spans for f in grouped] == [2, 2, 2, 1]
        with pytest.raises(Exception, match="1000"):
            bad.result(10)
    finally:
        writer.close()
    with store.reader() as db:
        names = sorted(row[0] for row in db.execute("SELECT name FROM spans").fetchall())
    assert names == ["after", "first", "good 0", "good 1", "good 2", "x", "x", "x"]
    store.close()


class RecordingStore(Store):
    """A real store that notes how many spans each transaction held."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.groups: list[int] = []

    def write(self, batch: Batch) -> Written:
        written = super().write(batch)
        self.groups.append(batch.span_count)
        return written


def named(name: str, count: int = 1) -> Batch:
    return spans_batch(spans_request([{"name": name}] * count))


def test_announced_batches_are_gathered_into_one_transaction(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    # A long linger: the writer must wait for the announced batch however slow this thread.
    writer = StoreWriter(store, linger_seconds=60)
    try:
        with writer.coming():
            with writer.coming():
                first = writer.submit(named("first"))
            assert not first.done()  # another batch is announced: the group waits for it
            second = writer.submit(named("second", 2))
        assert first.result(30) == Written(1, 0, 0) and second.result(30) == Written(2, 0, 0)
    finally:
        writer.close()
    assert store.groups == [3]
    store.close()


def test_nothing_announced_commits_at_once(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store, linger_seconds=60)
    try:
        # Far sooner than the linger: with nothing announced the writer does not wait.
        assert writer.submit(named("alone")).result(30) == Written(1, 0, 0)
        with writer.coming():
            pass  # announced, then given up (a bundle refused whole): no wait for it
        assert writer.submit(named("next")).result(30) == Written(1, 0, 0)
    finally:
        writer.close()
    assert store.groups == [1, 1]
    store.close()


def test_the_linger_is_bounded(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store, linger_seconds=0.05)
    try:
        with writer.coming():  # announced, never submitted while the writer waits
            assert writer.submit(named("waited")).result(30) == Written(1, 0, 0)
    finally:
        writer.close()
    assert store.groups == [1]
    store.close()


def test_a_group_big_enough_does_not_wait(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store, linger_seconds=60)
    try:
        with writer.coming(), writer.coming():
            assert writer.submit(named("big", LINGER_ROWS)).result(30).spans == LINGER_ROWS
    finally:
        writer.close()
    assert store.groups == [LINGER_ROWS]
    store.close()
