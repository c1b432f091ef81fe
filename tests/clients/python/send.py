"""Export spans, log records and metrics with the official Python OpenTelemetry SDK, then exit.

Runs in its own virtualenv (tests/clients/python/requirements.txt), not bot-telemetry's:

    python send.py grpc|http ENDPOINT SERVICE [--gzip] [--token T]

Prints "RESULT " and a JSON line with the trace ids it made and every failed export; exits 0
only when every export succeeded.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

failures: list[str] = []
exported = 0


def recorded(signal: str, exporter: Any, success: Any) -> Any:
    """The exporter, counting each export and keeping every failure."""
    original = exporter.export

    def export(*args: Any, **kwargs: Any) -> Any:
        global exported
        result = original(*args, **kwargs)
        exported += 1
        if result != success:
            failures.append(f"{signal}: {result}")
        return result

    exporter.export = export
    return exporter


def exporters(protocol: str, endpoint: str, token: str | None, gzip: bool) -> tuple[Any, Any, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if protocol == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        common: dict[str, Any] = {
            "endpoint": endpoint,
            "insecure": True,
            "headers": headers,
            "timeout": 10,
            "compression": Compression.Gzip if gzip else Compression.NoCompression,
        }
        return OTLPSpanExporter(**common), OTLPLogExporter(**common), OTLPMetricExporter(**common)
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetrics,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

    compression = HttpCompression.Gzip if gzip else HttpCompression.NoCompression
    options: dict[str, Any] = {"headers": headers, "compression": compression, "timeout": 10}
    return (
        HttpSpans(endpoint=f"{endpoint}/v1/traces", **options),
        HttpLogs(endpoint=f"{endpoint}/v1/logs", **options),
        HttpMetrics(endpoint=f"{endpoint}/v1/metrics", **options),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("protocol", choices=["grpc", "http"])
    parser.add_argument("endpoint")
    parser.add_argument("service")
    parser.add_argument("--token")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    spans, logs, metrics = exporters(args.protocol, args.endpoint, args.token, args.gzip)
    resource = Resource.create(
        {"service.name": args.service, "service.version": "3.1.0", "host.name": "test-host"}
    )

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(recorded("traces", spans, SpanExportResult.SUCCESS))
    )
    tracer = tracer_provider.get_tracer("send.py", "1.0.0")
    with tracer.start_as_current_span("linked-root") as linked:
        pass
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent.set_attributes(
            {
                "s": "text",
                "b": True,
                "i": 42,
                "d": 1.5,
                "nan": math.nan,
                "inf": -math.inf,
                "strs": ["a", "b"],
                "ints": [1, 2],
            }
        )
        parent.add_event("turn.started", {"e.k": "v"})
        link = Link(linked.get_span_context(), {"link.kind": "follows"})
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT, links=[link]) as child:
            child.set_attribute("peer.service", "downstream")
            child.set_status(Status(StatusCode.ERROR, "boom"))
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(recorded("logs", logs, LogRecordExportResult.SUCCESS))
        )
        logger = logger_provider.get_logger("send.py", "1.0.0")
        logger.emit(body="plain log", severity_number=SeverityNumber.INFO, severity_text="INFO")
        logger.emit(event_name="py.field_event", body={"map": {"x": 1}})
        logger.emit(attributes={"event.name": "py.attribute_event"})
        logger.emit(attributes={"microsoft.custom_event.name": "PyCustomEvent", "answer": "yes"})
        logger.emit(severity_number=SeverityNumber.ERROR)  # a severity number, nothing else
        logger_provider.shutdown()
    tracer_provider.shutdown()

    reader = PeriodicExportingMetricReader(
        recorded("metrics", metrics, MetricExportResult.SUCCESS), export_interval_millis=600_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter("send.py", "1.0.0")
    meter.create_counter("py.requests").add(3, {"route": "/x"})
    meter.create_gauge("py.temperature", unit="Cel").set(21.5)
    latency = meter.create_histogram("py.latency", unit="ms")
    for value in (3.0, 12.0, 12.0, 40.0, 700.0):
        latency.record(value)
    meter_provider.shutdown()

    print(
        "RESULT "
        + json.dumps(
            {
                "trace_id": format(parent.get_span_context().trace_id, "032x"),
                "linked_trace_id": format(linked.get_span_context().trace_id, "032x"),
                "exports": exported,
                "failures": failures,
            }
        )
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
