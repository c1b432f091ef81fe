"""OTLP/gRPC on the official grpcio stack: the same durability, idempotency, limits, token
rule and partial success as OTLP/HTTP, and the OTLP/gRPC status codes for refusals."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from bot_telemetry.receive.otlp_grpc import start_grpc
from bot_telemetry.store.database import Store, Written
from bot_telemetry.store.rows import Batch
from bot_telemetry.store.writer import LINGER_ROWS, StoreWriter
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.otlp_messages import (
    T0,
    logs_request,
    metrics_request,
    new_span_id,
    new_trace_id,
    spans_request,
)
from tests.support.waiting import wait_for

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
TOKEN = "a-token-of-twenty-chars"


def call(target: str, method: str, body: bytes, **options: Any) -> bytes:
    """One unary call with raw bytes, as any OTLP exporter makes it."""
    compression = options.pop("compression", None)
    with grpc.insecure_channel(target, compression=compression) as channel:
        answer: bytes = channel.unary_unary(method)(body, timeout=10, **options)
        return answer


def grpc_target(collector: CollectorThread) -> str:
    assert collector._running is not None and collector._running.grpc_url
    return collector._running.grpc_url.removeprefix("http://")


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorThread]:
    config = ServerConfig(store=tmp_path / "store.duckdb", port=0, grpc_port=0)
    with CollectorThread(config) as running:
        yield running


def counts(collector: CollectorThread) -> tuple[int, int, int]:
    from tests.collector.test_receiver import get_json

    traces = get_json(f"{collector.url}/api/traces")
    events = get_json(f"{collector.url}/api/events")
    return sum(t["spans"] for t in traces), len(events), len(traces)


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip])
def test_three_signals_are_stored_and_a_retry_is_stored_once(
    collector: CollectorThread, compression: grpc.Compression
) -> None:
    target = grpc_target(collector)
    trace_id = new_trace_id()
    spans = spans_request([{"trace_id": trace_id}, {"trace_id": trace_id}])
    logs = logs_request([{"time_unix_nano": T0, "event_name": "GrpcEvent"}])
    metrics = metrics_request([{"name": "m", "kind": "sum", "points": [{"as_int": 5}]}])
    for _ in range(3):  # the same exports, retried
        assert call(target, TRACES, spans.SerializeToString(), compression=compression) == b""
        assert call(target, LOGS, logs.SerializeToString(), compression=compression) == b""
        assert call(target, METRICS, metrics.SerializeToString(), compression=compression) == b""
    assert counts(collector) == (2, 1, 1)
    store = collector.config.store
    assert store.exists()
    from tests.collector.test_receiver import get_json

    (series,) = get_json(f"{collector.url}/api/metrics/m")["series"]
    assert series["points"] == 1


def test_refused_spans_are_partial_success_with_the_reason(collector: CollectorThread) -> None:
    request = spans_request([{"name": "good"}, {"name": "far", "end": 2**64 - 1}, {"kind": 1000}])
    answer = ExportTraceServiceResponse.FromString(
        call(grpc_target(collector), TRACES, request.SerializeToString())
    )
    assert answer.partial_success.rejected_spans == 2
    assert "'far'" in answer.partial_success.error_message
    assert "kind 1000" in answer.partial_success.error_message
    assert counts(collector)[0] == 1


def test_an_undecodable_body_is_invalid_argument_with_the_reason(
    collector: CollectorThread,
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        call(grpc_target(collector), TRACES, b"\xff\xff\xff")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid ExportTraceServiceRequest" in refused.value.details()


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip])
def test_over_the_limit_inflated_or_not_is_resource_exhausted(
    tmp_path: Path, compression: grpc.Compression
) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0, max_body=100_000)
    big = spans_request([{"name": "x" * 200_000}]).SerializeToString()
    assert len(gzip.compress(big)) < 100_000  # gzipped it fits; inflated it does not
    with CollectorThread(config) as collector:
        with pytest.raises(grpc.RpcError) as refused:
            call(grpc_target(collector), TRACES, big, compression=compression)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(refused.value.trailing_metadata() or ())
        assert "google.rpc.retryinfo-bin" not in trailers  # not retryable
        assert call(grpc_target(collector), TRACES, spans_request([{}]).SerializeToString()) == b""


def test_the_token_rule_is_the_same_as_http(tmp_path: Path) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0, token=TOKEN)
    body = spans_request([{}]).SerializeToString()
    with CollectorThread(config) as collector:
        target = grpc_target(collector)
        for metadata in [
            (),
            (("authorization", "Bearer wrong"),),
            (("authorization", f"Basic {TOKEN}"),),
        ]:
            with pytest.raises(grpc.RpcError) as refused:
                call(target, TRACES, body, metadata=metadata)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert call(target, TRACES, body, metadata=(("authorization", f"bearer {TOKEN}"),)) == b""


class GatedStore(Store):
    """A real store whose writes wait for the test, to watch what happens before a commit."""

    gate = threading.Event()
    entered = threading.Event()

    def write(self, batch: Batch) -> Written:
        self.entered.set()
        self.gate.wait(10)
        return super().write(batch)


class WatchedWriter(StoreWriter):
    """The real writer, keeping the futures it hands out; ``second`` is set once a second
    batch is queued (its handler ran), so a test can act on a queued batch."""

    def __init__(self, store: Store, **options: Any) -> None:
        super().__init__(store, **options)
        self.submitted: list[Future[Written]] = []
        self.second = asyncio.Event()

    def submit(
        self, batch: Batch, *, linger: float = 0.0, enough: int = LINGER_ROWS
    ) -> Future[Written]:
        future = super().submit(batch, linger=linger, enough=enough)
        self.submitted.append(future)
        if len(self.submitted) == 2:
            self.second.set()
        return future


async def test_acknowledged_only_after_commit_and_unavailable_with_retry_info_when_busy(
    tmp_path: Path,
) -> None:
    GatedStore.gate, GatedStore.entered = threading.Event(), threading.Event()
    store = GatedStore.open(tmp_path / "s.duckdb")
    writer = WatchedWriter(store, max_pending=1)
    server, port = await start_grpc(writer, "127.0.0.1", 0, max_body=1 << 20)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(TRACES)
            first = asyncio.ensure_future(export(spans_request([{}]).SerializeToString()))
            assert await asyncio.to_thread(GatedStore.entered.wait, 10)  # being written
            second = asyncio.ensure_future(export(spans_request([{}]).SerializeToString()))
            await asyncio.wait_for(writer.second.wait(), 10)  # the second waits in the queue
            assert not first.done() and not second.done()  # nothing committed: no answer yet
            with pytest.raises(grpc.aio.AioRpcError) as busy:  # one writing, one waiting: full
                await export(spans_request([{}]).SerializeToString())
            GatedStore.gate.set()
            assert await first == b"" and await second == b""
        assert busy.value.code() == grpc.StatusCode.UNAVAILABLE
        trailers = dict(busy.value.trailing_metadata() or ())
        info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert info.retry_delay.seconds == 1
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        detail = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(detail) and detail.retry_delay.seconds == 1
    finally:
        await server.stop(5)
        writer.close()
    assert store.counts()["spans"] == 2
    store.close()


async def test_an_export_past_its_deadline_is_not_stored_and_the_next_one_is(
    tmp_path: Path,
) -> None:
    GatedStore.gate, GatedStore.entered = threading.Event(), threading.Event()
    store = GatedStore.open(tmp_path / "s.duckdb")
    writer = WatchedWriter(store)
    server, port = await start_grpc(writer, "127.0.0.1", 0, max_body=1 << 20)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(TRACES)
            first = asyncio.ensure_future(export(spans_request([{}]).SerializeToString()))
            assert await asyncio.to_thread(GatedStore.entered.wait, 10)
            # Queued behind the commit, its client gives up: the server cancels its handler.
            late = asyncio.ensure_future(
                export(spans_request([{}, {}]).SerializeToString(), timeout=1.0)
            )
            await asyncio.wait_for(writer.second.wait(), 10)
            with pytest.raises(grpc.aio.AioRpcError) as gave_up:
                await late
            assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            queued = writer.submitted[1]
            # Not concurrent.futures.wait: a future cancelled while queued wakes its waiters
            # only once an executor takes it up, so wait() sat out its whole 10 s here.
            await asyncio.to_thread(wait_for, queued.cancelled, 10, "the late export cancelled")
            assert queued.cancelled()
            GatedStore.gate.set()
            assert await first == b""
            # The writer is still there for the next export.
            assert await export(spans_request([{}]).SerializeToString(), timeout=10) == b""
    finally:
        await server.stop(5)
        writer.close()
    assert store.counts()["spans"] == 2  # the first and the last: the late one was not answered
    store.close()


def test_a_second_collector_cannot_take_the_same_grpc_port(
    collector: CollectorThread, tmp_path: Path
) -> None:
    port = int(grpc_target(collector).rsplit(":", 1)[1])
    config = ServerConfig(store=tmp_path / "other.duckdb", port=0, grpc_port=port)
    with pytest.raises(OSError, match="already in use"):
        with CollectorThread(config):
            pass
    # The first one still has the port to itself and serves.
    assert call(grpc_target(collector), TRACES, spans_request([{}]).SerializeToString()) == b""


def test_links_and_scope_survive_grpc(collector: CollectorThread) -> None:
    linked_trace, linked_span = new_trace_id(), new_span_id()
    request = spans_request([{"links": [(linked_trace, linked_span)]}])
    call(grpc_target(collector), TRACES, request.SerializeToString())
    from tests.collector.test_receiver import get_json

    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    (span,) = get_json(f"{collector.url}/api/traces/{trace_id}")["spans"]
    assert span["links"] == [
        {
            "trace_id": linked_trace.hex(),
            "span_id": linked_span.hex(),
            "attributes": {},
            "stored": False,
        }
    ]
    assert span["scope"] == {"name": "tests", "version": "1.2.3"}


def test_other_services_get_the_configs_privacy_policy_over_grpc_too(tmp_path: Path) -> None:
    """``ServerConfig(privacy=...)`` (``serve --privacy``) holds on OTLP/gRPC as on HTTP."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from bot_telemetry.privacy import PrivacyPolicy
    from tests.receive.test_other_services import stored

    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.add(key="service.name").value.string_value = "payments"
    span = resource.scope_spans.add().spans.add(name="POST /pay", kind=2)
    span.trace_id, span.span_id = bytes(range(1, 17)), bytes(range(1, 9))
    span.attributes.add(key="customer.account").value.string_value = "ACCT-20417"
    span.attributes.add(key="db.name").value.string_value = "payments-db"
    event = span.events.add(name="exception")
    message = "no account GB82WEST12345698765432 for Grace"
    event.attributes.add(key="exception.message").value.string_value = message
    opened = PrivacyPolicy(log_personal_information=True, deny_keys=frozenset({"customer.account"}))
    path = tmp_path / "store.duckdb"
    config = ServerConfig(store=path, port=0, grpc_port=0, privacy=opened)
    with CollectorThread(config) as running:
        call(grpc_target(running), TRACES, request.SerializeToString())
    found = stored(path)
    assert "no account [REDACTED] for Grace" in found and "payments-db" in found
    assert "ACCT-20417" not in found
