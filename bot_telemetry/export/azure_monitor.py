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
later export succeeds, but its ``export()`` answers FAILURE either way, and also when the
service took part of the batch (206). ``OfflineStorageWatch`` tells them apart from what the
exporter did with the batch, and counts a 206 item by item (see its docstring).

Result codes: the exporter gives a dependency the ``resultCode`` of its HTTP status only
(``http.response.status_code``); every other dependency (recognizer, QnA, storage,
middleware, a failed HTTP call that got no answer) showed ``0``. The span exporter gives those
the span's own result code (``bot.dependency.result_code``: ``OK``, ``404``,
``ReadTimeout``; ``db.response.status_code`` of ``track_dependency``); ``success`` is already
the span's status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._private import (
    azure_span_to_envelope,
    azure_transmit_handler,
    replace_azure_span_to_envelope,
    replace_azure_transmit_handler,
)
from ..contract import CUSTOM_EVENT_NAME
from ..delivery.queue import EXPORT_FAILED, Delivery
from .refusals import REJECTED, Refusals, without_item_data

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
#: Item errors the exporter stores to send again (401/403: a credential that may be fixed).
_RETRYABLE_STATUSES = frozenset({401, 403, 408, 429, 500, 502, 503, 504})
#: What Application Insights says of an item its ingestion sampling left out.
_SAMPLED_OUT = "telemetry sampled out."
#: Reasons an item of a partial success is lost for (``Delivery.dropped``); the worst first.
SAMPLED_OUT = "sampled_out"
_DEFERRED, _DELIVERED = "deferred", "delivered"
_FATES = (REJECTED, EXPORT_FAILED, SAMPLED_OUT, _DEFERRED, _DELIVERED)


class _Seen(threading.local):
    result = ""  # what the exporter's _transmit answered for the batch
    stored = 0  # envelopes its offline storage took
    refused = 0  # envelopes it did not take (full, switched off, not writable)
    handling = False  # the exporter is in _handle_transmit_from_storage (put: not our batch's)
    answered = False  # a track request of the batch was answered (its errors are below)
    errors: list[tuple[int, int, str]]  # (index, statusCode, message) of that answer
    sent: list[Any]  # the envelopes of the batch the exporter sent
    overflow: list[tuple[int, bool]]  # rate limiter: (envelopes stored before sending, taken)
    resent: list[tuple[Any, bool]]  # 206: (an envelope stored to send again, taken)

    def __init__(self) -> None:  # per thread, on its first use
        self.start()

    def start(self) -> None:
        self.result, self.stored, self.refused = "", 0, 0
        self.handling = self.answered = False
        self.errors, self.sent, self.overflow, self.resent = [], [], [], []


