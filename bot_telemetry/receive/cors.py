"""CORS for the receiver's endpoints, so pages on other origins may send telemetry: the Sunbird
SDK to ``/v1/telemetry`` (with its ``X-App-ID``/``X-Channel-ID``/``X-Device-ID`` headers) and
OpenTelemetry JS to ``/v1/traces``.

    app = web.Application(middlewares=[cors_middleware(["http://127.0.0.1:5103"]), ...])

Only the listed origins get CORS answers (``"*"`` allows any); a preflight from another origin
(from any, when none is listed) is refused with 403 and what to change. So is a POST from
another origin that needs no preflight (``text/plain``, what ``navigator.sendBeacon`` sends):
CORS only hides the answer from the page, and the telemetry would be stored all the same. A
request without ``Origin`` (not a page: a server, curl) and a page of the app's own origin are
not concerned. The page cannot read the refusal (the browser only says no
``Access-Control-Allow-Origin`` header came), so the first refusal of each origin is also
logged, with the origins that are allowed: a page on ``http://localhost:8080`` is not
``http://127.0.0.1:8080``. Put it before any middleware that checks a token: a browser's
preflight never carries one.
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
#: Methods that change nothing: any origin may send them (CORS then decides who reads).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a refusal tells the developer to change, ``{origin}`` being the refused origin: in
#: their own app, the origins given to this middleware (``serve`` gives its flag).
OWN_APP_REMEDY = "list it in your app: cors_middleware([..., '{origin}'])"
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


def same_origin(request: web.Request, origin: str) -> bool:
    """Whether a page of ``origin`` is one of the server's own (its host, as the request names
    it)."""
    return urlsplit(origin).netloc.lower() == request.host.lower()


def cors_middleware(
    origins: Iterable[str],
    paths: tuple[str, ...] = ("/v1/",),
    *,
    remedy: str = OWN_APP_REMEDY,
    refuse_unlisted: bool = True,
) -> Middleware:
    """Answer CORS preflights and mark responses readable, for ``origins`` on ``paths``; refuse
    (403) a request that may change something from a page of any other origin.

    ``remedy`` is what a refusal says to do, ``{origin}`` standing for the refused origin.
    ``refuse_unlisted=False`` leaves unlisted pages' requests to a token check of your own
    that follows (as ``serve --token`` does): only preflights are refused then."""
    allowed = frozenset(check_origin(origin) for origin in origins)
    any_origin = "*" in allowed
    logged: set[str] = set()

    def refuse(request: web.Request, origin: str, what: str) -> web.Response:
        advice = remedy.replace("{origin}", origin[:256])
        if origin not in logged and len(logged) < LOGGED_REFUSALS:
            logged.add(origin)
            _log.warning(
                "refused a CORS %s to %s from a page on %r (allowed: %s). The page cannot "
                "read why: its browser says at most that no Access-Control-Allow-Origin "
                "header came; %s",
                what,
                request.path[:256],
                origin[:256],
                ", ".join(sorted(allowed)) or "none",
                advice,
            )
        return web.json_response({"error": _refusal(origin, allowed, advice)}, status=403)

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
        permitted = any_origin or origin in allowed
        if preflight:
            if not permitted:
                # Said even when no origin is listed: a bare 405 from the router told the
                # page's developer nothing about what to change.
                return refuse(request, origin, "preflight")
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
        if (
            not permitted
            and refuse_unlisted
            and request.method not in SAFE_METHODS
            and not same_origin(request, origin)
        ):
            # Withholding CORS headers would only hide the answer: a text/plain POST needs
            # no preflight, and its telemetry would be stored.
            return refuse(request, origin, f"{request.method[:16]} without preflight")
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


def _refusal(origin: str, allowed: frozenset[str], advice: str) -> str:
    if not allowed:
        return f"origin {origin!r} may not send here: no other origin is allowed; {advice}"
    return f"origin {origin!r} may not send here; {advice}"
