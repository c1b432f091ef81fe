"""A local HTTP sink for the benchmarks: where a bot's replies and telemetry go.

``python -m benchmarks._sink --port P`` serves, under a per-variant prefix ``/<tenant>/``:

- ``POST v3/conversations/<id>/activities[/<reply-to>]``: the Bot Connector reply API;
- ``POST v2/track``: Application Insights' ingestion API (JSON array of envelopes);
- ``POST v1/traces``, ``v1/logs``, ``v1/metrics``: OTLP/HTTP protobuf;
- ``POST batch/``: PostHog's capture API (gzipped JSON, events need a name and distinct id);
- ``GET counts``: what that tenant delivered so far (replies, envelopes, spans, log records).

Every payload is parsed, so a benchmark that exports garbage fails instead of looking fast.
It runs as its own process so that parsing is not charged to the bot being measured, the way
a real collector and channel sit in other processes. Loopback only.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

COUNTS_KEY = web.AppKey("counts", defaultdict)
_reply_ids = itertools.count(1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _body(request: web.Request) -> bytes:
    data = await request.read()
    # aiohttp inflates gzip bodies itself (auto_decompress) unless the runner says otherwise.
    if request.headers.get("Content-Encoding", "").lower() == "gzip" and data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def _counts(request: web.Request) -> Counter[str]:
    counts: defaultdict[str, Counter[str]] = request.app[COUNTS_KEY]
    return counts[request.match_info["tenant"]]


async def connector_reply(request: web.Request) -> web.Response:
    activity = json.loads(await _body(request))
    if not isinstance(activity, dict) or "type" not in activity:
        raise web.HTTPBadRequest(text="not an activity")
    _counts(request)["replies"] += 1
    return web.json_response({"id": f"reply-{next(_reply_ids)}"})


async def track(request: web.Request) -> web.Response:
    envelopes = json.loads(await _body(request))
    if not isinstance(envelopes, list) or not all("name" in e for e in envelopes):
        raise web.HTTPBadRequest(text="not a list of Application Insights envelopes")
    counts = _counts(request)
    for envelope in envelopes:
        counts["envelopes"] += 1
        counts[f"envelope:{envelope.get('data', {}).get('baseType', '?')}"] += 1
    return web.json_response(
        {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []}
    )


async def traces(request: web.Request) -> web.Response:
    message = ExportTraceServiceRequest.FromString(await _body(request))
    spans = sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    _counts(request)["spans"] += spans
    return _protobuf(ExportTraceServiceResponse().SerializeToString())


async def logs(request: web.Request) -> web.Response:
    message = ExportLogsServiceRequest.FromString(await _body(request))
    records = sum(len(s.log_records) for r in message.resource_logs for s in r.scope_logs)
    _counts(request)["log_records"] += records
    return _protobuf(ExportLogsServiceResponse().SerializeToString())


async def metrics(request: web.Request) -> web.Response:
    ExportMetricsServiceRequest.FromString(await _body(request))
    _counts(request)["metric_exports"] += 1
    return _protobuf(ExportMetricsServiceResponse().SerializeToString())


async def posthog_batch(request: web.Request) -> web.Response:
    payload = json.loads(await _body(request))
    events = payload.get("batch") if isinstance(payload, dict) else None
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and e.get("event") and e.get("distinct_id") for e in events
    ):
        raise web.HTTPBadRequest(text="not a PostHog batch")
    _counts(request)["posthog_events"] += len(events)
    return web.json_response({"status": 1})


async def counts(request: web.Request) -> web.Response:
    return web.json_response(dict(_counts(request)))


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _protobuf(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/x-protobuf")


@web.middleware
async def _refuse_garbage(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (ValueError, TypeError, DecodeError, OSError) as error:  # bad JSON, protobuf or gzip
        raise web.HTTPBadRequest(text=f"unreadable payload: {error}") from error


def build_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_refuse_garbage])
    app[COUNTS_KEY] = defaultdict(Counter)
    app.router.add_get("/health", health)
    app.router.add_post("/{tenant}/v3/conversations/{conversation}/activities", connector_reply)
    app.router.add_post(
        "/{tenant}/v3/conversations/{conversation}/activities/{reply_to}", connector_reply
    )
    app.router.add_post("/{tenant}/v2/track", track)
    app.router.add_post("/{tenant}/v1/traces", traces)
    app.router.add_post("/{tenant}/v1/logs", logs)
    app.router.add_post("/{tenant}/v1/metrics", metrics)
    app.router.add_post("/{tenant}/batch/", posthog_batch)
    app.router.add_get("/{tenant}/counts", counts)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(build_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
