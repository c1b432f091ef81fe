"""The store's single writer: a thread that commits batches and applies retention.

Requests hand their rows to ``submit`` and await the returned future; it resolves only
once the rows are committed, which is when the receiver acknowledges the export. Batches
waiting together are written in one transaction (group commit), so many small exports cost
one commit, and DuckDB work never runs on the server's event loop. When a group's
transaction fails, each batch in it is written again on its own: only a batch that fails
alone is refused, and the good exports grouped with it are stored and acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from .database import Store, Written
from .rows import Batch

_log = logging.getLogger(__name__)

# How many rows one transaction may gather from waiting batches.
GROUP_ROWS = 20_000


class WriterBusy(Exception):
    """Too many batches are waiting; the caller should answer 503 and let the sender retry."""


@dataclass
class _Job:
    batch: Batch
    future: Future[Written]


def _written(batch: Batch) -> Written:
    return Written(batch.span_count, batch.log_count, batch.point_count)


class StoreWriter:
    """Owns all writes to one store. ``retention_seconds`` of 0 keeps everything."""

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = 256,
        retention_seconds: float = 0,
        retention_every: float = 300.0,
    ):
        self.store = store
        self.retention_seconds = retention_seconds
        self.retention_every = retention_every
        self._jobs: queue.Queue[_Job | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="bot-telemetry-writer", daemon=True)
        self._next_retention = 0.0
        # Forwarding hook (PostHog): called on the writer thread with each committed batch;
        # it must only hand the rows on (a queue put), never wait.
        self.on_written: Callable[[Batch], None] | None = None
        self._thread.start()

    def submit(self, batch: Batch) -> Future[Written]:
        future: Future[Written] = Future()
        try:
            self._jobs.put_nowait(_Job(batch, future))
        except queue.Full as error:
            raise WriterBusy("the store is busy writing earlier batches; retry shortly") from error
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            self._apply_retention()
            try:
                first = self._jobs.get(timeout=1.0)
            except queue.Empty:
                continue
            if first is None:
                break
            jobs = [first]
            rows = first.batch.span_count + first.batch.log_count + first.batch.point_count
            while rows < GROUP_ROWS:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
                rows += job.batch.span_count + job.batch.log_count + job.batch.point_count
            self._write(jobs)

    def _write(self, jobs: list[_Job]) -> None:
        if len(jobs) == 1:
            self._write_alone(jobs[0])
            return
        merged = Batch()
        for job in jobs:
            merged.extend(job.batch)
        try:
            self.store.write(merged)
        except Exception as error:
            # The transaction rolled back; find the culprit by writing each batch alone.
            _log.warning(
                "a group of %d batches could not be written to %s (%s); writing each alone",
                len(jobs),
                self.store.path,
                error,
            )
            for job in jobs:
                self._write_alone(job)
            return
        for job in jobs:
            job.future.set_result(_written(job.batch))
        self._hand_on(merged)

    def _write_alone(self, job: _Job) -> None:
        try:
            self.store.write(job.batch)
        except Exception as error:
            _log.exception("could not write a batch to %s", self.store.path)
            job.future.set_exception(error)
            return
        job.future.set_result(_written(job.batch))
        self._hand_on(job.batch)

    def _hand_on(self, written: Batch) -> None:
        # The forwarding hook: committed rows handed on; its failure never fails a write.
        if self.on_written is not None:
            try:
                self.on_written(written)
            except Exception:
                _log.exception("could not hand written rows to the forwarder")

    def _apply_retention(self) -> None:
        if self.retention_seconds <= 0 or time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + self.retention_every
        cutoff = time.time_ns() - int(self.retention_seconds * 1e9)
        try:
            dropped = self.store.delete_older_than(cutoff)
        except Exception:
            _log.exception("retention pass failed on %s", self.store.path)
            return
        if dropped:
            _log.info("retention dropped %d spans older than %ds", dropped, self.retention_seconds)