class OfflineStorageWatch:
    """What an Azure Monitor exporter did with a batch it could not send, or sent in part.

    ``export()`` answers FAILURE both when the batch is lost and when the exporter stored it
    to send again (its offline storage: on unless ``disable_offline_storage=True``, in
    ``<tempdir>/Microsoft-AzureMonitor-<hash>/opentelemetry-python-<ikey>``, 50 MiB, kept
    48 h, sent again after a later export succeeds), and when Application Insights took part
    of the batch (206). The watch sees the result the exporter hands to its
    ``_handle_transmit_from_storage``, what its storage's ``put`` answered and the answer of
    its client's ``track``:

    - retryable (no answer, 408, 429, 5xx, 401/403) and every envelope stored: deferred;
    - a 206 lists the envelopes refused, each with a status: the others were taken
      (delivered); one the exporter stored to send again (408, 429, 5xx, 401/403) is
      deferred; one it did not is lost: ``rejected`` (400 and the like, 402/439 over quota),
      ``sampled_out`` (ingestion sampling), ``export_failed`` (retryable, not stored). The
      rate limiter's overflow, stored before sending, is deferred too. An item is as its
      worst envelope (a span with its events is several);
    - anything else is lost: not retryable (400, 402/439, an error), storage off, full or
      not writable: the batch is counted as ``export_failed``, as is a 206 whose envelopes
      cannot be told apart (another exporter version).

    An exporter without the handler (another version) is not watched: every failure counts
    as lost, as before.
    """

    def __init__(self, exporter: object) -> None:
        self._seen = _Seen()
        self._refusals = Refusals()
        handle = azure_transmit_handler(exporter)
        self.watching = callable(handle)
        if not self.watching:
            return
        seen = self._seen
        storage = getattr(exporter, "storage", None)
        put = getattr(storage, "put", None)
        client = getattr(exporter, "client", None)
        track = getattr(client, "track", None)

        def watched_put(data: Any, *args: Any, **kwargs: Any) -> Any:
            answer = put(data, *args, **kwargs)  # type: ignore[misc]
            taken = getattr(answer, "name", None) == _STORED
            if taken:
                seen.stored += len(data)
            else:
                seen.refused += len(data)
            # In the handler: the whole batch (retryable), or a stored one sent again.
            if seen.handling:
                return answer
            if seen.answered:  # a 206's envelopes to retry
                seen.resent.extend((envelope, taken) for envelope in data)
            else:  # what the rate limiter did not admit, stored before sending
                seen.overflow.append((len(data), taken))
            return answer

        def watched_track(*args: Any, **kwargs: Any) -> Any:
            if seen.handling:  # a stored batch sent again: not ours
                return track(*args, **kwargs)  # type: ignore[misc]
            seen.answered, seen.errors = False, []  # raising (a redirect, a failure): none
            answer = track(*args, **kwargs)  # type: ignore[misc]
            response = answer[0] if isinstance(answer, tuple) else answer
            seen.answered = True
            seen.errors = [
                (_number(e.index, -1), _number(e.status_code, 0), str(e.message or ""))
                for e in getattr(response, "errors", None) or []
            ]
            return answer

        def watched_handle(envelopes: Any, result: Any) -> Any:
            seen.result = str(getattr(result, "name", ""))
            seen.sent = list(envelopes)
            seen.handling = True
            return handle(envelopes, result)

        if callable(put):
            storage.put = watched_put  # type: ignore[union-attr]
        if callable(track):
            client.track = watched_track  # type: ignore[union-attr]
        replace_azure_transmit_handler(exporter, watched_handle)

    def deliver(self, export: Callable[[], bool], sizes: Sequence[int]) -> Delivery:
        """Export, and say what became of the batch's items; ``sizes`` are the envelopes
        each item becomes, in order."""
        seen = self._seen
        seen.start()
        try:
            return self._outcome(export(), sizes)
        finally:
            seen.start()  # the batch's envelopes are not held until the next one

    def _outcome(self, exported: bool, sizes: Sequence[int]) -> Delivery:
        seen = self._seen
        items = len(sizes)
        if self.watching and (seen.errors or seen.overflow) and seen.result != _RETRYABLE:
            delivery = self._in_part(sizes)
            if delivery is not None:
                return delivery
        if exported:
            return Delivery(delivered=items)
        if self.watching and seen.result == _RETRYABLE and seen.stored and not seen.refused:
            return Delivery(deferred=items)
        delivery = Delivery()
        delivery.drop(EXPORT_FAILED, items)
        if seen.refused:
            delivery.reason = "the exporter's offline storage did not take the batch"
        return delivery

    def _in_part(self, sizes: Sequence[int]) -> Delivery | None:
        """The items of a batch sent in part (206, rate limiter), or None when which of our
        items the envelopes are is not known."""
        seen = self._seen
        sent = seen.sent
        fates = [_DELIVERED] * len(sent)
        why: dict[str, str] = {}  # the first cause of each reason, for the outage line
        for index, status, message in seen.errors:
            if not 0 <= index < len(sent):
                return None
            kept = _kept(sent[index], seen.resent)
            if kept is not None:
                fates[index] = _DEFERRED if kept else EXPORT_FAILED
                if not kept:
                    why.setdefault(EXPORT_FAILED, "the exporter's offline storage refused them")
            elif message.strip().lower() == _SAMPLED_OUT:
                fates[index] = SAMPLED_OUT
            elif status in _RETRYABLE_STATUSES:
                fates[index] = EXPORT_FAILED
                why.setdefault(EXPORT_FAILED, f"{status}, and no offline storage to keep them")
            else:
                fates[index] = REJECTED
                why.setdefault(REJECTED, _error_text(status, message))
        for count, taken in seen.overflow:
            fates.extend([_DEFERRED if taken else EXPORT_FAILED] * count)
        extra = len(fates) - sum(sizes)
        if extra == 1 and sent and _is_resource(sent[0]):
            fates = fates[1:]  # the exporter's own resource envelope, not one of our items
        elif extra:
            return None
        delivery = Delivery()
        at = 0
        for size in sizes:
            fate = min(fates[at : at + size], key=_FATES.index, default=_DELIVERED)
            at += size
            if fate == _DELIVERED:
                delivery.delivered += 1
            elif fate == _DEFERRED:
                delivery.deferred += 1
            else:
                delivery.drop(fate)
        parts = [f"Application Insights took {delivery.delivered} of {len(sizes)} items"]
        if delivery.deferred:
            parts.append(f"{delivery.deferred} kept to send again")
        for reason, count in delivery.dropped.items():
            parts.append(f"{count} {reason}" + (f" ({why[reason]})" if reason in why else ""))
        delivery.reason = "; ".join(parts)
        if REJECTED in delivery.dropped:
            text = why[REJECTED]
            kind = text.split(":", 1)[0]  # the status
            self._refusals.tell(kind, f"Application Insights refused telemetry items ({text})")
        return delivery


