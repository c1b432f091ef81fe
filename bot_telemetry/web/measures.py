"""The measures API (the seed-002 shape; docs/measures.md):

POST /analytics/query       {"startTime": ..., "endTime": ..., "context": {...},
                             "measures": [{"measureType": ..., ...}]}
                            -> [{"measureType", "timeGranularity", "response": [rows]}, ...]
GET  /analytics/measures    every measure (definition, values, keys, dimensions, params),
                            the granularities and dimensions, and the stored time range
POST /analytics/granularities  {"startTime": ..., "endTime": ...}
                            -> each granularity's bucket count in that window and whether a
                            query may ask for it (the query's own rule: the UI offers these)

A bad request is a 400 whose body names the field and what was expected there:
``{"error": "...", "field": "measures[0].timeGranularity", "expected": "..."}``. The guard of
``web/auth.py`` applies as to every route.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..analytics.measures import RequestError, catalog, parse_request, run
from ..analytics.measures.granularity import MAX_BUCKETS
from ..analytics.measures.request import parse_window, usable_granularities
from ..analytics.query import Query
from ..analytics.traces import iso
from ..store.engine import Engine, EngineError
from .routes import BodyTooLarge, Queries, _json, body_too_large, json_body, store_failed

STORED_RANGE = Query(
    "measures.stored_range",
    """SELECT min(first_ns) AS earliest_ns, max(last_ns) AS latest_ns FROM (
           SELECT min(start_ns) AS first_ns, max(start_ns) AS last_ns FROM turns
           UNION ALL
           SELECT min(time_ns) AS first_ns, max(time_ns) AS last_ns FROM events
           UNION ALL
           SELECT min(start_ns) AS first_ns, max(start_ns) AS last_ns FROM spans) found""",
)


def stored_range(engine: Engine) -> dict[str, str | None]:
    """When the first and the last turn, event or span stored began (None: nothing stored).

    Spans too: dependencyCalls counts them, and a call can start before any turn (the
    channel's call into the bot starts before the bot's turn; a refused call has no turn),
    so a window from the first turn or event left such calls out.
    """
    row = STORED_RANGE.run(engine).dicts()[0]
    return {
        "first": iso(row["earliest_ns"]) if row["earliest_ns"] is not None else None,
        "last": iso(row["latest_ns"]) if row["latest_ns"] is not None else None,
    }


async def _body(request: web.Request) -> Any:
    raw = await json_body(request)  # BodyTooLarge: the handler's 413
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError("body", "a JSON object", detail=f"it is not JSON: {error}") from None
    except RecursionError:  # a client's deep nesting is bad input, not a 500
        raise RequestError("body", "a JSON object", detail="it is nested too deeply") from None


def add_measure_routes(app: web.Application, queries: Queries) -> None:
    async def analytics_query(request: web.Request) -> web.StreamResponse:
        try:
            checked = parse_request(await _body(request))
        except RequestError as error:
            return _json(error.as_json(), 400)
        except BodyTooLarge:
            return body_too_large()
        try:
            results = await queries.run(run, checked)
        except EngineError as error:
            return store_failed(error)
        return _json([result.as_json() for result in results])

    async def measures(request: web.Request) -> web.StreamResponse:
        try:
            stored = await queries.run(stored_range)
        except EngineError as error:
            return store_failed(error)
        described: dict[str, Any] = {**catalog(), "stored": stored}
        return _json(described)

    async def granularities(request: web.Request) -> web.StreamResponse:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise RequestError("body", 'a JSON object like {"startTime": ...}', body)
            start_ns, end_ns = parse_window(body)
        except RequestError as error:
            return _json(error.as_json(), 400)
        except BodyTooLarge:
            return body_too_large()
        return _json(
            {
                "startTime": iso(start_ns),
                "endTime": iso(end_ns),
                "maxBuckets": MAX_BUCKETS,
                "granularities": usable_granularities(start_ns, end_ns),
            }
        )

    app.router.add_post("/analytics/query", analytics_query)
    app.router.add_post("/analytics/granularities", granularities)
    app.router.add_get("/analytics/measures", measures)
