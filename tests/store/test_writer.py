"""The single writer: a failed group commit never fails a batch that is valid on its own."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from bot_telemetry.store.database import Store, Written
from bot_telemetry.store.rows import Batch, spans_batch
from bot_telemetry.store.writer import StoreWriter
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
