"""The nlu service's HTTP API, shaped like LUIS v3 prediction.

GET  /luis/prediction/v3.0/apps/{appId}/slots/{slot}/predict?query=...
POST /luis/prediction/v3.0/apps/{appId}/slots/{slot}/predict   {"query": "..."}
"""

from __future__ import annotations

import json

from aiohttp import web

from ..faults import RequestLedger
from .model import IntentModel

PREDICT_ROUTE = "/luis/prediction/v3.0/apps/{app_id}/slots/{slot}/predict"
MAX_QUERY_LENGTH = 500  # LUIS's own limit on an utterance
MODEL_KEY = web.AppKey("nlu_model", IntentModel)


def build_app(model: IntentModel, ledger: RequestLedger | None = None) -> web.Application:
    app = web.Application(middlewares=[ledger.middleware] if ledger else [])
    app[MODEL_KEY] = model
    app.router.add_get(PREDICT_ROUTE, predict)
    app.router.add_post(PREDICT_ROUTE, predict)
    return app


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def predict(request: web.Request) -> web.Response:
    model = request.app[MODEL_KEY]
    if request.match_info["app_id"] != model.app_id:
        return _error(
            404,
            "NotFound",
            f"no app {request.match_info['app_id']!r}; this service serves {model.app_id!r}",
        )
    if request.match_info["slot"] not in ("production", "staging"):
        return _error(400, "BadArgument", "slot must be 'production' or 'staging'")
    query: object = request.query.get("query")
    if request.method == "POST":
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "BadArgument", 'the body must be JSON: {"query": "..."}')
        query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str) or not query.strip():
        return _error(400, "BadArgument", "a non-empty 'query' is required")
    if len(query) > MAX_QUERY_LENGTH:
        return _error(
            414, "QueryTooLong", f"the query is longer than {MAX_QUERY_LENGTH} characters"
        )
    return web.json_response(model.predict(query).to_luis_v3())
