"""Azure Monitor specifics: each custom event lands once, in customEvents; a hanging
ingestion costs one export timeout; a batch the exporter keeps to send again is not lost.

A custom event is written as a log record (Azure Monitor: customEvents) and as a span event
on the current span, for trace viewers that show no logs (Jaeger, Tempo). Azure Monitor
would turn that span event into a second row, in traces; the span exporter for Azure
Monitor therefore leaves those span events out.

Timeouts: the exporter gives azure-core its ``timeout`` (10 s) as the connect timeout only;
azure-core's read timeout stays at its default, 300 s, so a hanging ingestion held the export
thread (and ``shutdown()``) for five minutes. ``exporter_options`` bounds connect and read,
and azure-core's own retries of a request, by ``EXPORT_TIMEOUT_SECONDS``.

Offline storage: when Application Insights does not take a batch and may later (no answer,
408, 429, 5xx, 401/403), the exporter writes it to local disk and sends it again after a
later export succeeds, but its ``export()`` answers FAILURE either way. ``OfflineStorageWatch``
tells the two apart from what the exporter did with the batch (see its docstring).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._private import azure_transmit_handler, replace_azure_transmit_handler
from ..contract import CUSTOM_EVENT_NAME
from ..delivery.queue import EXPORT_FAILED, Delivery

#: Connect and read timeout of the Azure Monitor exporters' requests, and azure-core's
#: budget for retrying one: the OTLP exporters' and PostHog's default.
EXPORT_TIMEOUT_SECONDS = 10.0


def exporter_options(timeout: float = EXPORT_TIMEOUT_SECONDS) -> dict[str, float]:
    """Keyword arguments for the Azure Monitor exporters: ``timeout`` is the exporter's
    connect timeout and azure-core's budget for its retries of a request (a week by
    default), ``read_timeout`` azure-core's read timeout (300 s by default)."""
    return {"timeout": timeout, "read_timeout": timeout}


# The exporter's names, as strings: they live in its private modules.
_RETRYABLE = "FAILED_RETRYABLE"  # export._base.ExportResult
_STORED = "LOCAL_FILE_BLOB_SUCCESS"  # _storage.StorageExportResult


class _Seen(threading.local):
    result = ""  # what the exporter's _transmit answered for the batch
    stored = 0  # envelopes its offline storage took
    refused = 0  # envelopes it did not take (full, switched off, not writable)


class OfflineStorageWatch:
    """What an Azure Monitor exporter did with a batch it could not send.

    ``export()`` answers FAILURE both when the batch is lost and when the exporter stored it
    to send again (its offline storage: on unless ``disable_offline_storage=True``, in
    ``<tempdir>/Microsoft-AzureMonitor-<hash>/opentelemetry-python-<ikey>``, 50 MiB, kept
    48 h, sent again after a later export succeeds). The watch sees the result the exporter
    hands to its ``_handle_transmit_from_storage`` and what its storage's ``put`` answered:

    - retryable (no answer, 408, 429, 5xx, 401/403) and every envelope stored: deferred;
    - anything else is lost: not retryable (400, 402/439, an error), storage off, full or
      not writable, and a 206 (the service took part of the batch; the exporter stores the
      part it may retry, but which of our items those envelopes are is not known): the batch
      is counted as ``export_failed``.

    An exporter without those two (another version, storage disabled) is not watched: every
    failure counts as lost, as before.
    """

    def __init__(self, exporter: object) -> None:
        self._seen = _Seen()
        storage = getattr(exporter, "storage", None)
        put = getattr(storage, "put", None)
        handle = azure_transmit_handler(exporter) if callable(put) else None
        self.watching = callable(put) and callable(handle)
        if not self.watching:
            return
        seen = self._seen

        def watched_put(data: Any, *args: Any, **kwargs: Any) -> Any:
            answer = put(data, *args, **kwargs)  # type: ignore[misc]
            if getattr(answer, "name", None) == _STORED:
                seen.stored += len(data)
            else:
                seen.refused += len(data)
            return answer

        def watched_handle(envelopes: Any, result: Any) -> Any:
            seen.result = str(getattr(result, "name", ""))
            return handle(envelopes, result)  # type: ignore[misc]

        storage.put = watched_put  # type: ignore[union-attr]
        replace_azure_transmit_handler(exporter, watched_handle)

    def deliver(self, export: Callable[[], bool], items: int) -> Delivery:
        seen = self._seen
        seen.result, seen.stored, seen.refused = "", 0, 0
        if export():
            return Delivery(delivered=items)
        if self.watching and seen.result == _RETRYABLE and seen.stored and not seen.refused:
            return Delivery(deferred=items)
        delivery = Delivery()
        delivery.drop(EXPORT_FAILED, items)
        if seen.refused:
            delivery.reason = "the exporter's offline storage did not take the batch"
        return delivery


class WithoutCustomEventSpanEvents(SpanExporter):
    """Passes spans to ``exporter`` without the span-event copies of custom events."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self._watch = OfflineStorageWatch(exporter)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([_without_custom_events(span) for span in spans])

    def deliver(self, spans: Sequence[ReadableSpan]) -> Delivery:
        """Export, telling a batch the exporter stored to send again from one it lost."""
        return self._watch.deliver(
            lambda: self.export(spans) is SpanExportResult.SUCCESS, len(spans)
        )

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class WithOfflineStorage(LogRecordExporter):
    """The Azure Monitor log exporter, telling a batch it stored to send again from one it
    lost (``OfflineStorageWatch``)."""

    def __init__(self, exporter: LogRecordExporter) -> None:
        self.exporter = exporter
        self._watch = OfflineStorageWatch(exporter)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self.exporter.export(batch)

    def deliver(self, batch: Sequence[ReadableLogRecord]) -> Delivery:
        return self._watch.deliver(
            lambda: self.exporter.export(batch) is LogRecordExportResult.SUCCESS, len(batch)
        )

    def shutdown(self) -> None:
        self.exporter.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def _without_custom_events(span: ReadableSpan) -> ReadableSpan:
    events = [e for e in span.events if CUSTOM_EVENT_NAME not in (e.attributes or {})]
    if len(events) == len(span.events):
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
