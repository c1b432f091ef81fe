"""The metrics API, for the UI's metrics page and the CLI.

GET /api/metrics           metric names, kinds, series and point counts (?since=&until=)
GET /api/metrics/{name}    one metric's series: values over time, or histogram percentiles
"""

from __future__ import annotations

from aiohttp import web

from ..analytics import metrics
from .routes import Queries, _bad_input, _error, _int, _json, _window


def add_metrics_routes(app: web.Application, queries: Queries) -> None:
    async def metric_list(request: web.Request) -> web.StreamResponse:
        return _json(
            await queries.run(metrics.list_metrics, _window(request), _int(request, "limit", 500))
        )

    async def metric(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = await queries.run(metrics.get_metric, name, _window(request))
        if found is None:
            return _error(404, f"no points of metric {name!r} in this time window")
        return _json(found)

    app.router.add_get("/api/metrics", _bad_input(metric_list))
    # Metric names may hold "/" (the OTLP name syntax allows it), and anything else.
    app.router.add_get(r"/api/metrics/{name:[\s\S]+}", _bad_input(metric))
