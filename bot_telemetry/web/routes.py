"""The UI's routes: the page, its static files, and a JSON API the CLI also uses.

    GET /api/appmap              app map JSON (?since=15m&until=...)
    GET /api/appmap.svg          the same as SVG
    GET /api/nodes/{node}        a node's operations and recent traces
    GET /api/traces              search (?conversation=&event=&service=&failed=true|false&limit=)
    GET /api/traces/{trace_id}   one trace: span tree, span events, log records
    GET /api/conversations       the list;  /api/conversations/{id}: the transcript
    GET /api/events              custom events (?name=&limit=; name=LuisIntent.* a prefix)

Queries run on an engine (the DuckDB store, or ClickHouse) on a small thread pool, never on
the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import resources
from typing import Any, TypeVar

from aiohttp import web

from ..analytics import appmap, conversations, events, traces
from ..analytics.window import TimeWindow
from ..store.engine import Engine, EngineError, EngineUnavailable
from . import render

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATIC = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
# The UI only talks to its own origin; values from telemetry are never markup.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Queries:
    """Runs analytics functions (``f(engine, *args)``) on worker threads."""

    def __init__(self, engine: Engine, workers: int = 2):
        self.engine = engine
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="bot-telemetry-query")

    async def run(self, query: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(query, self.engine, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@functools.cache
def _page_scripts() -> tuple[str, ...]:
    """The UI's pages: every script in static/pages/ registers one or more."""
    folder = resources.files(__package__).joinpath("static/pages")
    return tuple(sorted(f.name for f in folder.iterdir() if f.name.endswith(".js")))


@functools.cache
def _index_page() -> str:
    page = resources.files(__package__).joinpath("static/index.html").read_text()
    tags = "".join(
        f'<script src="/static/pages/{name}" defer></script>\n' for name in _page_scripts()
    )
    return page.replace("<!-- pages -->\n", tags)


