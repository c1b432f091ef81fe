"""The aiohttp application of ``bot-telemetry serve``: the OTLP receiver, the UI and its API
over one store."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..posthog import PostHogSettings
from ..receive import otlp_http
from ..receive.cors import cors_middleware
from ..receive.sunbird import add_telemetry_routes
from ..store.database import Store
from ..store.engine import DuckDBEngine
from ..store.writer import StoreWriter
from .auth import guard
from .client_events import add_client_event_routes
from .config import ServerConfig
from .measures import add_measure_routes
from .metrics_routes import add_metrics_routes
from .posthog import add_posthog_routes
from .routes import Queries, add_routes

#: The store's single writer, shared with the OTLP/gRPC server.
WRITER = web.AppKey("writer", StoreWriter)


def create_app(config: ServerConfig, store: Store | None = None) -> web.Application:
    """The aiohttp application; it opens the store (unless given one) and closes it on cleanup."""
    config.check()
    opened = store or Store.open(config.store)
    writer = StoreWriter(opened, retention_seconds=config.retention_seconds)
    queries = Queries(DuckDBEngine(opened))
    # CORS before the token check: a browser's preflight carries no token.
    middlewares = [cors_middleware(config.cors_origins), guard(config)]
    app = web.Application(client_max_size=config.max_body, middlewares=middlewares)
    app[WRITER] = writer
    otlp_http.add_routes(app, writer, config.max_body)
    receiver = add_telemetry_routes(app, writer, dedup_window=config.client_dedup_seconds)
    add_routes(app, queries)
    add_metrics_routes(app, queries)
    add_client_event_routes(app, queries, receiver)
    add_measure_routes(app, queries)

    async def close(_: web.Application) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, writer.close)
        queries.close()
        if store is None:
            opened.close()

    app.on_cleanup.append(close)
    add_posthog_routes(app, writer, queries, PostHogSettings.from_environment())
    return app
