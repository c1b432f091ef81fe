"""In-memory telemetry for tests: the real SDK providers with in-memory exporters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot_telemetry import PrivacyPolicy, Telemetry, configure


@dataclass
class CapturedTelemetry:
    handle: Telemetry
    span_exporter: InMemorySpanExporter
    log_exporter: InMemoryLogRecordExporter

    def spans(self) -> Sequence[ReadableSpan]:
        """Every span finished so far (flushes the batch processor first)."""
        assert self.handle.force_flush(10_000), "telemetry flush timed out"
        return self.span_exporter.get_finished_spans()

    def logs(self) -> Sequence[ReadableLogRecord]:
        assert self.handle.force_flush(10_000), "telemetry flush timed out"
        return self.log_exporter.get_finished_logs()

    def events(self, name: str | None = None) -> list[ReadableLogRecord]:
        """Custom events (log records carrying microsoft.custom_event.name), optionally by name."""
        found = []
        for record in self.logs():
            attributes = record.log_record.attributes or {}
            event = attributes.get("microsoft.custom_event.name")
            if event is not None and (name is None or event == name):
                found.append(record)
        return found

    def span_named(self, name: str) -> ReadableSpan:
        matches = [span for span in self.spans() if span.name == name]
        names = [span.name for span in self.spans()]
        assert len(matches) == 1, f"expected one span {name!r}, got {names}"
        return matches[0]

    def clear(self) -> None:
        self.handle.force_flush(10_000)
        self.span_exporter.clear()
        self.log_exporter.clear()


def capture(service_name: str = "bot", privacy: PrivacyPolicy | None = None) -> CapturedTelemetry:
    spans = InMemorySpanExporter()
    logs = InMemoryLogRecordExporter()
    handle = configure(
        service_name,
        privacy=privacy,
        span_exporters=[spans],
        log_exporters=[logs],
        metric_readers=[],
    )
    return CapturedTelemetry(handle, spans, logs)
