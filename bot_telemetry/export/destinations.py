"""Where telemetry goes, from the standard environment variables.

``OTEL_EXPORTER_OTLP_ENDPOINT`` sends OTLP/HTTP there, ``APPLICATIONINSIGHTS_CONNECTION_STRING``
sends to Azure Monitor, neither sends OTLP/HTTP to the embedded collector on 127.0.0.1:4318.
``OTEL_{TRACES,LOGS,METRICS}_EXPORTER=none`` switches one signal off for those; ``otlp`` (the
default) leaves it on; any other value (``console``, ``zipkin``) is logged and ignored.
``POSTHOG_API_KEY`` (with ``POSTHOG_HOST``) adds PostHog, for custom events, beside them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import SpanExporter

from .azure_monitor import WithOfflineStorage, WithoutCustomEventSpanEvents, exporter_options

_log = logging.getLogger(__name__)

#: Where the embedded collector (``bot-telemetry serve``) listens by default.
EMBEDDED_ENDPOINT = "http://127.0.0.1:4318"


@dataclass
class Destination:
    """One backend: an exporter per signal (``None`` where that signal is switched off).

    The metric reader is made only when it is used: a periodic reader starts its thread when
    it is made, and one never given to a MeterProvider would warn on every interval."""

    name: str
    spans: SpanExporter | None
    logs: LogRecordExporter | None
    reader: Callable[[], MetricReader] | None


def named(
    explicit: Sequence[Any] | None, from_environment: list[Destination], signal: str
) -> list[tuple[str, Any]]:
    """(destination name, exporter) pairs for one signal: the explicit exporters, else the
    environment's."""
    if explicit is not None:
        return [(type(exporter).__name__, exporter) for exporter in explicit]
    found = ((d.name, getattr(d, signal)) for d in from_environment)
    return [(name, exporter) for name, exporter in found if exporter is not None]


def destinations_from_environment() -> list[Destination]:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    destinations: list[Destination] = []
    otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    connection_string = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if otlp:
        if not re.match(r"^https?://[^/\s]+", otlp):
            # The SDK would take it and fail every export ("No connection adapters were
            # found"), an outage that never ends.
            raise ValueError(
                f"OTEL_EXPORTER_OTLP_ENDPOINT={otlp!r} is not an http(s) URL such as "
                "http://otel-collector:4318"
            )
        # The exporters read the endpoint, headers and timeouts from the standard variables.
        destinations.append(
            Destination(
                f"OTLP {otlp}",
                OTLPSpanExporter(),
                OTLPLogExporter(),
                lambda: PeriodicExportingMetricReader(OTLPMetricExporter()),
            )
        )
    if connection_string:
        destinations.append(_azure_monitor(connection_string))
    if not destinations:
        destinations.append(
            Destination(
                f"embedded collector {EMBEDDED_ENDPOINT}",
                OTLPSpanExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/traces"),
                OTLPLogExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/logs"),
                lambda: PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=f"{EMBEDDED_ENDPOINT}/v1/metrics")
                ),
            )
        )
    no_spans, no_logs, no_metrics = (
        _disabled(f"OTEL_{signal}_EXPORTER") for signal in ("TRACES", "LOGS", "METRICS")
    )
    for destination in destinations:
        if no_spans:
            destination.spans = None
        if no_logs:
            destination.logs = None
        if no_metrics:
            destination.reader = None
    # Beside the others, never instead of them; its own variables switch it on and off.
    posthog = _posthog()
    if posthog is not None:
        destinations.append(posthog)
    return destinations


def env_int(variable: str, default: int) -> int:
    """A positive whole number from the environment; a bad value (not a whole number, or
    0 or less) is logged and the default used."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        _log.warning("%s=%r is not a positive whole number; using %d", variable, raw, default)
        return default
    return value


#: What ``OTEL_{TRACES,LOGS,METRICS}_EXPORTER`` may say: the signal on (the spec's default,
#: ``otlp``) or off. The destinations come from the variables above, not from these.
EXPORTER_VALUES = ("otlp", "none")


def _disabled(variable: str) -> bool:
    raw = os.environ.get(variable, "").strip()
    if raw and raw.lower() not in EXPORTER_VALUES:
        # It was ignored without a word: OTEL_TRACES_EXPORTER=console printed nothing and
        # exported as before, so the operator could not tell their setting had no effect.
        _log.warning(
            "%s=%r is not supported and is ignored: configure() takes 'otlp' (the default: "
            "the signal goes to the destinations it exports to) or 'none' (the signal off)",
            variable,
            raw,
        )
    return raw.lower() == "none"


def _posthog() -> Destination | None:
    from ..posthog import PostHogSettings
    from ..posthog.forwarder import destination_name
    from .posthog import PostHogLogExporter

    settings = PostHogSettings.from_environment()
    if settings is None:
        return None
    return Destination(destination_name(settings), None, PostHogLogExporter(settings), None)


def _azure_monitor(connection_string: str) -> Destination:
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
    # Connect and read bounded by the export timeout (azure-core would read for 300 s).
    options = exporter_options()
    try:
        spans = AzureMonitorTraceExporter(connection_string=connection_string, **options)
    except ValueError as error:  # the exporter's own says only "Invalid connection string"
        raise ValueError(
            f"APPLICATIONINSIGHTS_CONNECTION_STRING is not an Application Insights connection "
            f"string ({error}); copy it from the resource's Overview page: "
            "InstrumentationKey=...;IngestionEndpoint=https://..."
        ) from None
    return Destination(
        "Azure Monitor",
        WithoutCustomEventSpanEvents(spans),
        WithOfflineStorage(AzureMonitorLogExporter(connection_string=connection_string, **options)),
        lambda: PeriodicExportingMetricReader(
            AzureMonitorMetricExporter(connection_string=connection_string, **options)
        ),
    )
