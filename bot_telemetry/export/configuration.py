"""``configure``: one call that sets up OpenTelemetry for a bot or one of its services."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, propagate
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from ..privacy.policy import DEFAULT_POLICY, PrivacyPolicy
from . import providers

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
    destinations: list[str] = field(default_factory=list)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything queued so far; False if some of it could not be exported in time."""
        spans = self.tracer_provider.force_flush(timeout_millis)
        logs = self.logger_provider.force_flush(timeout_millis)
        return bool(spans and logs)

    def shutdown(self) -> None:
        """Flush and stop every exporter. Idempotent."""
        global _current
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()
        if _current is self:
            providers.uninstall()
            _current = None


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
    max_queue_size: int = 2048,
    schedule_delay_millis: int = 1000,
) -> Telemetry:
    """Set up tracing, custom events and metrics for this process and return a handle.

    Exporters come from the standard variables unless given: ``OTEL_EXPORTER_OTLP_ENDPOINT``
    sends OTLP/HTTP there, ``APPLICATIONINSIGHTS_CONNECTION_STRING`` sends to Azure Monitor,
    neither sends OTLP/HTTP to the embedded collector on 127.0.0.1:4318. Calling it again
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
    resource = Resource.create(attributes)

    destinations: list[str] = []
    if span_exporters is None or log_exporters is None or metric_readers is None:
        env_spans, env_logs, env_readers, destinations = _exporters_from_environment()
        span_exporters = env_spans if span_exporters is None else span_exporters
        log_exporters = env_logs if log_exporters is None else log_exporters
        metric_readers = env_readers if metric_readers is None else metric_readers
    else:
        destinations = ["explicit exporters"]

    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for span_exporter in span_exporters:
        tracer_provider.add_span_processor(
            BatchSpanProcessor(
                span_exporter,
                max_queue_size=max_queue_size,
                schedule_delay_millis=schedule_delay_millis,
            )
        )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for log_exporter in log_exporters:
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(
                log_exporter,
                max_queue_size=max_queue_size,
                schedule_delay_millis=schedule_delay_millis,
            )
        )
    meter_provider = MeterProvider(
        resource=resource, metric_readers=list(metric_readers), shutdown_on_exit=False
    )
    if not _global_meter_provider_set:
        # The metrics API takes one global provider per process; later handles keep their own
        # meter provider, which our components reach through ``meter()``.
        metrics.set_meter_provider(meter_provider)
        _global_meter_provider_set = True

    propagate.set_global_textmap(_propagator_from_environment())
    providers.install(tracer_provider, logger_provider)
    _current = Telemetry(
        resource=resource,
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
        privacy=privacy or DEFAULT_POLICY,
        destinations=destinations,
    )
    return _current


def meter(name: str) -> metrics.Meter:
    """A meter from the current handle (the global one before ``configure``)."""
    if _current is not None:
        return _current.meter_provider.get_meter(name)
    return metrics.get_meter(name)


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _exporters_from_environment() -> tuple[
    list[SpanExporter], list[LogRecordExporter], list[MetricReader], list[str]
]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    spans: list[SpanExporter] = []
    logs: list[LogRecordExporter] = []
    readers: list[MetricReader] = []
    destinations: list[str] = []

    otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    connection_string = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if otlp:
        # The exporters read the endpoint, headers and timeouts from the standard variables.
        spans.append(OTLPSpanExporter())
        logs.append(OTLPLogExporter())
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        destinations.append(f"OTLP {otlp}")
    if connection_string:
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
        spans.append(AzureMonitorTraceExporter(connection_string=connection_string))
        logs.append(AzureMonitorLogExporter(connection_string=connection_string))
        readers.append(
            PeriodicExportingMetricReader(
                AzureMonitorMetricExporter(connection_string=connection_string)
            )
        )
        destinations.append("Azure Monitor")
    if not destinations:
        spans.append(OTLPSpanExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/traces"))
        logs.append(OTLPLogExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/logs"))
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/metrics")
            )
        )
        destinations.append(f"embedded collector {EMBEDDED_ENDPOINT}")

    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip() == "none":
        spans = []
    if os.environ.get("OTEL_LOGS_EXPORTER", "").strip() == "none":
        logs = []
    if os.environ.get("OTEL_METRICS_EXPORTER", "").strip() == "none":
        readers = []
    return spans, logs, readers, destinations


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
