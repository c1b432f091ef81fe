"""The journeys API (docs/journeys.md), on whichever engine serve reads:

    POST /analytics/funnel            a funnel, its drop-off causes and dropped entities
    POST /analytics/funnel/dialogs    every dialog's funnel, ready to POST to /analytics/funnel
    POST /analytics/paths             user flows: nodes and edges
    POST /analytics/retention         a cohort table

Bodies are JSON objects; a bad one is a 400 whose ``error`` names the field and what was
expected (``field`` holds the field alone).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from ..analytics import journeys
from ..analytics.journeys import RequestError
from ..store.engine import EngineError
from .routes import BodyTooLarge, Queries, _json, body_too_large, json_body, store_failed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _body(request: web.Request) -> Mapping[str, Any]:
    raw = await json_body(request)  # BodyTooLarge: the handler's 413
    if not raw.strip():
        return {}
    try:
        # Bytes: json decodes UTF-8 (or -16, -32) itself; request.text() raised on bytes
        # that are not UTF-8, or a charset Python does not know (a 500).
        body = json.loads(raw)
    except ValueError as error:  # UnicodeDecodeError is one
        raise RequestError("request body", f"expected JSON: {error}") from error
    except RecursionError:  # a client's deep nesting is bad input, not a 500
        raise RequestError("request body", "expected JSON nested less deeply") from None
    if not isinstance(body, dict):
        raise RequestError("request body", "expected a JSON object")
    return body


def add_journey_routes(app: web.Application, queries: Queries) -> None:
    def route(analysis: Callable[..., Any]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                body = await _body(request)
                return _json(await queries.run(analysis, body))
            except RequestError as error:
                return _json({"error": str(error), "field": error.field}, 400)
            except BodyTooLarge:
                return body_too_large("request body")
            except EngineError as error:
                return store_failed(error)

        return handle

    app.router.add_post("/analytics/funnel", route(journeys.funnel))
    app.router.add_post("/analytics/funnel/dialogs", route(journeys.dialog_funnels))
    app.router.add_post("/analytics/paths", route(journeys.paths))
    app.router.add_post("/analytics/retention", route(journeys.retention))
