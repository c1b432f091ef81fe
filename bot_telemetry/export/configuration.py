"""``configure``: one call that sets up OpenTelemetry for a bot or one of its services."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, propagate
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from ..privacy.policy import DEFAULT_POLICY, PrivacyPolicy
from . import providers
from .accounting import ExportAccounting
from .azure_monitor import WithoutCustomEventSpanEvents
from .batching import QueuedLogRecordProcessor, QueuedSpanProcessor

_log = logging.getLogger(__name__)

#: Where the embedded collector (``bot-telemetry serve``) listens by default.
EMBEDDED_ENDPOINT = "http://127.0.0.1:4318"


@dataclass
class Telemetry:
    """What ``configure`` set up. Flush before a short-lived process exits."""

    resource: Resource
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    privacy: PrivacyPolicy
    accounting: ExportAccounting
    destinations: list[str] = field(default_factory=list)

    def dropped(self) -> dict[str, int]:
        """Telemetry items dropped so far (backend down, queue full), by signal and reason."""
        return self.accounting.dropped()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything queued so far; False if some of it could not be exported in time."""
        # Side by side, as in shutdown: one after the other, a hanging backend would make the
        # caller wait out an export timeout per signal.
        logs: list[bool] = []
        flushing = threading.Thread(
            target=lambda: logs.append(self.logger_provider.force_flush(timeout_millis)),
            name="bot-telemetry-flush-logs",
        )
        flushing.start()
        spans = self.tracer_provider.force_flush(timeout_millis)
        flushing.join()
        return bool(spans and logs and logs[0])

    def shutdown(self) -> None:
        """Flush and stop every exporter. Idempotent."""
        global _current
        # Side by side: with the backend down each signal may wait out one export timeout.
        logs = threading.Thread(target=self.logger_provider.shutdown, name="bot-telemetry-logs")
        logs.start()
        self.tracer_provider.shutdown()
        logs.join()
        self.meter_provider.shutdown()
        self.accounting.remove_log_folding()
        if _current is self:
            providers.uninstall()
            _current = None


class OnceHashedResource(Resource):
    """A ``Resource`` that computes its hash once.

    The SDK's OTLP encoders group every span and log record by resource, and
    ``Resource.__hash__`` serialises all attributes to JSON on each call: ~10 µs per item.
    A resource's attributes cannot change, so neither can its hash.
    """

    def __init__(self, attributes: Mapping[str, Any], schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


_current: Telemetry | None = None
_global_meter_provider_set = False


def current() -> Telemetry | None:
    """The handle of the last ``configure`` call still in force, if any."""
    return _current


def current_privacy() -> PrivacyPolicy:
    """The policy every component applies unless it was given its own."""
    return _current.privacy if _current is not None else DEFAULT_POLICY


def configure(
    service_name: str,
    *,
    service_namespace: str = "bot-telemetry",
    service_version: str = "0.0.0",
    service_instance_id: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    privacy: PrivacyPolicy | None = None,
    span_exporters: Sequence[SpanExporter] | None = None,
    log_exporters: Sequence[LogRecordExporter] | None = None,
    metric_readers: Sequence[MetricReader] | None = None,
    max_queue_size: int | None = None,
    schedule_delay_millis: int | None = None,
) -> Telemetry:
    """Set up tracing, custom events and metrics for this process and return a handle.

    Exporters come from the standard variables unless given: ``OTEL_EXPORTER_OTLP_ENDPOINT``
    sends OTLP/HTTP there, ``APPLICATIONINSIGHTS_CONNECTION_STRING`` sends to Azure Monitor,
    neither sends OTLP/HTTP to the embedded collector on 127.0.0.1:4318. The export queue's
    size and delay default to ``OTEL_BSP_MAX_QUEUE_SIZE`` and ``OTEL_BSP_SCHEDULE_DELAY``
    (2048 items, 1000 ms). Calling it again
    replaces the previous setup (its queues are flushed first), so nothing is exported twice.

        telemetry = bot_telemetry.configure(service_name="bot")
        ...
        telemetry.shutdown()
    """
    global _current, _global_meter_provider_set
    if _current is not None:
        _current.shutdown()

    attributes: dict[str, Any] = {
        "service.name": service_name,
        "service.namespace": service_namespace,
        "service.version": service_version,
        "service.instance.id": service_instance_id or _instance_id(),
    }
    attributes.update(resource_attributes or {})
    created = Resource.create(attributes)
    resource = OnceHashedResource(created.attributes or {}, created.schema_url)

    explicit = span_exporters is not None and log_exporters is not None
    from_environment = [] if explicit and metric_readers is not None else (
        _destinations_from_environment()
    )
    spans = _named(span_exporters, from_environment, "spans")
    logs = _named(log_exporters, from_environment, "logs")
    readers = (
        list(metric_readers)
        if metric_readers is not None
        else [d.reader for d in from_environment if d.reader is not None]
    )

    meter_provider = MeterProvider(
        resource=resource, metric_readers=readers, shutdown_on_exit=False
    )
    if not _global_meter_provider_set:
        # The metrics API takes one global provider per process; later handles keep their own
        # meter provider, which our components reach through ``meter()``.
        metrics.set_meter_provider(meter_provider)
        _global_meter_provider_set = True
    accounting = ExportAccounting(meter_provider.get_meter("bot_telemetry.export"))
    accounting.install_log_folding()

    queue_options = {
        "max_queue_size": max_queue_size or _env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048),
        "schedule_delay_millis": schedule_delay_millis
        or _env_int("OTEL_BSP_SCHEDULE_DELAY", 1000),
    }
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for destination, span_exporter in spans:
        tracer_provider.add_span_processor(
            QueuedSpanProcessor(span_exporter, destination, accounting, **queue_options)
        )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for destination, log_exporter in logs:
        logger_provider.add_log_record_processor(
            QueuedLogRecordProcessor(log_exporter, destination, accounting, **queue_options)
        )

    propagate.set_global_textmap(_propagator_from_environment())
    providers.install(tracer_provider, logger_provider)
    _current = Telemetry(
        resource=resource,
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
        privacy=privacy or DEFAULT_POLICY,
        accounting=accounting,
        destinations=sorted({name for name, _ in [*spans, *logs]}),
    )
    return _current


