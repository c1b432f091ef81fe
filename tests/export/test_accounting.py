"""A telemetry backend that fails: the loss is counted exactly and reported once."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord, get_logger
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bot_telemetry import configure
from bot_telemetry.export.accounting import DROPPED_METRIC
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.ports import free_port
from tests.support.waiting import wait_for


class Backend:
    """A real OTLP/HTTP endpoint whose answer the test sets: a status code, or a hang."""

    def __init__(self) -> None:
        self.status = 200
        self.release = threading.Event()
        self.release.set()
        self.spans_received = 0
        self.requests = 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                backend.requests += 1
                backend.release.wait(30)
                if backend.status == 200:
                    request = ExportTraceServiceRequest.FromString(body)
                    backend.spans_received += sum(
                        len(scope.spans)
                        for resource in request.resource_spans
                        for scope in resource.scope_spans
                    )
                self.send_response(backend.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for the loop's next poll: 0.5 s by default, a test's teardown each
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def backend(monkeypatch) -> Iterator[Backend]:
    running = Backend()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.url)
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    yield running
    running.close()


def emit(count: int) -> None:
    tracer = trace.get_tracer("test")
    for index in range(count):
        with tracer.start_as_current_span(f"span {index}"):
            pass


def test_failed_export_is_counted_logged_once_and_recovers(backend, caplog):
    backend.status = 500
    handle = configure("bot")
    try:
        with caplog.at_level(logging.DEBUG):
            for _ in range(3):
                emit(10)
                handle.force_flush()
        assert handle.dropped() == {"traces/export_failed": 30}
        assert backend.requests == 3
        ours = [r for r in caplog.records if r.name == "bot_telemetry.export"]
        assert len(ours) == 1 and "is failing" in ours[0].getMessage()
        assert DROPPED_METRIC in ours[0].getMessage()
        assert "resumes by itself when the backend answers again" in ours[0].getMessage()
        assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]

        backend.status = 200
        emit(5)
        handle.force_flush()
        assert backend.spans_received == 5
        recovered = [r for r in caplog.records if r.name == "bot_telemetry.export"][1:]
        assert len(recovered) == 1
        assert "recovered; 30 items were dropped" in recovered[0].getMessage()
    finally:
        handle.shutdown()


def test_full_queue_drops_are_counted_exactly(backend):
    backend.release.clear()  # the backend hangs: the export thread is stuck on one batch
    handle = configure("bot", max_queue_size=8, schedule_delay_millis=10)
    try:
        emit(100)
        backend.release.set()
        handle.force_flush()
        dropped = handle.dropped().get("traces/queue_full", 0)
        assert dropped > 0
        assert backend.spans_received + dropped == 100
    finally:
        handle.shutdown()


def test_backend_down_never_raises_and_counts(backend, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # retries give up after a second
    backend.close()
    handle = configure("bot")
    try:
        emit(4)
        handle.force_flush()
        assert handle.dropped() == {"traces/export_failed": 4}
    finally:
        handle.shutdown()


def test_queue_size_comes_from_the_standard_variable(backend, monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "3")
    backend.release.clear()
    handle = configure("bot")
    try:
        emit(3)  # a full batch wakes the export thread, which then hangs on the backend
        wait_for(lambda: backend.requests == 1, what="the first export request")
        emit(5)  # three fit in the queue, two do not
        assert handle.dropped() == {"traces/queue_full": 2}
        backend.release.set()
        handle.force_flush()
        assert backend.spans_received == 6
    finally:
        handle.shutdown()


def test_shutdown_with_the_backend_failing_waits_for_the_batch_in_flight_only(backend):
    backend.status = 500
    backend.release.clear()
    handle = configure("bot")
    emit(512)  # a full batch: the export thread takes it and hangs on the backend
    wait_for(lambda: backend.requests == 1, what="the first export request")
    emit(1536)  # three more batches wait in the queue
    closing = threading.Thread(target=handle.shutdown)
    closing.start()
    probes = 0

    def refused_after_close() -> bool:
        nonlocal probes
        emit(1)
        probes += 1
        return handle.dropped().get("traces/shutdown", 0) > 0

    wait_for(refused_after_close, what="the queue to close")
    backend.release.set()
    closing.join(30)
    assert not closing.is_alive()
    # The failed batch in flight is the only try: what is queued is counted, not retried.
    assert backend.requests == 1
    assert handle.dropped() == {
        "traces/export_failed": 512,
        "traces/shutdown": 1536 + probes,
    }


@pytest.mark.parametrize("headers", [None, "Authorization=Bearer wrong-token-0123456789"])
def test_a_refused_credential_says_so_and_what_to_check(
    headers: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """A serve with --token and a bot without it (or with another): the 401 never heals by
    itself, so the line must not promise that export resumes when the backend answers."""
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, token="the-right-token-0123456789")
    with CollectorThread(config) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
        if headers is None:
            monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
        else:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", headers)
        handle = configure("bot")
        try:
            with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
                emit(3)
                handle.force_flush()
        finally:
            handle.shutdown()
    assert handle.dropped() == {"traces/export_failed": 3}
    ours = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    assert len(ours) == 1, ours
    assert "code: 401" in ours[0]  # the exporter's reason, code included, is kept
    assert "the credentials were refused (401)" in ours[0]
    assert "OTEL_EXPORTER_OTLP_HEADERS" in ours[0] and "--token" in ours[0]
    assert "resumes by itself" not in ours[0]


def test_a_partial_success_counts_only_the_rejected_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """serve stores what it can and answers 200 with ``partial_success.rejected_spans`` for
    the rest (a span ending after 2262): every span was counted as delivered; now the one
    rejected is lost, as rejected, and said once without the span's name."""
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0)
    with CollectorThread(config) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
        handle = configure("bot")
        try:
            with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
                emit(3)
                late = trace.get_tracer("test").start_span("alice's span")
                late.end(end_time=2**63 + 1)
                assert handle.force_flush()
                emit(2)  # a second refusal of the kind is only counted
                late = trace.get_tracer("test").start_span("alice's span")
                late.end(end_time=2**63 + 1)
                assert handle.force_flush()
        finally:
            handle.shutdown()
    assert handle.dropped() == {"traces/rejected": 2}
    ours = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    assert len(ours) == 1, ours
    assert "refused 1 of 4 spans" in ours[0]
    assert "has a start or end time after 2262" in ours[0]
    assert "alice" not in ours[0]


