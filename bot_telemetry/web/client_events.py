"""The client-events API (what the UI page and the CLI read):

GET /api/client-events            stored client events (?eid=&conversation=&limit=&since=)
GET /api/client-events?failed=true   the failed set, with each event's reason
GET /api/client-events/stats      per-eid counts in the store, the failed set's size, and
                                  what this server's receiver took since it started
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..analytics import client_events
from ..receive.sunbird import SunbirdReceiver
from ..store.engine import Engine
from .routes import Queries, _bad_input, _failed, _int, _json, _window


def add_client_event_routes(
    app: web.Application, queries: Queries, receiver: SunbirdReceiver | None = None
) -> None:
    async def listing(request: web.Request) -> web.StreamResponse:
        window = _window(request)
        limit = _int(request, "limit", 100)
        if _failed(request):
            return _json(await queries.run(client_events.list_failed, window, limit))
        return _json(
            await queries.run(
                client_events.list_client_events,
                window,
                request.query.get("eid") or None,
                request.query.get("conversation") or None,
                limit,
            )
        )

    async def stats(request: web.Request) -> web.StreamResponse:
        window = _window(request)

        def stored(engine: Engine) -> dict[str, Any]:
            return client_events.counts(engine, window)

        found = await queries.run(stored)
        received = dict(receiver.counts) if receiver is not None else None
        return _json({**found, "receiver": received})

    app.router.add_get("/api/client-events", _bad_input(listing))
    app.router.add_get("/api/client-events/stats", _bad_input(stats))
