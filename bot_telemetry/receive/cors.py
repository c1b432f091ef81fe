"""CORS for the receiver's endpoints, so pages on other origins may send telemetry: the Sunbird
SDK to ``/v1/telemetry`` (with its ``X-App-ID``/``X-Channel-ID``/``X-Device-ID`` headers) and
OpenTelemetry JS to ``/v1/traces``.

    app = web.Application(middlewares=[cors_middleware(["http://127.0.0.1:5103"]), ...])

Only the listed origins get CORS answers (``"*"`` allows any); a preflight from another origin
(from any, when none is listed) is refused with 403 and what to change. The page cannot read
that answer (the browser only says no ``Access-Control-Allow-Origin`` header came), so the
first refusal of each origin is also logged, with the origins that are allowed: a page on
``http://localhost:8080`` is not ``http://127.0.0.1:8080``. Put it before any middleware that
checks a token: a browser's preflight never carries one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

#: Request headers a page may send: the SDKs' own, a bearer token, trace context.
ALLOWED_HEADERS = (
    "authorization",
    "content-encoding",
    "content-type",
    "traceparent",
    "tracestate",
    "x-app-id",
    "x-channel-id",
    "x-device-id",
)
PREFLIGHT_MAX_AGE = 600
#: How many refused origins are remembered so that each is logged once; later ones are not
#: logged (a page probing many origins must not fill the log).
LOGGED_REFUSALS = 64

_log = logging.getLogger(__name__)


def check_origin(origin: str) -> str:
    """``origin`` as browsers send it (``scheme://host[:port]``), or ValueError saying why not."""
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise ValueError(
            f"{origin!r} is not an origin: give scheme://host[:port], e.g. http://127.0.0.1:5103"
        )
    return origin.rstrip("/")


def cors_middleware(origins: Iterable[str], paths: tuple[str, ...] = ("/v1/",)) -> Middleware:
    """Answer CORS preflights and mark responses readable, for ``origins`` on ``paths``."""
    allowed = frozenset(check_origin(origin) for origin in origins)
    any_origin = "*" in allowed
    logged: set[str] = set()

    @web.middleware
    async def cors(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not request.path.startswith(paths):
            return await handler(request)
        preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if not allowed and not preflight:
            return await handler(request)
        permitted = any_origin or origin in allowed
        if preflight:
            if not permitted:
                # Said even when no origin is listed: a bare 405 from the router told the
                # page's developer nothing about what to change.
                refusal = _refusal(origin, allowed)
                if origin not in logged and len(logged) < LOGGED_REFUSALS:
                    logged.add(origin)
                    _log.warning(
                        "refused a CORS preflight to %s from a page on %r (allowed: %s). "
                        "Its browser says only that no Access-Control-Allow-Origin header "
                        "came; %s",
                        request.path[:256],
                        origin[:256],
                        ", ".join(sorted(allowed)) or "none",
                        _remedy(origin[:256]),
                    )
                return web.json_response({"error": refusal}, status=403)
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
                    "Vary": "Origin",
                },
            )
        try:
            response = await handler(request)
        except web.HTTPException as error:
            if permitted:
                error.headers["Access-Control-Allow-Origin"] = origin
                error.headers["Vary"] = "Origin"
            raise
        if permitted:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    middleware: Middleware = cors
    return middleware


def _remedy(origin: str) -> str:
    return (
        f"list it: serve --cors-origin {origin} (repeatable), or cors_middleware([..., "
        f"{origin!r}]) in your own app"
    )


def _refusal(origin: str, allowed: frozenset[str]) -> str:
    if not allowed:
        return (
            f"origin {origin!r} may not send here: this collector allows no other origin; "
            f"start it with --cors-origin {origin}"
        )
    return f"origin {origin!r} may not send here; see serve --cors-origin"
