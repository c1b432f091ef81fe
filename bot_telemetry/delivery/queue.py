"""Bounded, batching export off the caller's thread, with exact accounting of what is lost.

The SDK's batch processors would do the batching, but they log a line for every item
dropped from a full queue and count drops only in opt-in internal metrics. A bot whose
backend is down needs the opposite: the turn pays one lock and an append, and every
dropped item is counted (``ExportAccounting``) with one log line per outage.

Like the SDK's processors, a queue survives ``fork()`` (a gunicorn ``--preload`` worker starts
its own export thread, with an empty queue: what was queued is the parent's to send) and is
flushed when the interpreter exits, bounded by ``EXIT_FLUSH_MILLIS``.
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
from .accounting import ExportAccounting

Item = TypeVar("Item")

#: How long exiting waits for each queue still holding telemetry.
EXIT_FLUSH_MILLIS = 5_000

EXPORT_FAILED = "export_failed"


@dataclass
class Delivery:
    """What became of a batch a sender delivered in part: items delivered, items dropped by
    reason (``export_failed`` while the backend fails; a sender's own reasons such as
    ``too_large`` or ``rejected`` for single items the backend refuses), and why export
    failed, for the outage's log line."""

    delivered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    reason: str = ""

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
    the network.
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
        self._closed = False
        self._start()
        _live.add(self)

    def _start(self) -> None:
        # Also the child's fresh start after fork(): locks a parent thread held stay held in
        # the child, and the parent's worker thread does not exist there.
        self._queue: deque[Item] = deque()
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
            else:
                refused = ""
                self._queue.append(item)
                wake = len(self._queue) >= self._max_batch_size
        if refused:
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
            wake = len(self._queue) >= self._max_batch_size
        if refused:
            self._accounting.count(self._signal, refused, len(items) - taken)
        if wake:
            self._wake.set()

    def pending(self) -> int:
        """Items queued and not yet handed to ``export``."""
        with self._lock:
            return len(self._queue)

    def flush(self, timeout_millis: float = 30_000) -> bool:
        """Export everything queued now; False if that took longer than the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._drain(deadline)
        with self._lock:
            return not self._queue

    def close(self, timeout_millis: float = 30_000) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._worker.join(timeout_millis / 1000)
        # With the backend already failing, another try would only wait out one more timeout.
        if not self._accounting.is_failing(self._destination):
            self.flush(timeout_millis)
        with self._lock:
            left, self._queue = len(self._queue), deque()
        if left:
            self._accounting.count(self._signal, "shutdown", left)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._drain(None)

    def _drain(self, deadline: float | None) -> None:
        with self._export_lock:
            while deadline is None or time.monotonic() < deadline:
                with self._lock:
                    count = min(self._max_batch_size, len(self._queue))
                    batch = [self._queue.popleft() for _ in range(count)]
                if not batch:
                    return
                # Exporters use HTTP clients; their own instrumentation must not trace the export.
                token = attach(set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
                error: Exception | None = None
                started = time.monotonic()
                try:
                    outcome = self._export(batch)
                except Exception as raised:
                    outcome, error = False, raised
                finally:
                    detach(token)
                if isinstance(outcome, bool):
                    failed = 0 if outcome else len(batch)
                else:
                    failed = self._settle(outcome)
                if not failed:
                    self._accounting.export_succeeded(self._destination)
                else:
                    self._accounting.export_failed(
                        self._destination, self._signal, failed, error, started
                    )
                    # One try per round while the backend fails: the worker tries again on its
                    # next tick, a flush returns instead of waiting out timeout after timeout.
                    return

    def _settle(self, delivery: Delivery) -> int:
        """Count a partial delivery's own drops; return how many failed to export."""
        for reason, items in delivery.dropped.items():
            if reason != EXPORT_FAILED and items:
                self._accounting.count(self._signal, reason, items)
        if delivery.failed and delivery.reason:
            self._accounting.note_reason(delivery.reason)
        return delivery.failed


_live: weakref.WeakSet[BatchQueue[Any]] = weakref.WeakSet()


def _restart_after_fork() -> None:
    for queue in list(_live):
        if not queue._closed:
            queue._start()


def _flush_at_exit() -> None:
    for queue in list(_live):
        if not queue._closed:
            queue.close(EXIT_FLUSH_MILLIS)


os.register_at_fork(after_in_child=_restart_after_fork)
atexit.register(_flush_at_exit)
