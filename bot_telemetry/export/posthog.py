"""The bot's custom events to PostHog: a log-record exporter on our export queue.

Custom events are log records, so PostHog is one more log destination: ``configure()``
adds it when ``POSTHOG_API_KEY`` is set, beside OTLP, Azure Monitor or the embedded
collector. ``QueuedLogRecordProcessor`` asks it which records it wants (custom events
its include/exclude rules pass) before queueing them; mapping, JSON and HTTP happen on the
export thread. It is also a plain SDK ``LogRecordExporter``:

    configure(service_name="bot", log_exporters=[PostHogLogExporter(settings)], ...)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from ..contract import CUSTOM_EVENT_NAME
from ..delivery import Delivery
from ..posthog import CaptureSender, EventRecord, PostHogSettings, map_and_send
from ..posthog.forwarder import SIGNAL, backfill_command
from ..privacy import PrivacyPolicy, current_policy

UNKNOWN_SERVICE = "unknown_service"


class PostHogLogExporter(LogRecordExporter):
    """Sends custom events (log records named by ``microsoft.custom_event.name`` or their
    event name) to PostHog. ``privacy`` defaults to the current ``configure()`` policy."""

    signal = SIGNAL

    def __init__(self, settings: PostHogSettings, privacy: PrivacyPolicy | None = None) -> None:
        self.settings = settings
        self._privacy = privacy
        self._sender = CaptureSender(settings)
        self._lost = threading.Lock()
        self._lost_since_ns: int | None = None  # the oldest event an outage lost

    def remedy(self, ended: bool) -> str:
        """What to do about the events an outage lost, for its log lines
        (``ExportAccounting.set_remedy``; ``configure()`` sets it when the process exports
        its events to another destination too, a store that holds them)."""
        with self._lost:
            since = self._lost_since_ns
            if ended:
                self._lost_since_ns = None
        if since is None:
            return ""
        command = backfill_command("--store STORE", since)
        return (
            "if a store holds these events too (this process exports them to bot-telemetry "
            f"serve, or through a Collector to ClickHouse), `{command}` on it sends them once "
            "PostHog answers (with POSTHOG_API_KEY and POSTHOG_HOST as here; PostHog collapses "
            "any it already has)"
        )

    def wants(self, record: LogRecord) -> bool:
        """On the turn's path: a dictionary look-up or two."""
        attributes = record.attributes
        name = attributes.get(CUSTOM_EVENT_NAME) if attributes else None
        name = name or record.event_name
        return bool(name) and self.settings.wants(str(name))

    def deliver(self, batch: Sequence[ReadableLogRecord]) -> Delivery:
        records = [event_record(item) for item in batch]
        delivery = map_and_send(
            records, self.settings, self._privacy or current_policy(), self._sender
        )
        if delivery.failed and records:
            oldest = min(record.time_ns for record in records)
            with self._lost:
                if self._lost_since_ns is None or oldest < self._lost_since_ns:
                    self._lost_since_ns = oldest
        return delivery

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        delivery = self.deliver([item for item in batch if self.wants(item.log_record)])
        return LogRecordExportResult.FAILURE if delivery.failed else LogRecordExportResult.SUCCESS

    def stop_retrying(self) -> None:
        self._sender.stop_retrying()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is held here: the queue in front of it holds what is pending

    def shutdown(self) -> None:
        self._sender.close()


def event_record(item: ReadableLogRecord) -> EventRecord:
    """A bot's log record as the event both halves map (same ids and time as the store's row)."""
    record = item.log_record
    attributes = dict(record.attributes or {})
    name = attributes.get(CUSTOM_EVENT_NAME) or record.event_name or ""
    resource = item.resource.attributes if item.resource is not None else {}
    version = resource.get("service.version")
    return EventRecord(
        name=str(name),
        # As the collector stores it: the record's time, else when it was observed.
        time_ns=record.timestamp or record.observed_timestamp or time.time_ns(),
        trace_id=f"{record.trace_id:032x}" if record.trace_id else None,
        span_id=f"{record.span_id:016x}" if record.span_id else None,
        attributes=attributes,
        service=str(resource.get("service.name") or UNKNOWN_SERVICE),
        service_version=str(version) if version else None,
    )