def _json(value: Any, status: int = 200) -> web.Response:
    # allow_nan=False: the queries give NaN and Infinity as strings (analytics.json_values),
    # and an answer the browser's JSON.parse refuses must never leave.
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return web.Response(status=status, text=text, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


#: The largest body of a JSON request to the API (measures, funnels, flows, retention, an
#: exhaust submit): such a request is a few KiB; the app's own limit is the OTLP receivers'
#: (16 MiB), whose parse took ~0.5 s of the event loop, the receivers' and the UI's.
API_BODY_LIMIT = 1 << 20


class BodyTooLarge(Exception):
    """A JSON request's body over ``API_BODY_LIMIT``."""

    message = (
        f"the request body is over {API_BODY_LIMIT:,} bytes: send a JSON object of the "
        "request's fields (a few KiB)"
    )


def body_too_large(field: str = "body") -> web.Response:
    """The 413 of an API request over ``API_BODY_LIMIT``, naming the field as a 400 does."""
    return _json({"error": f"{field}: {BodyTooLarge.message}", "field": field}, 413)


async def json_body(request: web.Request) -> bytes:
    """The body of a JSON request to the API, read up to ``API_BODY_LIMIT`` (BodyTooLarge
    past it, whatever Content-Length says); bytes, for ``json.loads`` to decode as the JSON
    specification says (a charset the request names, or a wrong one, cannot make a 500)."""
    if request.content_length is not None and request.content_length > API_BODY_LIMIT:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > API_BODY_LIMIT:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def store_failed(error: EngineError) -> web.Response:
    """A query the store failed: 503 with ``Retry-After`` when it could not be reached (the
    same request may be answered soon), else 500."""
    if isinstance(error, EngineUnavailable):
        response = _error(503, f"the store is unavailable: {error}")
        response.headers["Retry-After"] = "1"
        return response
    return _error(500, f"store query failed: {error}")


def _window(request: web.Request) -> TimeWindow:
    return TimeWindow.parse(request.query.get("since") or None, request.query.get("until") or None)


def _int(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if not text:
        return default
    try:
        number = int(text)
    except ValueError as error:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from error
    if number < 1:
        # limit=-1 answered one row, as though asked for it.
        raise ValueError(f"{name} must be at least 1, not {number}")
    return min(number, 1000)  # more is answered as 1,000 (the docs say so)


def _failed(request: web.Request) -> bool | None:
    text = request.query.get("failed", "").lower()
    if text in ("", "any"):
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"failed must be true or false, not {text!r}")


def _bad_input(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValueError as error:
            return _error(400, str(error))
        except EngineError as error:
            return store_failed(error)

    return wrapped


def add_routes(app: web.Application, queries: Queries) -> None:
    async def index(request: web.Request) -> web.StreamResponse:
        return web.Response(text=_index_page(), content_type="text/html")

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "appmap.css":
            return web.Response(text=render.APPMAP_CSS, content_type="text/css")
        content_type = _STATIC.get(name)
        if content_type is None:
            return _error(404, f"no static file {name!r}")
        text = resources.files(__package__).joinpath(f"static/{name}").read_text()
        return web.Response(text=text, content_type=content_type)

    async def page_script(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _page_scripts():
            return _error(404, f"no page script {name!r}")
        text = resources.files(__package__).joinpath(f"static/pages/{name}").read_text()
        return web.Response(text=text, content_type="text/javascript")

    async def app_map(request: web.Request) -> web.StreamResponse:
        return _json(await queries.run(appmap.build_app_map, _window(request)))

    async def app_map_svg(request: web.Request) -> web.StreamResponse:
        built = await queries.run(appmap.build_app_map, _window(request))
        return web.Response(text=render.as_svg(built), content_type="image/svg+xml")

    async def node(request: web.Request) -> web.StreamResponse:
        name = request.match_info["node"]
        window = _window(request)

        def details(engine: Engine) -> dict[str, Any]:
            ids = appmap.node_trace_ids(engine, name, window)
            return {
                "node": name,
                "operations": appmap.node_operations(engine, name, window),
                "traces": traces.summarize(engine, ids),
            }

        return _json(await queries.run(details))

    async def trace_search(request: web.Request) -> web.StreamResponse:
        query = traces.TraceQuery(
            window=_window(request),
            conversation_id=request.query.get("conversation") or None,
            event_name=request.query.get("event") or None,
            service=request.query.get("service") or None,
            failed=_failed(request),
            limit=_int(request, "limit", 50),
        )
        return _json(await queries.run(traces.search_traces, query))

    async def trace(request: web.Request) -> web.StreamResponse:
        trace_id = traces.valid_trace_id(request.match_info["trace_id"])
        found = await queries.run(traces.get_trace, trace_id)
        if found is None:
            return _error(404, f"no trace {trace_id} in the store")
        return _json(found)

    async def conversation_list(request: web.Request) -> web.StreamResponse:
        return _json(
            await queries.run(
                conversations.list_conversations, _window(request), _int(request, "limit", 100)
            )
        )

    async def conversation(request: web.Request) -> web.StreamResponse:
        conversation_id = request.match_info["conversation_id"]
        found = await queries.run(conversations.get_conversation, conversation_id)
        if found is None:
            return _error(404, f"no conversation {conversation_id!r} in the store")
        return _json(found)

    async def event_list(request: web.Request) -> web.StreamResponse:
        return _json(
            await queries.run(
                events.list_events,
                _window(request),
                request.query.get("name") or None,
                _int(request, "limit", 100),
            )
        )

    async def health(request: web.Request) -> web.StreamResponse:
        return _json({"status": "ok", "store": queries.engine.description})

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/static/pages/{name}", page_script)
    app.router.add_get("/api/health", health)
    for path, handler in (
        ("/api/appmap", app_map),
        ("/api/appmap.svg", app_map_svg),
        ("/api/nodes/{node}", node),
        ("/api/traces", trace_search),
        ("/api/traces/{trace_id}", trace),
        ("/api/conversations", conversation_list),
        ("/api/conversations/{conversation_id}", conversation),
        ("/api/events", event_list),
    ):
        app.router.add_get(path, _bad_input(handler))
