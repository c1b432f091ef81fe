"""Azure Monitor specifics: each custom event lands once, in customEvents.

A custom event is written as a log record (Azure Monitor: customEvents) and as a span event
on the current span, for trace viewers that show no logs (Jaeger, Tempo). Azure Monitor
would turn that span event into a second row, in traces; the span exporter for Azure
Monitor therefore leaves those span events out.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..contract import CUSTOM_EVENT_NAME


class WithoutCustomEventSpanEvents(SpanExporter):
    """Passes spans to ``exporter`` without the span-event copies of custom events."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([_without_custom_events(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

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