def meter(name: str) -> metrics.Meter:
    """A meter from the current handle (the global one before ``configure``)."""
    if _current is not None:
        return _current.meter_provider.get_meter(name)
    return metrics.get_meter(name)


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class _Destination:
    name: str
    spans: SpanExporter | None
    logs: LogRecordExporter | None
    reader: MetricReader | None


def _named(
    explicit: Sequence[Any] | None, from_environment: list[_Destination], signal: str
) -> list[tuple[str, Any]]:
    if explicit is not None:
        return [(type(exporter).__name__, exporter) for exporter in explicit]
    found = ((d.name, getattr(d, signal)) for d in from_environment)
    return [(name, exporter) for name, exporter in found if exporter is not None]


def _destinations_from_environment() -> list[_Destination]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    destinations: list[_Destination] = []
    otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    connection_string = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if otlp:
        # The exporters read the endpoint, headers and timeouts from the standard variables.
        destinations.append(
            _Destination(
                f"OTLP {otlp}",
                OTLPSpanExporter(),
                OTLPLogExporter(),
                PeriodicExportingMetricReader(OTLPMetricExporter()),
            )
        )
    if connection_string:
        destinations.append(_azure_monitor(connection_string))
    if not destinations:
        destinations.append(
            _Destination(
                f"embedded collector {EMBEDDED_ENDPOINT}",
                OTLPSpanExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/traces"),
                OTLPLogExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/logs"),
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/metrics")
                ),
            )
        )
    for destination in destinations:
        if _disabled("OTEL_TRACES_EXPORTER"):
            destination.spans = None
        if _disabled("OTEL_LOGS_EXPORTER"):
            destination.logs = None
        if _disabled("OTEL_METRICS_EXPORTER"):
            destination.reader = None
    return destinations


def _env_int(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        _log.warning("%s=%r is not a whole number; using %d", variable, raw, default)
        return default
    return max(1, value)


def _disabled(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() == "none"


def _azure_monitor(connection_string: str) -> _Destination:
    try:
        from azure.monitor.opentelemetry.exporter import (
            AzureMonitorLogExporter,
            AzureMonitorMetricExporter,
            AzureMonitorTraceExporter,
        )
    except ImportError as error:
        raise RuntimeError(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is set but the Azure Monitor exporter is "
            "not installed: pip install 'bot-telemetry[azure]'"
        ) from error
    return _Destination(
        "Azure Monitor",
        WithoutCustomEventSpanEvents(AzureMonitorTraceExporter(connection_string=connection_string)),
        AzureMonitorLogExporter(connection_string=connection_string),
        PeriodicExportingMetricReader(
            AzureMonitorMetricExporter(connection_string=connection_string)
        ),
    )


def _propagator_from_environment() -> TextMapPropagator:
    names = os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage")
    chosen: list[TextMapPropagator] = []
    for name in (n.strip() for n in names.split(",")):
        if not name or name == "none":
            continue
        chosen.append(_propagator_named(name))
    return CompositePropagator(chosen)


def _propagator_named(name: str) -> TextMapPropagator:
    # tracecontext and baggage are ours: stricter than the SDK's on the W3C rules.
    from ..correlation.propagators import BaggagePropagator, TraceContextPropagator

    if name == "tracecontext":
        return TraceContextPropagator()
    if name == "baggage":
        return BaggagePropagator()
    from importlib.metadata import entry_points

    for entry_point in entry_points(group="opentelemetry_propagator", name=name):
        propagator: TextMapPropagator = entry_point.load()()
        return propagator
    raise ValueError(f"OTEL_PROPAGATORS names an unknown propagator: {name!r}")
