"""Per-request isolation: many concurrent requests through the server middleware and the
client instrumentation, each downstream call parented by its own request's span."""

from __future__ import annotations

import asyncio
import random

import aiohttp
from aiohttp import web
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from bot_telemetry import instrument_aiohttp_client, instrument_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

CONCURRENT = 100


def downstream_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        await asyncio.sleep(random.random() / 100)
        return web.json_response({"n": baggage.get_baggage("n")})

    app = web.Application()
    app.router.add_post("/echo/{n}", echo)
    instrument_app(app)
    return app


def bot_app(downstream: str, session_holder: list[aiohttp.ClientSession]) -> web.Application:
    async def turn(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        if baggage.get_baggage("n") != n:
            return web.Response(status=500, text="baggage of another request")
        await asyncio.sleep(random.random() / 100)
        async with session_holder[0].post(f"{downstream}/echo/{n}") as response:
            echoed = await response.json()
        return web.json_response(echoed)

    app = web.Application()
    app.router.add_post("/turn/{n}", turn)
    instrument_app(app)
    return app


def by_parent(spans: list[ReadableSpan]) -> dict[int, list[ReadableSpan]]:
    children: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    return children


async def test_concurrent_requests_keep_their_own_trace(telemetry: CapturedTelemetry) -> None:
    instrument_aiohttp_client()
    holder: list[aiohttp.ClientSession] = []
    async with serving(downstream_app()) as downstream, serving(bot_app(downstream, holder)) as bot:
        async with aiohttp.ClientSession() as shared, aiohttp.ClientSession() as caller:
            holder.append(shared)  # one session for all turns, like a recognizer's client

            async def one(n: int) -> object:
                token = context.attach(baggage.set_baggage("n", str(n)))
                try:
                    async with caller.post(f"{bot}/turn/{n}") as response:
                        assert response.status == 200, await response.text()
                        return await response.json()
                finally:
                    context.detach(token)

            answers = await asyncio.gather(*(one(n) for n in range(CONCURRENT)))
    assert answers == [{"n": str(n)} for n in range(CONCURRENT)]

    spans = list(telemetry.spans())
    children = by_parent(spans)
    roots = [s for s in spans if s.kind == SpanKind.CLIENT and "/turn/" in str(s.attributes)]
    assert len(roots) == CONCURRENT
    trace_ids = set()
    for root in roots:
        assert root.context is not None and root.attributes is not None
        n = str(root.attributes["url.full"]).rsplit("/", 1)[1]
        (bot_server,) = children[root.context.span_id]
        assert bot_server.kind == SpanKind.SERVER
        assert bot_server.attributes is not None
        assert bot_server.attributes["url.path"] == f"/turn/{n}"
        assert bot_server.context is not None
        (bot_client,) = children[bot_server.context.span_id]
        assert bot_client.kind == SpanKind.CLIENT
        assert bot_client.attributes is not None
        assert str(bot_client.attributes["url.full"]).endswith(f"/echo/{n}")
        assert bot_client.context is not None
        (callee,) = children[bot_client.context.span_id]
        assert callee.kind == SpanKind.SERVER
        assert callee.attributes is not None
        assert callee.attributes["url.path"] == f"/echo/{n}"
        family = {root, bot_server, bot_client, callee}
        assert len({span.context.trace_id for span in family if span.context}) == 1
        trace_ids.add(root.context.trace_id)
    assert len(trace_ids) == CONCURRENT
