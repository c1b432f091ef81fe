"""Rate limits of a real ``serve`` (in this process, on a free port) over real HTTP: one
client over its limit is answered 429 with Retry-After (over OTLP/gRPC, from the same bucket:
RESOURCE_EXHAUSTED with RetryInfo), others are not, the health check never
is, and ``serve``'s defaults never refuse a benchmark-sized burst."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from bot_telemetry.cli.serve import DEFAULT_INGEST_RATE_LIMIT, DEFAULT_QUERY_RATE_LIMIT
from bot_telemetry.web import CollectorThread, ServerConfig

PROTOBUF = {"Content-Type": "application/x-protobuf"}
PAGE = "http://chat.example.com"


def connect(collector: CollectorThread, source: str = "127.0.0.1") -> http.client.HTTPConnection:
    """A keep-alive connection from ``source`` (another loopback address is another client)."""
    port = int(collector.url.rsplit(":", 1)[1])
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))


def ask(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.headers), response.read()


def flood(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Ask until refused: the first 429. A token comes back every second, so on a machine slow
    enough that 20 requests took more than one, the 21st may still go through."""
    for _ in range(200):
        answer = ask(connection, method, path, body, headers)
        if answer[0] == 429:
            return answer
    raise AssertionError("200 requests over a limit of 1 a second, none refused")


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[CollectorThread]:
    # 1 request a second, bursts of 20 (20 s of it), on both.
    config = ServerConfig(
        store=tmp_path / "store.duckdb",
        port=0,
        ingest_rate_limit=1,
        query_rate_limit=1,
        cors_origins=(PAGE,),
    )
    with CollectorThread(config) as running:
        yield running


def test_a_client_over_its_limit_gets_429_with_retry_after_and_others_do_not(
    limited: CollectorThread,
) -> None:
    flooding = connect(limited)
    for _ in range(20):  # the burst goes through
        status, _, _ = ask(flooding, "POST", "/v1/traces", b"", PROTOBUF)
        assert status == 200
    status, headers, body = flood(flooding, "POST", "/v1/traces", b"", PROTOBUF)
    assert status == 429 and headers["Retry-After"] == "1", (status, headers)
    # OTLP/HTTP's refusal: a google.rpc.Status in the request's encoding, RESOURCE_EXHAUSTED.
    refusal = status_pb2.Status.FromString(body)
    assert refusal.code == 8
    assert refusal.message.startswith("too many requests from this client: at most 1 a second")
    # Client telemetry shares the receivers' bucket; its refusal is JSON, with the CORS
    # headers a listed page needs to read it.
    status, headers, body = ask(
        flooding,
        "POST",
        "/v1/telemetry",
        b"{}",
        {"Content-Type": "application/json", "Origin": PAGE},
    )
    assert (status, headers["Retry-After"]) == (429, "1")
    assert headers["Access-Control-Allow-Origin"] == PAGE
    assert json.loads(body)["error"].startswith("too many requests from this client")
    # The health check is never limited; reads have a bucket of their own, not yet used.
    assert ask(flooding, "GET", "/api/health")[0] == 200
    assert ask(flooding, "GET", "/api/traces")[0] == 200
    # Another client address is not held back by this one.
    other = connect(limited, "127.0.0.2")
    assert ask(other, "POST", "/v1/traces", b"", PROTOBUF)[0] == 200
    # After Retry-After the flooding client may send again (a token a second).
    deadline = time.monotonic() + 10
    while ask(flooding, "POST", "/v1/traces", b"", PROTOBUF)[0] == 429:
        assert time.monotonic() < deadline, "still refused long after Retry-After"
        time.sleep(0.1)
    flooding.close()
    other.close()


def test_a_script_hammering_the_api_is_limited_but_the_health_check_never(
    limited: CollectorThread,
) -> None:
    script = connect(limited)
    query = json.dumps({"measures": ["turns.count"]}).encode()
    json_type = {"Content-Type": "application/json"}
    statuses = [ask(script, "POST", "/analytics/query", query, json_type)[0] for _ in range(20)]
    assert 429 not in statuses, statuses  # the burst
    assert flood(script, "POST", "/analytics/query", query, json_type)[0] == 429
    status, headers, body = ask(script, "GET", "/api/traces")
    assert (status, headers["Retry-After"]) == (429, "1"), (status, headers)
    assert "at most 1 a second (bursts of 20)" in json.loads(body)["error"]
    for _ in range(50):
        assert ask(script, "GET", "/api/health")[0] == 200
    # The page and its files are not limited either.
    assert ask(script, "GET", "/")[0] == 200
    script.close()


