"""Bounded, batching export off the caller's thread, with exact accounting of what is lost.

The SDK's batch processors would do the batching, but they log a line for every item
dropped from a full queue and count drops only in opt-in internal metrics. A bot whose
backend is down needs the opposite: the turn pays one lock and an append, and every
dropped item is counted (``ExportAccounting``) with one log line per outage, and for a
destination slower than telemetry comes, one when its queue is found full and one when it
drains.

Like the SDK's processors, a queue survives ``fork()`` (a gunicorn ``--preload`` worker starts
its own export thread, with an empty queue: what was queued is the parent's to send, and
``ExportAccounting`` forgets the parent's outages and full-queue episodes) and is
flushed when the interpreter exits: every queue side by side, ``EXIT_FLUSH_MILLIS`` in all.
Closing never waits past its deadline, not even for a request in flight: what it gives up
on, that batch included, is counted as ``shutdown``.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from opentelemetry.context import attach, detach, set_value

from .._private import SUPPRESS_INSTRUMENTATION_KEY
from .accounting import ExportAccounting, export_attempt

Item = TypeVar("Item")

#: How long exiting waits for the queues still holding telemetry (all of them, side by side).
EXIT_FLUSH_MILLIS = 5_000

EXPORT_FAILED = "export_failed"


@dataclass
class Delivery:
    """What became of a batch a sender delivered in part: items delivered, items dropped by
    reason (``export_failed`` while the backend fails; a sender's own reasons such as
    ``too_large`` or ``rejected`` for single items the backend refuses), items not delivered
    that the exporter kept to send again itself (``deferred``: not lost, but the backend is
    failing), and why export failed, for the outage's log line."""

    delivered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    deferred: int = 0
    #: The HTTP status the backend answered when it refused the batch (0: none, or not HTTP).
    status: int = 0

    def drop(self, reason: str, items: int = 1) -> None:
        if items:
            self.dropped[reason] = self.dropped.get(reason, 0) + items

    @property
    def failed(self) -> int:
        return self.dropped.get(EXPORT_FAILED, 0)


#: What an export callable returns: True (all delivered), False (none), or a ``Delivery``.
Outcome = bool | Delivery


