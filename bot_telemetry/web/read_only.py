"""``serve --read-only``: the receivers and the data exhaust refuse with a reason.

A reader stores nothing and keeps nothing on disk (no exhaust jobs file, no signing key), so
an exporter aimed at it is told so (403 with a JSON reason, not a bare 404) instead of
guessing, and so is a client of the exhaust API.
"""

from __future__ import annotations

from aiohttp import web

from ..receive import otlp
from ..receive.otlp import OtlpError

#: The reason every refused write gives.
READ_ONLY = (
    "this bot-telemetry serve is read-only (--read-only): it receives and stores nothing; "
    "send telemetry to a serve without --read-only or to the OpenTelemetry Collector"
)
OTLP_PATHS = ("/v1/traces", "/v1/logs", "/v1/metrics")
TELEMETRY_PATH = "/v1/telemetry"
EXHAUST_POSTS = ("/dataset/v1/request/submit", "/api/exhaust/run", "/api/exhaust/retry/{tag}")
EXHAUST_GETS = (
    "/dataset/v1/request/read/{tag}",
    "/dataset/v1/request/list/{tag}",
    "/dataset/v1/download/{name:.+}",
)


async def _otlp_refusal(request: web.Request) -> web.Response:
    # The OTLP/HTTP refusal body: a google.rpc.Status, JSON (the request's encoding is moot).
    body, content_type = otlp.status_body(OtlpError(403, READ_ONLY), None)
    return web.Response(status=403, body=body, content_type=content_type)


async def _refusal(request: web.Request) -> web.Response:
    return web.json_response({"error": READ_ONLY}, status=403)


def add_read_only_routes(app: web.Application) -> None:
    for path in OTLP_PATHS:
        app.router.add_post(path, _otlp_refusal)
    app.router.add_post(TELEMETRY_PATH, _refusal)
    for path in EXHAUST_POSTS:
        app.router.add_post(path, _refusal)
    for path in EXHAUST_GETS:
        app.router.add_get(path, _refusal)


__all__ = ["READ_ONLY", "add_read_only_routes"]