def test_a_partial_success_counts_only_the_rejected_log_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """The same for custom events and other log records: serve answers
    ``partial_success.rejected_log_records`` for a record dated after 2262; only that record
    is lost (``logs/rejected``), said once without its body."""
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0)
    with CollectorThread(config) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
        handle = configure("bot")
        logger = get_logger("test")
        try:
            with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
                for index in range(3):
                    logger.emit(LogRecord(body=f"fine {index}", event_name="Fine"))
                logger.emit(LogRecord(timestamp=2**63 + 1, body="alice's order"))
                assert handle.force_flush()
                logger.emit(LogRecord(body="fine again", event_name="Fine"))
                logger.emit(LogRecord(timestamp=2**63 + 1, body="alice's order"))
                assert handle.force_flush()
        finally:
            handle.shutdown()
        with urllib.request.urlopen(f"{collector.url}/api/events?name=Fine", timeout=30) as got:
            stored = json.loads(got.read())
    assert handle.dropped() == {"logs/rejected": 2}
    assert len(stored) == 4
    ours = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    assert len(ours) == 1, ours
    assert "refused 1 of 4 log records" in ours[0]
    assert "a log record has a time after 2262" in ours[0]
    assert "alice" not in ours[0]


def test_a_grpc_partial_success_counts_only_the_rejected_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """The same through the SDK's OTLP/gRPC exporters given to ``configure()``: serve's gRPC
    receiver answers ``partial_success`` too, which the exporter's ``export()`` drops (every
    span and record counted as delivered); now only the rejected ones are lost, by serve's
    reason, said once per signal without their data."""
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
        OTLPLogExporter as GrpcLogExporter,
    )
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0)
    with CollectorThread(config) as collector:
        assert collector._running is not None and collector._running.grpc_url
        url = collector._running.grpc_url
        handle = configure(
            "bot",
            span_exporters=[GrpcSpanExporter(endpoint=url, insecure=True)],
            log_exporters=[GrpcLogExporter(endpoint=url, insecure=True)],
            metric_readers=[],
        )
        logger = get_logger("test")
        try:
            with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
                for _ in range(2):  # a second refusal of each kind is only counted
                    emit(3)
                    late = trace.get_tracer("test").start_span("alice's span")
                    late.end(end_time=2**63 + 1)
                    for index in range(2):
                        logger.emit(LogRecord(body=f"fine {index}", event_name="Fine"))
                    logger.emit(LogRecord(timestamp=2**63 + 1, body="alice's order"))
                    assert handle.force_flush()
        finally:
            handle.shutdown()
        with urllib.request.urlopen(f"{collector.url}/api/events?name=Fine", timeout=30) as got:
            stored = json.loads(got.read())
    assert handle.dropped() == {"traces/rejected": 2, "logs/rejected": 2}
    assert len(stored) == 4
    ours = sorted(r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export")
    assert len(ours) == 2, ours
    assert "refused 1 of 3 log records" in ours[0]
    assert "a log record has a time after 2262" in ours[0]
    assert "refused 1 of 4 spans" in ours[1]
    assert "has a start or end time after 2262" in ours[1]
    assert "alice" not in " ".join(ours)


def test_a_grpc_partial_success_is_read_after_the_exporter_reconnects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After UNAVAILABLE the gRPC exporter makes a new channel and client: that client's
    answers are read too (the exporter starts while serve is not there yet)."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
    port = free_port()
    # A timeout shorter than the first backoff: one try, then the batch is lost.
    exporter = GrpcSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=0.5)
    first_client = exporter._client
    handle = configure("bot", span_exporters=[exporter], log_exporters=[], metric_readers=[])
    try:
        emit(1)
        assert not handle.force_flush()  # nothing listens: UNAVAILABLE, a new channel
        assert exporter._client is not first_client
        config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=port)
        with CollectorThread(config) as _collector:
            emit(2)
            late = trace.get_tracer("test").start_span("late")
            late.end(end_time=2**63 + 1)
            assert handle.force_flush()
    finally:
        handle.shutdown()
    assert handle.dropped() == {"traces/export_failed": 1, "traces/rejected": 1}
