from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import _logs as logs
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as sdk_encode_spans,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from bot_telemetry import configure
from bot_telemetry.export import otlp_encoding
from bot_telemetry.export.otlp_encoding import encode_logs, encode_spans, otlp_sender
from bot_telemetry.signals.custom_events import track_custom_event
from tests.support.ports import free_port
from tests.support.telemetry import CapturedTelemetry
from tests.support.waiting import wait_for

ALL_KINDS: dict[str, Any] = {
    "text": "héllo ✓",
    "empty": "",
    "yes": True,
    "no": False,
    "one": 1,
    "negative": -42,
    "big": 2**63 - 1,
    "smallest": -(2**63),
    "ratio": 0.25,
    "zero": 0.0,
    "words": ["a", "b"],
    "numbers": [1, -2, 3],
    "flags": [True, False],
    "floats": [1.5, -0.5],
}


def _spans_request(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(encode_spans(spans))


def _logs_request(records: list[ReadableLogRecord]) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest.FromString(encode_logs(records))


def _with_resource(span: ReadableSpan, resource: Resource) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def test_spans_parse_to_what_the_sdk_encodes(telemetry: CapturedTelemetry) -> None:
    tracer = trace.get_tracer("bot", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.26.0")
    other = trace.get_tracer("other")
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    linked = SpanContext(0x1234, 0x5678, is_remote=False)
    with tracer.start_as_current_span(
        "turn",
        context=trace.set_span_in_context(trace.NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes=ALL_KINDS,
        links=[Link(linked, {"why": "batch", "count": 2})],
    ) as turn:
        turn.add_event("BotMessageReceived", {"activityId": "a-1", "score": 0.5})
        turn.add_event("bare")
        with other.start_as_current_span("nlu", kind=SpanKind.CLIENT) as call:
            call.set_attribute("peer.service", "nlu")
            call.record_exception(ValueError("broken"))
            call.set_status(Status(StatusCode.ERROR, "broken"))
        with tracer.start_as_current_span("ok") as ok:
            ok.set_status(Status(StatusCode.OK))
    spans = list(telemetry.spans())
    spans.append(_with_resource(spans[0], Resource({"service.name": "elsewhere"})))

    assert _spans_request(spans) == sdk_encode_spans(spans)


def test_log_records_parse_to_what_the_sdk_encodes(telemetry: CapturedTelemetry) -> None:
    logger = logs.get_logger("bot", "2.0")
    with trace.get_tracer("bot").start_as_current_span("turn") as turn:
        track_custom_event(
            "OrderPlaced", {"conversationId": "c-1", "items": ["a", "b"]}, {"total": 3}, span=turn
        )
        logger.emit(
            body={"nested": [1, "two", {"three": 3.0}], "flag": True},
            attributes={"kind": "structured", "values": [1, 2]},
            severity_number=logs.SeverityNumber.WARN,
            severity_text="WARN",
        )
    logger.emit(body="outside a span")  # no trace id, no severity
    logger.emit(attributes={"only": "attributes"})  # no body
    records = list(telemetry.logs())

    assert _logs_request(records) == sdk_encode_logs(records)


SCALARS = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(st.text(), max_size=3),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=3),
    st.lists(st.floats(allow_nan=False), max_size=3),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attributes=st.dictionaries(st.text(min_size=1), VALUES, max_size=6))
def test_any_attributes_parse_to_what_the_sdk_encodes(
    telemetry: CapturedTelemetry, attributes: dict[str, Any]
) -> None:
    telemetry.clear()
    with trace.get_tracer("bot").start_as_current_span("span", attributes=attributes) as span:
        span.add_event("event", attributes)
    spans = list(telemetry.spans())
    # Twice: the second time the pairs come from the cache.
    assert _spans_request(spans) == sdk_encode_spans(spans)
    assert _spans_request(spans) == sdk_encode_spans(spans)


def test_the_attribute_cache_is_bounded(telemetry: CapturedTelemetry) -> None:
    tracer = trace.get_tracer("bot")
    for number in range(otlp_encoding._CACHED_PAIRS + 100):
        with tracer.start_as_current_span("span", attributes={"activityId": f"a-{number}"}):
            pass
    encode_spans(telemetry.spans())
    assert 0 < len(otlp_encoding._pairs) <= otlp_encoding._CACHED_PAIRS


def test_only_the_sdk_otlp_exporters_are_encoded_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def fallback(batch: Any) -> bool:
        return True

    class Subclassed(OTLPSpanExporter):
        pass

    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"
    assert otlp_sender(OTLPSpanExporter(endpoint=endpoint), fallback) is not fallback
    assert otlp_sender(OTLPLogExporter(endpoint=endpoint), fallback) is not fallback
    assert otlp_sender(InMemorySpanExporter(), fallback) is fallback
    assert otlp_sender(Subclassed(endpoint=endpoint), fallback) is fallback
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    assert otlp_sender(OTLPSpanExporter(endpoint=endpoint), fallback) is fallback


@dataclass
class OtlpReceiver:
    """A local OTLP/HTTP endpoint: parses every request as the real protocol says."""

    url: str
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    logs: list[ExportLogsServiceRequest] = field(default_factory=list)
    encodings: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    port = free_port()
    found = OtlpReceiver(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            encoding = self.headers.get("Content-Encoding", "")
            found.encodings.append(encoding)
            if encoding == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                found.traces.append(ExportTraceServiceRequest.FromString(body))
            elif self.path == "/v1/logs":
                found.logs.append(ExportLogsServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    # shutdown() waits for the loop's next poll: 0.5 s by default
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def test_batches_reach_an_otlp_endpoint_through_the_sdk_client(receiver: OtlpReceiver) -> None:
    memory = InMemorySpanExporter()
    handle = configure(
        "bot",
        span_exporters=[
            OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces", compression=Compression.Gzip),
            memory,
        ],
        log_exporters=[OTLPLogExporter(endpoint=f"{receiver.url}/v1/logs")],
        metric_readers=[],
    )
    try:
        with trace.get_tracer("bot").start_as_current_span("turn") as turn:
            track_custom_event("BotMessageReceived", {"activityId": "a-1"}, span=turn)
        assert handle.force_flush(10_000)
        wait_for(lambda: bool(receiver.traces and receiver.logs), what="both requests")
    finally:
        handle.shutdown()

    assert receiver.traces == [sdk_encode_spans(memory.get_finished_spans())]
    assert "gzip" in receiver.encodings, "the exporter's compression setting is kept"
    (record,) = receiver.logs[0].resource_logs[0].scope_logs[0].log_records
    assert record.event_name == "BotMessageReceived"
    assert handle.dropped() == {}


def test_a_shut_down_exporter_refuses_as_the_sdk_does(
    receiver: OtlpReceiver, telemetry: CapturedTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    with trace.get_tracer("bot").start_as_current_span("turn"):
        pass
    exporter = OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces")
    send = otlp_sender(exporter, lambda batch: exporter.export(batch) is SpanExportResult.SUCCESS)
    exporter.shutdown()
    with caplog.at_level(logging.WARNING):
        assert send(telemetry.spans()) is False
    assert "already shutdown" in caplog.text
    assert receiver.traces == []
