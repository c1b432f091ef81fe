"""Who may ask: loopback host names only on a loopback server (no DNS rebinding), and the
bearer token on every request when one is set (the browser may pass ``?token=`` once and
keeps a cookie)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from .config import LOOPBACK_NAMES, ServerConfig, is_loopback
from .routes import SECURITY_HEADERS

TOKEN_COOKIE = "bot_telemetry_token"


def guard(config: ServerConfig) -> Middleware:
    loopback_only = is_loopback(config.host)

    @web.middleware
    async def guard(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if loopback_only:
            # A loopback server answers only loopback host names, so a web page cannot reach
            # it through DNS rebinding.
            if (request.url.host or "") not in LOOPBACK_NAMES:
                return web.json_response(
                    {"error": f"host {request.host!r} not allowed"}, status=403
                )
        set_cookie = False
        if config.token:
            presented = _presented_token(request)
            if presented is None or not hmac.compare_digest(presented, config.token):
                return web.json_response(
                    {"error": "missing or wrong token: send Authorization: Bearer TOKEN"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            set_cookie = request.query.get("token") is not None
        response = await handler(request)
        if not request.path.startswith("/v1/"):
            response.headers.update(SECURITY_HEADERS)
        if set_cookie and config.token:
            response.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="Strict")
        return response

    middleware: Middleware = guard
    return middleware


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("token") or request.cookies.get(TOKEN_COOKIE)
