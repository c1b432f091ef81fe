"""Who may ask: loopback host names only on a loopback server (no DNS rebinding); no page of
another origin may change anything (a cross-origin POST of ``text/plain`` needs no preflight,
so CORS alone does not stop it), except on the receivers (``/v1/``), where ``cors_middleware``
lets the pages ``--cors-origin`` lists send, as it does in a developer's own app; and the
bearer token on every request when one is set (the browser may pass ``?token=`` once and
keeps a cookie, which changes something only for the collector's own pages). A page of
another site may not even load anything but the receivers (Fetch Metadata: ``Sec-Fetch-Site:
cross-site`` outside a navigation)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..receive.cors import SAFE_METHODS, cors_middleware, same_origin
from .config import LOOPBACK_NAMES, ServerConfig, is_loopback
from .routes import SECURITY_HEADERS

TOKEN_COOKIE = "bot_telemetry_token"
#: Where ``--cors-origin`` lets other origins send: the receivers.
CORS_PATHS = "/v1/"
#: What a refusal on the receivers says to do (``cors_middleware``'s ``remedy``).
SERVE_REMEDY = "start the collector with --cors-origin {origin} to let that page send telemetry"


def receiver_cors(config: ServerConfig) -> Middleware:
    """``serve``'s CORS for the receivers: the same middleware, and so the same rule, as a
    developer's own app mounting them; put before ``guard``."""
    # With a token, the token decides (guard): another site's page has none to send.
    return cors_middleware(
        config.cors_origins,
        (CORS_PATHS,),
        remedy=SERVE_REMEDY,
        refuse_unlisted=not config.token,
    )


def guard(config: ServerConfig) -> Middleware:
    loopback_only = is_loopback(config.host)
    # The host it was bound to too (127.0.0.2 is loopback, and its own name).
    host_names = LOOPBACK_NAMES | {config.host.lower()}

    @web.middleware
    async def guard(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if loopback_only:
            # A loopback server answers only loopback host names, so a web page cannot reach
            # it through DNS rebinding.
            try:
                named = request.url.host or ""
            except ValueError:  # "Host: 127.0.0.1:x": yarl refuses it (it was a 500)
                return web.json_response(
                    {"error": f"the Host header {request.host[:256]!r} is not host[:port]"},
                    status=400,
                )
            if named.lower() not in host_names:
                return web.json_response(
                    {"error": f"host {request.host!r} not allowed"}, status=403
                )
        origin = request.headers.get("Origin")
        # With a token, a page of another origin has none to send (the cookie is SameSite=
        # Strict): the token decides, and a proxy that rewrites Host cannot lock the UI out.
        # The receivers are receiver_cors's to refuse, by the rule a developer's own app
        # mounting them has too: one rule, not a second copy here.
        if (
            origin is not None
            and request.method not in SAFE_METHODS
            and not config.token
            and not request.path.startswith(CORS_PATHS)
            and not same_origin(request, origin)
        ):
            refusal = f"origin {origin!r} may not send here: only the collector's own pages may"
            return web.json_response({"error": refusal}, status=403)
        if _from_another_site(request):
            return web.json_response(
                {
                    "error": "a page of another site may not load the collector's pages, API "
                    "or files; open the collector's address itself"
                },
                status=403,
            )
        set_cookie = False
        if config.token:
            presented = _presented_token(request)
            if presented is None and _cookie_from_another_origin(request):
                return web.json_response(
                    {
                        "error": f"origin {request.headers['Origin']!r} may not send with the "
                        "collector's cookie (it is for the collector's own pages): send "
                        "Authorization: Bearer TOKEN"
                    },
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
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
            if set_cookie and request.method == "GET" and request.path == "/":
                # The page opened with ?token=: the cookie, then the same page without the
                # token, so that it leaves the address bar and the browser's history (the
                # fragment, #/traces, is kept by the browser).
                kept = {name: value for name, value in request.query.items() if name != "token"}
                page = web.Response(
                    status=303,
                    headers={
                        "Location": str(request.rel_url.with_query(kept)),
                        "Cache-Control": "no-store",
                        **SECURITY_HEADERS,
                    },
                )
                page.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="Strict")
                return page
        response = await handler(request)
        if not request.path.startswith("/v1/"):
            response.headers.update(SECURITY_HEADERS)
        if set_cookie and config.token:
            response.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="Strict")
        return response

    middleware: Middleware = guard
    return middleware


def _from_another_site(request: web.Request) -> bool:
    # Fetch Metadata: a GET from another site's page (an img, a script, a no-cors fetch) is
    # sent by the browser as any other and, without a token, answered: CORS hides the
    # answer, not the work (a heavy query, an audit row for a forged download link) nor its
    # timing. The receivers are CORS's (--cors-origin); a navigation (a link followed, a
    # download link in a mail) is the person's own.
    return (
        request.headers.get("Sec-Fetch-Site") == "cross-site"
        and request.headers.get("Sec-Fetch-Mode") != "navigate"
        and not request.path.startswith(CORS_PATHS)
    )


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    query = request.query.get("token")
    if query:
        return query
    if _cookie_from_another_origin(request):
        return None
    return request.cookies.get(TOKEN_COOKIE)


def _cookie_from_another_origin(request: web.Request) -> bool:
    # SameSite=Strict keeps the cookie from other sites, but a site is a host whatever its
    # port: a page on another port of this host (another app, the sample's web chat) sends
    # it too. The cookie stands for the collector's own pages, so it changes nothing for
    # another origin's page; a page that was given the token sends it in the header.
    if TOKEN_COOKIE not in request.cookies or request.method in SAFE_METHODS:
        return False
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        # The browser's own answer, which a proxy rewriting Host cannot spoil.
        return site not in _OWN_PAGE
    origin = request.headers.get("Origin")
    return origin is not None and not same_origin(request, origin)


#: Sec-Fetch-Site of a request from the collector's own page, or one the user made.
_OWN_PAGE = frozenset({"same-origin", "none"})
