"""The OTLP/HTTP receiver, fed by the OpenTelemetry SDK's own exporters and by raw requests."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot_telemetry.store.database import Store
from bot_telemetry.web import CollectorThread, ConfigError, ServerConfig
from tests.collector.conftest import Populated


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def recorded_spans(count: int, service: str = "svc") -> list[Any]:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root"):
        for index in range(count - 1):
            with tracer.start_as_current_span(f"child {index}"):
                pass
    return list(memory.get_finished_spans())


def trace_span_count(url: str, trace_id: str) -> int:
    return len(get_json(f"{url}/api/traces/{trace_id}")["spans"])


def test_sdk_exports_of_four_services_are_all_stored(populated: Populated) -> None:
    found = get_json(f"{populated.url}/api/traces")
    assert sorted(t["trace_id"] for t in found) == sorted(populated.sent.turn_traces)
    for summary in found:
        # channel client + server, bot server + turn + 4 dependency calls, nlu/qna servers
        assert summary["spans"] == 10
        assert summary["services"] == ["bot", "channel", "nlu", "qna"]


def test_a_retried_export_is_stored_once(collector: CollectorThread) -> None:
    spans = recorded_spans(5)
    exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces")
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS  # the retry
    trace_id = format(spans[0].context.trace_id, "032x")
    assert trace_span_count(collector.url, trace_id) == 5

    provider = LoggerProvider(resource=Resource.create({"service.name": "svc"}))
    memory = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("test").emit(
        body="OrderPlaced", attributes={"microsoft.custom_event.name": "OrderPlaced"}
    )
    logs = OTLPLogExporter(endpoint=f"{collector.url}/v1/logs")
    records = list(memory.get_finished_logs())
    logs.export(records)
    logs.export(records)
    events = get_json(f"{collector.url}/api/events?name=OrderPlaced")
    assert len(events) == 1


def test_otlp_json_with_hex_ids_is_accepted(collector: CollectorThread) -> None:
    trace_id = "5b8efff798038103d269b633813fc60c"
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "js-bot"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": "eee19b7ec3c1b174",
                                "name": "GET /health",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000250000000",
                                "attributes": [
                                    {"key": "http.route", "value": {"stringValue": "/health"}}
                                ],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    status, _, content_type = post(
        f"{collector.url}/v1/traces",
        json.dumps(document).encode(),
        {"Content-Type": "application/json"},
    )
    assert (status, content_type) == (200, "application/json")
    trace = get_json(f"{collector.url}/api/traces/{trace_id}")
    (span,) = trace["spans"]
    assert (span["service"], span["name"], span["kind"], span["status"]) == (
        "js-bot",
        "GET /health",
        "server",
        "error",
    )
    assert span["duration_ms"] == 250.0
    assert span["attributes"] == {"http.route": "/health"}


def test_invalid_spans_are_rejected_and_the_rest_kept(collector: CollectorThread) -> None:
    spans = recorded_spans(2)
    request = ExportTraceServiceRequest()
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request.CopyFrom(encode_spans(spans))
    bad = request.resource_spans[0].scope_spans[0].spans.add()
    bad.name = "no ids"
    status, body, _ = post(
        f"{collector.url}/v1/traces",
        request.SerializeToString(),
        {"Content-Type": "application/x-protobuf"},
    )
    assert status == 200
    response = ExportTraceServiceResponse.FromString(body)
    assert response.partial_success.rejected_spans == 1
    assert "no ids" in response.partial_success.error_message
    assert trace_span_count(collector.url, format(spans[0].context.trace_id, "032x")) == 2


def _status_message(body: bytes, content_type: str) -> str:
    if content_type == "application/x-protobuf":
        return status_pb2.Status.FromString(body).message
    message: str = json.loads(body)["message"]
    return message


@pytest.mark.parametrize(
    ("headers", "body", "expected_status", "reason"),
    [
        ({"Content-Type": "text/plain"}, b"hello", 415, "unsupported content type 'text/plain'"),
        (
            {"Content-Type": "application/grpc"},
            b"hello",
            415,
            "unsupported content type 'application/grpc'",
        ),
        (
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "br"},
            b"x",
            415,
            "unsupported content encoding 'br'",
        ),
        (
            {"Content-Type": "application/x-protobuf"},
            b"\xff\xff\xff\xff",
            400,
            "not a valid ExportTraceServiceRequest protobuf",
        ),
        ({"Content-Type": "application/json"}, b"{not json", 400, "not valid JSON"),
        ({"Content-Type": "application/json"}, b"[1, 2]", 400, "must be a JSON object"),
        (
            {"Content-Type": "application/json"},
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            400,
            "traceId 'zz' is not a hex string",
        ),
        (
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            b"not gzip",
            400,
            "not valid gzip",
        ),
        ({"Content-Type": "application/x-protobuf"}, b"\x00" * 5000, 413, "over the limit"),
        (
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            gzip.compress(b"\x00" * 1_000_000),
            413,
            "once decompressed",
        ),
    ],
)
def test_bad_requests_get_a_reason_and_the_server_keeps_serving(
    tmp_path: Path, headers: dict[str, str], body: bytes, expected_status: int, reason: str
) -> None:
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, max_body=4096)
    with CollectorThread(config) as collector:
        status, answer, content_type = post(f"{collector.url}/v1/traces", body, headers)
        assert status == expected_status
        assert reason in _status_message(answer, content_type)
        # Still serving, and nothing of the refused request was stored.
        spans = recorded_spans(3)
        assert OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces").export(spans) == (
            SpanExportResult.SUCCESS
        )
        assert len(get_json(f"{collector.url}/api/traces")) == 1


def test_metrics_are_accepted_and_stored(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{collector.url}/v1/metrics"),
            export_interval_millis=3_600_000,
        )
        provider = MeterProvider(
            resource=Resource.create({"service.name": "bot"}), metric_readers=[reader]
        )
        provider.get_meter("test").create_counter("turns").add(3, {"channel": "directline"})
        assert provider.force_flush(10_000)
        provider.shutdown()
    opened = Store.open(store, read_only=True)
    try:
        with opened.reader() as db:
            rows = db.execute(
                "SELECT metric_name, service_name, value FROM metric_points"
            ).fetchall()
    finally:
        opened.close()
    assert ("turns", "bot", 3.0) in rows


def test_other_addresses_need_an_explicit_flag_and_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--allow-remote"):
        ServerConfig(host="0.0.0.0").check()
    with pytest.raises(ConfigError, match="--token"):
        ServerConfig(host="0.0.0.0", allow_remote=True).check()
    with pytest.raises(ConfigError, match="--token"):
        ServerConfig(host="0.0.0.0", allow_remote=True, token="short").check()
    ServerConfig(host="0.0.0.0", allow_remote=True, token="a" * 32).check()
    ServerConfig(host="::1").check()


def test_a_token_is_required_when_set(tmp_path: Path) -> None:
    token = "s3cret-token-0123456789"
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, token=token)
    with CollectorThread(config) as collector:
        spans = recorded_spans(2)
        refused = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces")
        assert refused.export(spans) == SpanExportResult.FAILURE
        with pytest.raises(urllib.error.HTTPError) as error:
            get_json(f"{collector.url}/api/traces")
        assert error.value.code == 401
        allowed = OTLPSpanExporter(
            endpoint=f"{collector.url}/v1/traces", headers={"Authorization": f"Bearer {token}"}
        )
        assert allowed.export(spans) == SpanExportResult.SUCCESS
        found = get_json(f"{collector.url}/api/traces", {"Authorization": f"Bearer {token}"})
        assert len(found) == 1


def test_the_token_cookie_changes_nothing_for_a_page_of_another_port(tmp_path: Path) -> None:
    # A browser sends a SameSite=Strict cookie to every port of its host: a page on another
    # port must not write with the UI's cookie.
    token = "s3cret-token-0123456789"
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, token=token)
    with CollectorThread(config) as collector:
        page = requests.get(
            f"{collector.url}/?token={token}&a=1", allow_redirects=False, timeout=30
        )
        # The cookie, and the page again without the token (out of the address bar).
        assert (page.status_code, page.headers["Location"]) == (303, "/?a=1")
        assert token not in page.text
        cookie = page.headers["Set-Cookie"].split(";")[0]
        assert cookie == f"bot_telemetry_token={token}"
        spans = json.dumps({"resourceSpans": []}).encode()
        sent = {"Content-Type": "text/plain", "Cookie": cookie}
        other = "http://127.0.0.1:1"  # another port of the same host
        for path in ("/v1/traces", "/api/exhaust/run"):
            status, body, _ = post(f"{collector.url}{path}", spans, {**sent, "Origin": other})
            assert status == 401, (path, body)
            assert b"for the collector's own pages" in body and other.encode() in body
        # The collector's own page, and a page that sends the token itself, still may.
        own = {**sent, "Content-Type": "application/json", "Origin": collector.url}
        assert post(f"{collector.url}/v1/traces", spans, own)[0] == 200
        header = {"Authorization": f"Bearer {token}", "Origin": other}
        assert post(f"{collector.url}/v1/traces", spans, {**own, **header})[0] == 200
        # Behind a proxy that rewrites Host, the browser's Sec-Fetch-Site still tells the
        # collector's own page (same-origin) from another port's (same-site).
        proxied = {**own, "Origin": "https://telemetry.example"}
        site = "Sec-Fetch-Site"
        assert post(f"{collector.url}/v1/traces", spans, {**proxied, site: "same-origin"})[0] == 200
        assert post(f"{collector.url}/v1/traces", spans, {**proxied, site: "same-site"})[0] == 401
        # Reading with the cookie is the collector's own pages' way too (no Origin on a GET).
        found = get_json(f"{collector.url}/api/traces", {"Cookie": cookie})
        assert found == []


def test_a_loopback_server_refuses_foreign_host_names(collector: CollectorThread) -> None:
    # What a DNS-rebinding page would send: our address, someone else's host name.
    with pytest.raises(urllib.error.HTTPError) as error:
        get_json(f"{collector.url}/api/appmap", {"Host": "attacker.example"})
    assert error.value.code == 403
    assert get_json(f"{collector.url}/api/appmap") == {"nodes": [], "edges": []}


def test_a_token_with_other_than_ascii_is_a_no_not_a_500(tmp_path: Path) -> None:
    token = "mot-de-passe-éèàçù-long"
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, token=token)
    with CollectorThread(config) as collector:
        for presented in ("tökén-0123456789", "plain-ascii-token"):
            with pytest.raises(urllib.error.HTTPError) as error:
                get_json(f"{collector.url}/api/health", {"Authorization": f"Bearer {presented}"})
            assert error.value.code == 401
        # urllib sends headers as Latin-1: the token's own bytes, as a client would
        request = urllib.request.Request(f"{collector.url}/api/health")
        request.add_header("Authorization", f"Bearer {token}".encode().decode("latin-1"))
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200


def test_no_page_of_another_origin_may_change_anything(tmp_path: Path) -> None:
    page = "http://chat.example"
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, cors_origins=(page,))
    with CollectorThread(config) as collector:
        spans = json.dumps({"resourceSpans": []}).encode()
        # a "simple" request (text/plain: no preflight first) where one is taken
        plain = {"Content-Type": "text/plain"}
        otlp = {"Content-Type": "application/json"}
        # a listed page may send telemetry, and only telemetry
        assert post(f"{collector.url}/v1/traces", spans, {**otlp, "Origin": page})[0] == 200
        status, body, _ = post(f"{collector.url}/api/exhaust/run", b"{}", {**plain, "Origin": page})
        assert status == 403 and b"only the collector's own pages" in body
        # another site's page may send nothing
        other = {**plain, "Origin": "http://evil.example"}
        status, body, _ = post(f"{collector.url}/v1/telemetry", b"{}", other)
        assert status == 403 and b"--cors-origin http://evil.example" in body
        status, _, _ = post(f"{collector.url}/dataset/v1/request/submit", b"{}", other)
        assert status == 403
        # the UI's own pages (same origin) and clients that are not pages (no Origin) may
        own = {**otlp, "Origin": collector.url}
        assert post(f"{collector.url}/v1/traces", spans, own)[0] == 200
        assert post(f"{collector.url}/v1/traces", spans, otlp)[0] == 200


def test_a_server_bound_to_another_loopback_address_answers_its_own_name(
    tmp_path: Path,
) -> None:
    config = ServerConfig(store=tmp_path / "store.duckdb", host="127.0.0.2", port=0)
    with CollectorThread(config) as collector:
        assert "127.0.0.2" in collector.url
        assert get_json(f"{collector.url}/api/appmap") == {"nodes": [], "edges": []}
