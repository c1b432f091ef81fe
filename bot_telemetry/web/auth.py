"""Who may ask: loopback host names only on a loopback server (no DNS rebinding); no page of
another origin may change anything (a cross-origin POST of ``text/plain`` needs no preflight,
so CORS alone does not stop it), unless ``--cors-origin`` lists it for the receivers
(``/v1/``); and the bearer token on every request when one is set (the browser may pass
``?token=`` once and keeps a cookie)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..receive.cors import check_origin
from .config import LOOPBACK_NAMES, ServerConfig, is_loopback
from .routes import SECURITY_HEADERS

TOKEN_COOKIE = "bot_telemetry_token"
#: Methods that change nothing: any origin may send them (CORS then decides who reads).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Where ``--cors-origin`` lets other origins send: the receivers.
CORS_PATHS = "/v1/"


def guard(config: ServerConfig) -> Middleware:
    loopback_only = is_loopback(config.host)
    # The host it was bound to too (127.0.0.2 is loopback, and its own name).
    host_names = LOOPBACK_NAMES | {config.host.lower()}
    origins = frozenset(check_origin(origin) for origin in config.cors_origins)

    @web.middleware
    async def guard(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if loopback_only:
            # A loopback server answers only loopback host names, so a web page cannot reach
            # it through DNS rebinding.
            if (request.url.host or "").lower() not in host_names:
                return web.json_response(
                    {"error": f"host {request.host!r} not allowed"}, status=403
                )
        origin = request.headers.get("Origin")
        # With a token, a page of another origin has none to send (the cookie is SameSite=
        # Strict): the token decides, and a proxy that rewrites Host cannot lock the UI out.
        if origin is not None and request.method not in SAFE_METHODS and not config.token:
            refusal = _foreign(request, origin, origins)
            if refusal:
                return web.json_response({"error": refusal}, status=403)
        set_cookie = False
        if config.token:
            presented = _presented_token(request)
            # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
            if presented is None or not hmac.compare_digest(
                presented.encode(errors="surrogateescape"), config.token.encode()
            ):
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


def _foreign(request: web.Request, origin: str, allowed: frozenset[str]) -> str | None:
    """Why a page of ``origin`` may not send this request, or None if it may: the UI's own
    origin, and on the receivers an origin ``--cors-origin`` lists."""
    if urlsplit(origin).netloc.lower() == request.host.lower():
        return None
    if request.path.startswith(CORS_PATHS) and ("*" in allowed or origin in allowed):
        return None
    if request.path.startswith(CORS_PATHS):
        return (
            f"origin {origin!r} may not send here; start the collector with --cors-origin "
            f"{origin} to let that page send telemetry"
        )
    return f"origin {origin!r} may not send here: only the collector's own pages may"


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("token") or request.cookies.get(TOKEN_COOKIE)
