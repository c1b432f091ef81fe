"""The store's single writer: a thread that commits batches and applies retention.

Requests hand their rows to ``submit`` and await the returned future; it resolves only
once the rows are committed, which is when the OTLP receiver acknowledges the export. Batches
waiting together are written in one transaction (group commit), so many small exports cost
one commit, and DuckDB work never runs on the server's event loop. When a group's
transaction fails, each batch in it is written again on its own: only a batch that fails
alone is refused, and the good exports grouped with it are stored and acknowledged. Rows a
store refuses one by one while it takes the others (ClickHouse: ``Written.refused``) are
rejected in the batch they came from (``Batch.reject``), which the receiver answers with
partial success.

A transaction has a fixed cost (~3 ms of CPU in DuckDB, whatever its size), so small batches
are worth gathering: a batch submitted with a ``linger`` lets its group wait that long for more
batches while the group is under ``enough`` rows, then commits them together. A browser's
bundle whose answer waits for the commit lingers ``LINGER_SECONDS``; one the receipt journal
already keeps (``receive/journal.py``) is answered at once and lingers ``DEFER_SECONDS``, so
its group holds thousands of rows. ``flush()`` commits whatever lingers now (readers call it
first, so what was answered is what they read). OTLP exports never wait. A lingering group's
thread is woken only by a batch that cannot wait for its deadline, or by enough rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from .database import Refused, Written
from .rows import Batch

_log = logging.getLogger(__name__)

# How many rows one transaction may gather from waiting batches.
GROUP_ROWS = 20_000
#: How long a small group of gathering batches waits for more, and the size past which it no
#: longer waits: the fixed cost of a transaction is already spread thinly.
LINGER_SECONDS = 0.005
LINGER_ROWS = 2_000
#: The same for batches whose answer does not wait for the commit (kept by the journal).
DEFER_SECONDS = 0.5
DEFER_ROWS = 10_000


class Sink(Protocol):
    """Where a writer commits: the DuckDB ``Store``, or ClickHouse (``clickhouse_ingest``)."""

    @property
    def path(self) -> Any:
        """Where the rows go, for messages."""

    def write(self, batch: Batch) -> Written:
        """Store a batch (one transaction where the store has them)."""

    def delete_older_than(self, cutoff_ns: int) -> int:
        """Retention: drop what started before ``cutoff_ns``; returns spans dropped."""


class WriterBusy(Exception):
    """Too many batches are waiting; the caller should answer 503 and let the sender retry."""


@dataclass
class _Job:
    batch: Batch
    future: Future[Written]
    linger: float = 0.0
    enough: int = 0


@dataclass(frozen=True)
class _Wait:
    """What the writer's thread waits for: its group's deadline, the rows that would be
    enough for it, and the rows it holds."""

    until: float
    enough: int
    rows: int


def _written(batch: Batch) -> Written:
    return Written(batch.span_count, batch.log_count, batch.point_count)


def _rows(batch: Batch) -> int:
    return batch.span_count + batch.log_count + batch.point_count


_ROW_KINDS = ("spans", "logs", "points")


def _by_job(jobs: list[_Job], refused: tuple[Refused, ...]) -> list[list[Refused]]:
    """The rows refused in a group's merged batch, each given to the job it came from (the
    merged batch holds the jobs' rows in their order), at its index in that job's batch."""
    found: list[list[Refused]] = [[] for _ in jobs]
    for row in refused:
        index = row.index
        for position, job in enumerate(jobs):
            count = {"spans": job.batch.span_count, "logs": job.batch.log_count}.get(
                row.rows, job.batch.point_count
            )
            if index < count:
                found[position].append(Refused(row.rows, index, row.reason))
                break
            index -= count
    return found


class StoreWriter:
    """Owns all writes to one store. ``retention_seconds`` of 0 keeps everything."""

    def __init__(
        self,
        store: Sink,
        *,
        max_pending: int = 256,
        max_waiting_rows: int = 100_000,
        retention_seconds: float = 0,
        retention_every: float = 300.0,
    ):
        self.store = store
        self.retention_seconds = retention_seconds
        self.retention_every = retention_every
        self.max_pending = max_pending
        # Lingering batches are counted in rows: thousands of small ones wait while a large
        # group commits, and what bounds their memory is their rows.
        self.max_waiting_rows = max_waiting_rows
        #: Rows submitted and not yet committed (or failed): readers flush when there are any.
        self.waiting_rows = 0
        # Batches waiting (None: stop).
        self._jobs: deque[_Job | None] = deque()
        self._changed = threading.Condition(threading.Lock())
        # While the thread waits: until when, and what would end its wait sooner (see
        # _must_wake). None while it works: it looks at the queue before it waits again.
        self._asleep: _Wait | None = None
        self._queued_rows = 0
        self._thread = threading.Thread(target=self._run, name="bot-telemetry-writer", daemon=True)
        self._next_retention = 0.0
        # Forwarding hook (PostHog): called on the writer thread with each committed batch;
        # it must only hand the rows on (a queue put), never wait.
        self.on_written: Callable[[Batch], None] | None = None
        self._thread.start()

    def submit(
        self, batch: Batch, *, linger: float = 0.0, enough: int = LINGER_ROWS
    ) -> Future[Written]:
        """Queue ``batch``; the future resolves once it is committed. ``linger``: seconds its
        group may wait for other batches to share its commit, while under ``enough`` rows."""
        future: Future[Written] = Future()
        rows = _rows(batch)
        with self._changed:
            if (
                self.waiting_rows + rows > self.max_waiting_rows and self.waiting_rows
                if linger > 0
                else len(self._jobs) >= self.max_pending
            ):
                raise WriterBusy("the store is busy writing earlier batches; retry shortly")
            self._jobs.append(_Job(batch, future, linger, enough))
            self.waiting_rows += rows
            self._queued_rows += rows
            if self._must_wake(linger, enough):
                self._changed.notify()
        return future

    def _must_wake(self, linger: float, enough: int) -> bool:
        # Called holding the lock, after queueing a batch. A thread lingering over a group
        # wakes at its deadline anyway and then takes every queued batch: waking it for each
        # bundle cost a thread switch a bundle. It is woken when the new batch must not wait
        # that long, or when the rows now waiting are enough for the group.
        asleep = self._asleep
        if asleep is None:
            return False
        if linger <= 0 or time.monotonic() + linger < asleep.until:
            return True
        return asleep.rows + self._queued_rows >= min(asleep.enough, enough)

    def flush(self) -> Future[Written]:
        """Commit what is waiting now, lingering or not; the future resolves once it is.
        Never refused: it adds no rows."""
        future: Future[Written] = Future()
        with self._changed:
            self._jobs.append(_Job(Batch(), future))
            self._changed.notify()
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._changed:
            self._jobs.append(None)
            self._changed.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            self._apply_retention()
            jobs: list[_Job] = []
            rows = 0
            # The group commits at the earliest of its batches' deadlines, or once it holds
            # the fewest rows any of them is content with.
            deadline = float("inf")
            enough = GROUP_ROWS
            with self._changed:
                if not self._jobs:
                    self._asleep = _Wait(float("inf"), 0, 0)
                    self._changed.wait(1.0)
                    self._asleep = None
                while not stopping and rows < GROUP_ROWS:
                    if self._jobs:
                        job = self._jobs.popleft()
                        if job is None:
                            stopping = True
                            break
                        job_rows = _rows(job.batch)
                        self._queued_rows -= job_rows
                        # From here on its future can no longer be cancelled. One that was
                        # (its request cancelled: a client's deadline, a server stopping) is
                        # not written: it was never acknowledged, and the client sends it
                        # again. Setting a result on it would raise and end this thread.
                        if not job.future.set_running_or_notify_cancel():
                            self.waiting_rows -= job_rows
                            continue
                        jobs.append(job)
                        rows += job_rows
                        deadline = min(deadline, time.monotonic() + job.linger)
                        enough = min(enough, job.enough if job.linger > 0 else 0)
                        continue
                    # Nothing waiting: a small group of lingering batches waits for more.
                    now = time.monotonic()
                    if not jobs or rows >= enough or now >= deadline:
                        break
                    self._asleep = _Wait(deadline, enough, rows)
                    self._changed.wait(deadline - now)
                    self._asleep = None
            if jobs:
                self._write(jobs)

    def _write(self, jobs: list[_Job]) -> None:
        if len(jobs) == 1:
            self._write_alone(jobs[0])
            return
        merged = Batch()
        for job in jobs:
            merged.extend(job.batch)
        try:
            written = self.store.write(merged)
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
        refused = _by_job(jobs, written.refused)
        for job, own in zip(jobs, refused, strict=True):
            self._settle(job, refused=own)
        self._hand_on(merged, written.refused)

    def _write_alone(self, job: _Job) -> None:
        try:
            written = self.store.write(job.batch)
        except Exception as error:
            _log.exception("could not write a batch to %s", self.store.path)
            self._settle(job, error)
            return
        self._settle(job, refused=list(written.refused))
        self._hand_on(job.batch, written.refused)

    def _settle(
        self, job: _Job, error: Exception | None = None, refused: list[Refused] | None = None
    ) -> None:
        # Counted out before the future resolves: whoever waited on it sees the count without it.
        with self._changed:
            self.waiting_rows -= _rows(job.batch)
        if error is not None:
            job.future.set_exception(error)
            return
        written = _written(job.batch)
        for row in refused or ():
            job.batch.reject(row.reason)
        if refused:
            lost = {kind: sum(1 for row in refused if row.rows == kind) for kind in _ROW_KINDS}
            written = Written(
                written.spans - lost["spans"],
                written.logs - lost["logs"],
                written.points - lost["points"],
                tuple(refused),
            )
        job.future.set_result(written)

    def _hand_on(self, written: Batch, refused: tuple[Refused, ...] = ()) -> None:
        # The forwarding hook: committed rows handed on (not those the store refused: their
        # sender was told they are lost); its failure never fails a write.
        if self.on_written is not None:
            try:
                if refused:
                    gone = {
                        kind: [row.index for row in refused if row.rows == kind]
                        for kind in _ROW_KINDS
                    }
                    written = written.without(**gone)
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