def test_serves_defaults_never_refuse_a_benchmark_burst(tmp_path: Path) -> None:
    """benchmarks.client_events: 4 senders, 2,000 bundles as fast as they go (here empty
    exports, which the server answers faster than any bundle), all from one address."""
    config = ServerConfig(
        store=tmp_path / "store.duckdb",
        port=0,
        ingest_rate_limit=DEFAULT_INGEST_RATE_LIMIT,
        query_rate_limit=DEFAULT_QUERY_RATE_LIMIT,
    )
    refused: list[int] = []
    with CollectorThread(config) as collector:

        def send() -> None:
            connection = connect(collector)
            for _ in range(500):
                status = ask(connection, "POST", "/v1/traces", b"", PROTOBUF)[0]
                if status != 200:
                    refused.append(status)
            connection.close()

        senders = [threading.Thread(target=send) for _ in range(4)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
    assert refused == []


@pytest.mark.parametrize("given", ["-1", "fast", "inf"])
def test_a_rate_that_is_not_one_is_refused_at_start(given: str) -> None:
    from tests.support.processes import run_cli_here

    done = run_cli_here("serve", "--ingest-rate-limit", given, "--port", "0")
    assert done.returncode == 2, done
    assert f"argument --ingest-rate-limit: {given!r} is not a rate" in done.stderr, done.stderr


def test_the_command_line_waits_out_the_limit_as_retry_after_says(
    limited: CollectorThread,
) -> None:
    """``posthog backfill`` through serve asks for page after page: a 429 is waited out (for
    a while), not the command's failure."""
    from bot_telemetry.analytics.window import TimeWindow
    from bot_telemetry.cli.access import RemoteError, ServerSource

    patient = ServerSource(limited.url)
    for _ in range(22):  # the burst of 20, then two that wait for their tokens
        assert patient.events(TimeWindow(), None, 10) == []
    impatient = ServerSource(limited.url, rate_limited_seconds=0)
    try:
        for _ in range(100):  # the bucket is empty: the first, unless the machine stalled
            impatient.events(TimeWindow(), None, 10)
    except RemoteError as refused:
        assert refused.status == 429
        assert "answered 429: too many requests from this client" in str(refused)
    else:
        raise AssertionError("a 429 it may not wait for was not said")


def test_exhaust_commands_through_serve_wait_out_the_limit_too(limited: CollectorThread) -> None:
    """``bot-telemetry exhaust ... --url`` has its own requests (it needs every answer's
    envelope, a 404's and a 409's too): a 429 is waited out there as well, not the answer."""
    from tests.support.processes import run_cli_here

    flood(connect(limited), "GET", "/dataset/v1/request/list/T")  # the bucket is empty
    done = run_cli_here("exhaust", "list", "T", "--url", limited.url)
    assert "no job has the tag 'T' (RESOURCE_NOT_FOUND)" in done.stderr, done.stderr


TRACES_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def grpc_export(target: str) -> grpc.RpcError | None:
    """One empty OTLP/gRPC trace export; the error it got, None when accepted."""
    with grpc.insecure_channel(target) as channel:
        try:
            channel.unary_unary(TRACES_EXPORT)(b"", timeout=10)
        except grpc.RpcError as error:
            return error
    return None


def grpc_target_of(collector: CollectorThread) -> str:
    assert collector._running is not None and collector._running.grpc_url
    return collector._running.grpc_url.removeprefix("http://")


def test_grpc_exports_take_from_the_same_bucket_and_are_told_when_to_retry(
    tmp_path: Path,
) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0, ingest_rate_limit=1)
    with CollectorThread(config) as collector:
        target = grpc_target_of(collector)
        refused = None
        for _ in range(200):  # the burst of 20, then refused (a token comes back each second)
            refused = grpc_export(target)
            if refused is not None:
                break
        assert isinstance(refused, grpc.Call), "200 gRPC exports over a limit of 1/s all taken"
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused
        assert (refused.details() or "").startswith("too many requests from this client")
        # RetryInfo as the Python exporter reads it, and in the rich status.
        trailers = dict(refused.trailing_metadata() or ())
        info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert info.retry_delay.seconds == 1
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        detail = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(detail) and detail.retry_delay.seconds == 1
        # One client whichever protocol: its OTLP/HTTP exports are refused too, another
        # address's are not.
        same = connect(collector)
        assert ask(same, "POST", "/v1/traces", b"", PROTOBUF)[0] == 429
        other = connect(collector, "127.0.0.2")
        assert ask(other, "POST", "/v1/traces", b"", PROTOBUF)[0] == 200
        same.close()
        other.close()
        # The SDK's gRPC exporter waits the RetryInfo delay and its retry is accepted.
        provider = TracerProvider()
        span = provider.get_tracer("t").start_span("limited")
        span.end()
        assert isinstance(span, ReadableSpan)
        exporter = OTLPSpanExporter(endpoint=target, insecure=True, timeout=10)
        assert exporter.export([span]) == SpanExportResult.SUCCESS
        exporter.shutdown()


def test_serves_defaults_never_refuse_a_grpc_burst(tmp_path: Path) -> None:
    config = ServerConfig(
        store=tmp_path / "s.duckdb",
        port=0,
        grpc_port=0,
        ingest_rate_limit=DEFAULT_INGEST_RATE_LIMIT,
    )
    with CollectorThread(config) as collector:
        with grpc.insecure_channel(grpc_target_of(collector)) as channel:
            export = channel.unary_unary(TRACES_EXPORT)
            for _ in range(1_000):  # as fast as one sender goes
                assert export(b"", timeout=10) == b""


def test_grpc_calls_without_the_token_take_from_the_bucket_as_on_http(tmp_path: Path) -> None:
    config = ServerConfig(
        store=tmp_path / "s.duckdb", port=0, grpc_port=0, ingest_rate_limit=1, token="t" * 20
    )
    with CollectorThread(config) as collector:
        target = grpc_target_of(collector)
        codes = []
        for _ in range(200):
            refused = grpc_export(target)
            assert isinstance(refused, grpc.Call)
            codes.append(refused.code())
            if refused.code() != grpc.StatusCode.UNAUTHENTICATED:
                break
        assert codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED, codes[-1]
        assert codes[0] == grpc.StatusCode.UNAUTHENTICATED
