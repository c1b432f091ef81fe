"""The sink counts what it can parse and refuses what it cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from benchmarks._sink import build_app


@pytest.fixture
async def sink() -> AsyncIterator[str]:
    server = TestServer(build_app(), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def test_counts_are_kept_per_tenant(sink: str) -> None:
    spans = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(name="a"), Span()])])]
    )
    async with aiohttp.ClientSession() as session:
        await session.post(f"{sink}/one/v1/traces", data=spans.SerializeToString())
        await session.post(
            f"{sink}/one/v2/track", json=[{"name": "e", "data": {"baseType": "EventData"}}]
        )
        reply = await session.post(
            f"{sink}/one/v3/conversations/c1/activities/a1", json={"type": "message"}
        )
        assert "id" in await reply.json()
        one = await (await session.get(f"{sink}/one/counts")).json()
        other = await (await session.get(f"{sink}/other/counts")).json()

    assert one == {"spans": 2, "envelopes": 1, "envelope:EventData": 1, "replies": 1}
    assert other == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/t/v1/traces", b"\xff\xff not protobuf"),
        ("/t/v2/track", b'{"not": "a list"}'),
        ("/t/v3/conversations/c/activities", b'{"no": "type"}'),
    ],
)
async def test_garbage_is_refused_and_not_counted(sink: str, path: str, body: bytes) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{sink}{path}", data=body)
        counts = await (await session.get(f"{sink}/t/counts")).json()

    assert response.status >= 400
    assert counts == {}
