"""The single writer: a failed group commit never fails a batch that is valid on its own."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from bot_telemetry.store.database import Store, Written
from bot_telemetry.store.rows import Batch, spans_batch
from bot_telemetry.store.writer import LINGER_ROWS, StoreWriter, WriterBusy
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


def gated_store(tmp_path: Path) -> GatedStore:
    """A new gated store, its gate closed."""
    GatedStore.gate, GatedStore.entered = threading.Event(), threading.Event()
    return GatedStore.open(tmp_path / "s.duckdb")


def unstorable() -> Batch:
    """A batch the store refuses: rows that skipped validation (a kind its column cannot hold)."""
    batch = spans_batch(spans_request([{"name": "bad"}]))
    batch.spans["kind"][0] = 1000
    return batch


def test_a_bad_batch_in_a_group_fails_alone(tmp_path: Path) -> None:
    store = gated_store(tmp_path)
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


def test_gathering_batches_wait_for_others_to_share_their_commit(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    # A long linger: the small group waits until the group is big enough, however slow this
    # thread is to submit the next batch.
    writer = StoreWriter(store)
    try:
        first = writer.submit(named("first"), linger=60)
        second = writer.submit(named("second", 2), linger=60)
        assert lingering(writer) and not first.done() and not second.done()
        third = writer.submit(named("third", LINGER_ROWS))
        assert first.result(30) == Written(1, 0, 0) and second.result(30) == Written(2, 0, 0)
        assert third.result(30).spans == LINGER_ROWS
    finally:
        writer.close()
    assert store.groups == [3 + LINGER_ROWS]
    store.close()


def test_other_batches_never_wait(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    try:
        # Far sooner than the linger: a batch that does not gather is committed at once.
        assert writer.submit(named("alone")).result(30) == Written(1, 0, 0)
        assert writer.submit(named("next", 2)).result(30) == Written(2, 0, 0)
    finally:
        writer.close()
    assert store.groups == [1, 2]
    store.close()


def test_the_linger_is_bounded(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    try:
        assert writer.submit(named("waited"), linger=0.05).result(30) == Written(1, 0, 0)
    finally:
        writer.close()
    assert store.groups == [1]
    store.close()


def lingering(writer: StoreWriter) -> bool:
    """Whether the writer's thread comes to wait over a group (its deadline set), within 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with writer._changed:
            asleep = writer._asleep
            if asleep is not None and asleep.until != float("inf"):
                return True
            writer._changed.wait(0.01)
    return False


def test_a_batch_with_a_shorter_linger_ends_the_groups_wait(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    try:
        # The writer is not woken for every lingering batch (it takes them at its deadline),
        # but one that may wait less than the group's deadline wakes it.
        patient = writer.submit(named("patient"), linger=60, enough=10_000)
        assert lingering(writer)
        assert not patient.done()
        hurried = writer.submit(named("hurried", 2), linger=0.05, enough=10_000)
        assert hurried.result(30) == Written(2, 0, 0)
        assert patient.result(0) == Written(1, 0, 0)
    finally:
        writer.close()
    assert store.groups == [3]
    store.close()


def test_closing_commits_a_waiting_group(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    waiting = writer.submit(named("waiting"), linger=60)
    writer.close()
    assert waiting.result(0) == Written(1, 0, 0)
    assert store.groups == [1]
    store.close()


def test_a_group_waits_only_until_it_holds_enough_rows(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    try:
        first = writer.submit(named("first", 2), linger=60, enough=5)
        assert lingering(writer) and not first.done()
        second = writer.submit(named("second", 3), linger=60, enough=100)
        assert first.result(30) == Written(2, 0, 0) and second.result(30) == Written(3, 0, 0)
    finally:
        writer.close()
    assert store.groups == [5]
    store.close()


def test_flush_commits_a_lingering_group_at_once(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    try:
        lingering = writer.submit(named("lingering", 2), linger=60, enough=10_000)
        assert writer.waiting_rows == 2 and not lingering.done()
        writer.flush().result(30)
        assert lingering.result(0) == Written(2, 0, 0)
        assert writer.waiting_rows == 0
        with store.reader() as db:
            assert db.execute("SELECT count(*) FROM spans").fetchone() == (2,)
    finally:
        writer.close()
    assert store.groups == [2]
    store.close()


def test_lingering_batches_are_bounded_by_their_rows_not_their_count(tmp_path: Path) -> None:
    store = RecordingStore.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store, max_pending=2, max_waiting_rows=10)
    try:
        # Far more than max_pending small batches may linger while their rows are few.
        waiting = [writer.submit(named(f"b{index}"), linger=60, enough=1_000) for index in range(9)]
        with pytest.raises(WriterBusy, match="busy"):
            writer.submit(named("too many", 2), linger=60, enough=1_000)
        writer.flush().result(30)
        assert [future.result(0) for future in waiting] == [Written(1, 0, 0)] * 9
    finally:
        writer.close()
    store.close()


def test_a_cancelled_batch_is_not_written_and_the_writer_goes_on(tmp_path: Path) -> None:
    store = gated_store(tmp_path)
    writer = StoreWriter(store)
    try:
        first = writer.submit(spans_batch(spans_request([{"name": "first"}])))
        assert GatedStore.entered.wait(10)
        # Taken by the thread: too late to cancel, it is answered.
        assert not first.cancel()
        # Still queued: its request went away (a deadline, a server stopping).
        cancelled = writer.submit(spans_batch(spans_request([{"name": "cancelled"}])))
        assert cancelled.cancel()
        after = writer.submit(spans_batch(spans_request([{"name": "after"}])))
        GatedStore.gate.set()
        assert first.result(10) == Written(1, 0, 0)
        assert after.result(10) == Written(1, 0, 0)
        assert writer.flush().result(10) == Written(0, 0, 0)
        assert writer.waiting_rows == 0
    finally:
        writer.close()
    with store.reader() as db:
        names = sorted(row[0] for row in db.execute("SELECT name FROM spans").fetchall())
    assert names == ["after", "first"]
    store.close()
