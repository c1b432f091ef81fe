"""The SDK's span and log-record processors on our bounded queue (``delivery.BatchQueue``).

The SDK's batch processors would do the batching, but they log a line for every item
dropped from a full queue and count drops only in opt-in internal metrics. Ours hand each
item to ``BatchQueue``: the turn pays one lock and an append, and every dropped item is
counted (``ExportAccounting``) with one log line per outage.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from opentelemetry._logs import LogRecord
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..delivery import BatchQueue, ExportAccounting
from ..delivery.queue import Outcome
from .otlp_encoding import otlp_sender

__all__ = [
    "BatchQueue",
    "Delivering",
    "Forwarding",
    "QueuedLogRecordProcessor",
    "QueuedSpanProcessor",
]


@runtime_checkable
class Delivering(Protocol):
    """An exporter that says what became of a batch (a ``Delivery``: what it delivered, what
    it lost, what it kept to send again), where ``export`` could only say success or not."""

    def deliver(self, batch: Sequence[Any]) -> Outcome: ...


@runtime_checkable
class Forwarding(Protocol):
    """A log-record exporter that forwards some records elsewhere (PostHog): it says which
    records it wants before they are queued, delivers part of a batch when it must (and
    counts what it refused itself), and stops retrying when the process shuts down."""

    #: The ``signal`` its losses are counted under.
    signal: str

    def wants(self, record: LogRecord) -> bool: ...

    def deliver(self, batch: Sequence[ReadableLogRecord]) -> Outcome: ...

    def stop_retrying(self) -> None: ...


class QueuedSpanProcessor(SpanProcessor):
    """Ended, sampled spans go to ``exporter`` in batches, off the caller's thread."""

    def __init__(
        self,
        exporter: SpanExporter,
        destination: str,
        accounting: ExportAccounting,
        **options: float,
    ) -> None:
        self._exporter = exporter
        send: Callable[[Sequence[ReadableSpan]], Outcome] = (
            exporter.deliver
            if isinstance(exporter, Delivering)
            else otlp_sender(
                exporter, lambda batch: exporter.export(batch) is SpanExportResult.SUCCESS
            )
        )
        self._queue: BatchQueue[ReadableSpan] = BatchQueue(
            send,
            signal="traces",
            destination=destination,
            accounting=accounting,
            **options,  # type: ignore[arg-type]
        )

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._queue.put(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._queue.flush(timeout_millis)

    def shutdown(self) -> None:
        self._queue.close()
        self._exporter.shutdown()


class QueuedLogRecordProcessor(LogRecordProcessor):
    """Log records (custom events among them) go to ``exporter`` in batches.

    A ``Forwarding`` exporter (the PostHog one) is asked first whether it wants a record,
    so records it would not send take no room in its queue.
    """

    def __init__(
        self,
        exporter: LogRecordExporter,
        destination: str,
        accounting: ExportAccounting,
        **options: float,
    ) -> None:
        self._exporter = exporter
        self._forwarding = exporter if isinstance(exporter, Forwarding) else None
        send: Callable[[Sequence[ReadableLogRecord]], Outcome] = (
            exporter.deliver
            if isinstance(exporter, Delivering)
            else otlp_sender(
                exporter, lambda batch: exporter.export(batch) is LogRecordExportResult.SUCCESS
            )
        )
        self._queue: BatchQueue[ReadableLogRecord] = BatchQueue(
            send,
            signal=self._forwarding.signal if self._forwarding is not None else "logs",
            destination=destination,
            accounting=accounting,
            # Closing (shutdown, or the interpreter's exit), a batch waiting out a backoff
            # gives up and what is left is tried once.
            on_close=self._forwarding.stop_retrying if self._forwarding is not None else None,
            **options,  # type: ignore[arg-type]
        )

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if self._forwarding is not None and not self._forwarding.wants(log_record.log_record):
            return
        # Queue a copy without the context: it may hold a whole turn's objects alive.
        record = copy.copy(log_record.log_record)
        record.context = Context()
        self._queue.put(
            ReadableLogRecord(
                log_record=record,
                resource=log_record.resource or Resource.create({}),
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._queue.flush(timeout_millis)

    def shutdown(self) -> None:
        self._queue.close()
        self._exporter.shutdown()  # type: ignore[no-untyped-call]