class BatchQueue(Generic[Item]):
    """A bounded queue drained by one background thread in batches.

    ``export`` returns True when the batch was delivered (see ``Outcome``). When the queue
    is full the new item is dropped and counted; nothing on the caller's path waits for
    the network. ``on_close`` is called when the queue closes, before it waits for what is
    queued (a sender stops waiting out backoffs). ``full_remedy`` is given the first items a
    full queue drops in an episode and says, in its log line, how to get them back ("": say
    nothing).
    """

    def __init__(
        self,
        export: Callable[[Sequence[Item]], Outcome],
        *,
        signal: str,
        destination: str,
        accounting: ExportAccounting,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        schedule_delay_millis: float = 1000,
        on_close: Callable[[], None] | None = None,
        full_remedy: Callable[[Sequence[Item]], str] | None = None,
    ) -> None:
        if max_queue_size < 1 or max_batch_size < 1:
            raise ValueError("max_queue_size and max_batch_size must be at least 1")
        self._export = export
        self._signal = signal
        self._destination = destination
        self._accounting = accounting
        self._max_queue_size = max_queue_size
        self._max_batch_size = min(max_batch_size, max_queue_size)
        self._delay = schedule_delay_millis / 1000
        self._on_close = on_close
        self._full_remedy = full_remedy
        self._closed = False
        self._start()
        _live.add(self)

    def _start(self) -> None:
        # Also the child's fresh start after fork(): locks a parent thread held stay held in
        # the child, and the parent's worker thread does not exist there.
        self._queue: deque[Item] = deque()
        self._in_flight = 0  # items of the batch being exported
        self._abandoned = False  # close stopped waiting for that batch (counted as shutdown)
        self._full = False  # dropped items as full since the queue last drained
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._wake = threading.Event()
        self._worker = threading.Thread(
            target=self._run, name=f"bot-telemetry-export-{self._signal}", daemon=True
        )
        self._worker.start()

    def put(self, item: Item) -> None:
        with self._lock:
            if self._closed:
                refused = "shutdown"
            elif len(self._queue) >= self._max_queue_size:
                refused = "queue_full"
                self._full = True
            else:
                refused = ""
                self._queue.append(item)
                wake = len(self._queue) >= self._max_batch_size
        if refused == "queue_full":
            self._dropped_full([item])
        elif refused:
            self._accounting.count(self._signal, refused, 1)
        elif wake:
            self._wake.set()

    def put_many(self, items: Iterable[Item]) -> None:
        """``put`` for several items under one lock (a forwarder handing over a stored batch)."""
        items = list(items)
        with self._lock:
            if self._closed:
                taken, refused = 0, "shutdown"
            else:
                taken, refused = min(len(items), self._max_queue_size - len(self._queue)), ""
                self._queue.extend(items[:taken])
                if taken < len(items):
                    refused = "queue_full"
                    self._full = True
            wake = len(self._queue) >= self._max_batch_size
        if refused == "queue_full":
            self._dropped_full(items[taken:])
        elif refused:
            self._accounting.count(self._signal, refused, len(items) - taken)
        if wake:
            self._wake.set()

    def _dropped_full(self, items: Sequence[Item]) -> None:
        remedy = self._full_remedy
        self._accounting.queue_full(
            self._destination,
            self._signal,
            len(items),
            self._max_queue_size,
            (lambda: remedy(items)) if remedy is not None else None,
        )

    def pending(self) -> int:
        """Items queued and not yet handed to ``export``."""
        with self._lock:
            return len(self._queue)

    def flush(self, timeout_millis: float = 30_000) -> bool:
        """Export everything queued now; False if that took longer than the timeout (a
        request in flight on the export thread is waited for until then, not longer) or an
        export failed (its items are counted as dropped, or deferred, not exported)."""
        deadline = time.monotonic() + timeout_millis / 1000
        drained = self._drain(deadline)
        with self._lock:
            return drained and not self._queue

    def close(self, timeout_millis: float = 30_000) -> None:
        """Export what is queued (not if the destination is failing: it is counted as
        ``shutdown``) and stop, within the timeout: what is not exported by then, the
        batch in flight included, is counted as ``shutdown``."""
        if self._begin_close():
            self._finish_close(time.monotonic() + timeout_millis / 1000)

    def _begin_close(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._closed = True
        if self._on_close is not None:
            self._on_close()
        self._wake.set()  # the export thread sends what is queued, then stops
        return True

    def _finish_close(self, deadline: float) -> None:
        self._worker.join(max(0.0, deadline - time.monotonic()))
        if not self._worker.is_alive() and not self._accounting.is_failing(self._destination):
            self._drain(deadline)  # only if the export thread is gone without sending it all
        with self._lock:
            left, self._queue = len(self._queue), deque()
            # A request still in flight is given up on: counted here, not when it ends.
            abandoned, self._in_flight = self._in_flight, 0
            self._abandoned = bool(abandoned)
            full, self._full = self._full, False
        if full:
            self._accounting.queue_drained(self._destination, self._signal, closing=True)
        if left + abandoned:
            self._accounting.count(self._signal, "shutdown", left + abandoned)

    def _run(self) -> None:
        while True:
            closing = self._closed
            if not closing:
                self._wake.wait(self._delay)
                self._wake.clear()
                closing = self._closed
            # Closing, the queue is sent once more, unless the destination is failing: another
            # try would only wait out one more timeout (close counts what is left).
            if closing and self._accounting.is_failing(self._destination):
                return
            self._drain(None)
            if closing:
                return

    def _drain(self, deadline: float | None) -> bool:
        """Export queued batches until the queue is empty, an export fails or the deadline
        passes; False if the export lock (a request in flight) was not free before it, or an
        export failed."""
        if deadline is None:
            self._export_lock.acquire()
        elif not self._export_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        try:
            while deadline is None or time.monotonic() < deadline:
                with self._lock:
                    count = min(self._max_batch_size, len(self._queue))
                    batch = [self._queue.popleft() for _ in range(count)]
                    self._in_flight = count
                    drained, self._full = self._full and not batch, self._full and bool(batch)
                if drained:
                    self._accounting.queue_drained(self._destination, self._signal)
                if not batch:
                    return True
                if not self._export_one(batch):
                    # One try per round while the backend fails: the worker tries again on its
                    # next tick, a flush returns instead of waiting out timeout after timeout.
                    return False
            return True
        finally:
            self._export_lock.release()

    def _export_one(self, batch: list[Item]) -> bool:
        """Export and account for one batch; False if it failed."""
        # Exporters use HTTP clients; their own instrumentation must not trace the export.
        token = attach(set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
        error: Exception | None = None
        started = time.monotonic()
        with export_attempt() as attempt:
            try:
                outcome = self._export(batch)
            except Exception as raised:
                outcome, error = False, raised
            finally:
                detach(token)
        with self._lock:
            abandoned, self._abandoned, self._in_flight = self._abandoned, False, 0
        if abandoned:
            return True  # close counted it as shutdown and stopped waiting for it
        if isinstance(outcome, bool):
            failed, deferred, reason, status = (0 if outcome else len(batch)), 0, "", 0
        else:
            failed, deferred = self._settle(outcome), outcome.deferred
            reason, status = outcome.reason, outcome.status
        if not failed and not deferred:
            self._accounting.export_succeeded(self._destination)
            return True
        self._accounting.export_failed(
            self._destination,
            self._signal,
            failed,
            error,
            started,
            reason=reason or attempt.reason,
            deferred=deferred,
            status=status if reason else attempt.status,
        )
        return False

    def _settle(self, delivery: Delivery) -> int:
        """Count a partial delivery's own drops; return how many failed to export."""
        for reason, items in delivery.dropped.items():
            if reason != EXPORT_FAILED and items:
                self._accounting.count(self._signal, reason, items)
        return delivery.failed


_live: weakref.WeakSet[BatchQueue[Any]] = weakref.WeakSet()


def _restart_after_fork() -> None:
    for queue in list(_live):
        if not queue._closed:
            queue._start()


def _flush_at_exit() -> None:
    # Side by side: each export thread sends its own queue, and the exit waits
    # EXIT_FLUSH_MILLIS in all, however many destinations hang.
    deadline = time.monotonic() + EXIT_FLUSH_MILLIS / 1000
    closing = [queue for queue in list(_live) if queue._begin_close()]
    for queue in closing:
        queue._finish_close(deadline)


os.register_at_fork(after_in_child=_restart_after_fork)
atexit.register(_flush_at_exit)