def _kept(envelope: Any, stored: list[tuple[Any, bool]]) -> bool | None:
    """Whether the storage took ``envelope`` (None: the exporter did not store it)."""
    if not stored:
        return None
    as_dict = getattr(envelope, "as_dict", None)
    mine = as_dict() if callable(as_dict) else envelope
    for other, taken in stored:
        if other == mine:
            return taken
    return None


def _number(value: Any, default: int) -> int:
    return value if isinstance(value, int) else default


def _is_resource(envelope: Any) -> bool:
    # The trace exporter's _OTELRESOURCE_ metric, sent first with each batch of spans.
    return getattr(getattr(envelope, "data", None), "base_type", None) == "MetricData"


def _error_text(status: int, message: str) -> str:
    text = without_item_data(message)
    return f"{status}: {text}" if text else str(status)


#: The dependency wrappers' result code (``dependencies.call.ATTR_RESULT_CODE``; the export
#: layer does not import them), then ``track_dependency``'s for a type other than HTTP.
RESULT_CODE_ATTRIBUTES = ("bot.dependency.result_code", "db.response.status_code")
#: What the exporter puts in ``resultCode`` when it found no HTTP status.
_NO_RESULT_CODE = "0"


def _with_result_codes(convert: Callable[[ReadableSpan], Any]) -> Callable[[ReadableSpan], Any]:
    def span_to_envelope(span: ReadableSpan) -> Any:
        envelope = convert(span)
        data: Any = getattr(getattr(envelope, "data", None), "base_data", None)
        if getattr(data, "result_code", None) != _NO_RESULT_CODE or not span.attributes:
            return envelope  # a request, or a dependency with its HTTP status
        for attribute in RESULT_CODE_ATTRIBUTES:
            code = span.attributes.get(attribute)
            if code is not None and str(code):
                data.result_code = str(code)[:1024]  # the exporter's own limit
                break
        return envelope

    return span_to_envelope


class WithoutCustomEventSpanEvents(SpanExporter):
    """Passes spans to ``exporter`` without the span-event copies of custom events, each
    dependency with its result code."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self._watch = OfflineStorageWatch(exporter)
        convert = azure_span_to_envelope(exporter)
        if callable(convert) and not getattr(convert, "gives_result_codes", False):
            with_codes = _with_result_codes(convert)
            with_codes.gives_result_codes = True  # type: ignore[attr-defined]
            replace_azure_span_to_envelope(exporter, with_codes)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([_without_custom_events(span) for span in spans])

    def deliver(self, spans: Sequence[ReadableSpan]) -> Delivery:
        """Export, telling a batch the exporter stored to send again from one it lost."""
        sent = [_without_custom_events(span) for span in spans]
        return self._watch.deliver(
            lambda: self.exporter.export(sent) is SpanExportResult.SUCCESS,
            [1 + len(span.events) for span in sent],  # a span's envelope and its events'
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
            lambda: self.exporter.export(batch) is LogRecordExportResult.SUCCESS, [1] * len(batch)
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
