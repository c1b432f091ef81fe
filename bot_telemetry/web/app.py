"""The aiohttp application of ``bot-telemetry serve``: the OTLP receiver, the UI and its API
over one store."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..posthog import PostHogSettings
from ..receive import otlp_http
from ..receive.journal import Journal, JournalError
from ..receive.sunbird import add_telemetry_routes
from ..store.database import Store
from ..store.engine import DuckDBEngine, Engine
from ..store.location import ClickHouseLocation
from ..store.writer import Sink, StoreWriter
from .auth import guard, receiver_cors
from .client_events import add_client_event_routes
from .config import ServerConfig
from .exhaust import add_exhaust
from .journeys import add_journey_routes
from .measures import add_measure_routes
from .metrics_routes import add_metrics_routes
from .posthog import add_posthog_routes, privacy_option
from .ratelimit import Buckets, limit_of, rate_limits
from .read_only import add_read_only_routes
from .routes import Queries, add_routes

if TYPE_CHECKING:
    from ..store.clickhouse import ClickHouseEngine

#: The store's single writer, shared with the OTLP/gRPC server (absent when read-only).
WRITER = web.AppKey("writer", StoreWriter)
#: The receivers' rate limit (per client address), shared with serve's OTLP/gRPC port.
INGEST_LIMIT = web.AppKey("ingest_limit", Buckets)

_log = logging.getLogger(__name__)


def _open(config: ServerConfig, store: Store | None) -> tuple[Engine, Sink | None]:
    """The engine the UI and API read, and where receivers write (None: read-only)."""
    if isinstance(config.store, ClickHouseLocation):
        from ..store.clickhouse import HTTPClickHouseEngine
        from ..store.clickhouse_ingest import ClickHouseSink

        ttl_seconds = math.ceil(config.retention_seconds)
        engine = HTTPClickHouseEngine.open(
            config.store, create_schema=config.create_schema, ttl_seconds=ttl_seconds
        )
        if config.create_schema and ttl_seconds:
            _warn_of_other_ttls(engine, ttl_seconds)
        return engine, None if config.read_only else ClickHouseSink(engine)
    opened = store or Store.open(config.store, read_only=config.read_only)
    return DuckDBEngine(opened, owns_store=store is None), None if config.read_only else opened


def _warn_of_other_ttls(engine: ClickHouseEngine, ttl_seconds: int) -> None:
    """Tables that existed keep the TTL they were made with (an earlier version made
    --retention 36h one day, 12h none): said, with the command that prints the fix."""
    try:
        changes = engine.ttl_changes(ttl_seconds)
    except Exception as error:  # only a warning: the tables are there and usable
        _log.debug("could not compare the tables' TTL: %s", error)
        return
    if changes:
        retention = _duration(ttl_seconds)
        kept = ", ".join(f"{table} ({ttl or 'no TTL'})" for table, ttl, _ in changes)
        _log.warning(
            "tables that existed keep the TTL they were made with, not --retention %s: %s; "
            "`bot-telemetry clickhouse-schema --store URL --ttl %s` prints the ALTER TABLE "
            "statements that change it",
            retention,
            kept,
            retention,
        )


def _duration(seconds: int) -> str:
    """36h, 30d: as --retention is written (its largest unit that divides it)."""
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % length == 0:
            return f"{seconds // length}{unit}"
    return f"{seconds}s"


def _reads_after_writes(writer: StoreWriter) -> Any:
    """A middleware: a request that reads (anything but the receivers) first has the writer
    commit the rows it holds, so what a receiver answered as received is what is read."""

    @web.middleware
    async def fresh(request: web.Request, handler: Any) -> web.StreamResponse:
        if writer.waiting_rows and not request.path.startswith("/v1/"):
            try:
                await asyncio.wrap_future(writer.flush())
            except Exception:  # the writer logged it; the read shows what is stored
                pass
        response: web.StreamResponse = await handler(request)
        return response

    return fresh


def create_app(config: ServerConfig, store: Store | None = None) -> web.Application:
    """The aiohttp application; it opens the store (unless given one) or connects to ClickHouse,
    and closes it on cleanup (or at once when the application cannot be built)."""
    config.check()
    engine, sink = _open(config, store)
    try:
        return _assemble(config, engine, sink)
    except BaseException:
        engine.close()  # a failed start leaves no store open (DuckDB's objects leaked at exit)
        raise


def _assemble(config: ServerConfig, engine: Engine, sink: Sink | None) -> web.Application:
    queries = Queries(engine)
    # CORS before the token check: a browser's preflight carries no token. The rate limit
    # after CORS (a listed page's 429 carries its CORS headers, so the page can read it, and
    # preflights cost no token) and before the rest: a flood is refused before other work.
    ingest = limit_of(config.ingest_rate_limit)
    limit = rate_limits(ingest, limit_of(config.query_rate_limit))
    middlewares = [receiver_cors(config), guard(config)]
    if limit is not None:
        middlewares.insert(1, limit)
    app = web.Application(client_max_size=config.max_body, middlewares=middlewares)
    if ingest is not None:
        app[INGEST_LIMIT] = ingest
    writer = None
    receiver = None
    journal = None
    if sink is not None:
        writer = StoreWriter(sink, retention_seconds=config.retention_seconds)
        app[WRITER] = writer
        app.middlewares.append(_reads_after_writes(writer))
        otlp_http.add_routes(app, writer, config.max_body, config.policy)
        path = config.journal_path()
        try:
            journal = Journal.open(path) if path is not None else None
        except JournalError:
            # In use by another serve: a start-up failure, one line and status 1 from the
            # CLI, as a port in use (not a ConfigError, which is bad input, status 2).
            writer.close()
            raise
        receiver = add_telemetry_routes(
            app,
            writer,
            dedup_window=config.client_dedup_seconds,
            journal=journal,
            linger=config.client_linger_seconds,
            policy=config.policy,
        )
        if journal is not None:

            async def replay(_: web.Application) -> None:
                # Before the first request: what an earlier run answered and did not commit.
                await asyncio.get_running_loop().run_in_executor(None, receiver.replay_journal)

            app.on_startup.append(replay)
    add_routes(app, queries)
    add_metrics_routes(app, queries)
    add_client_event_routes(app, queries, receiver)
    add_journey_routes(app, queries)
    add_measure_routes(app, queries)
    if sink is None:  # read-only: receivers and exhausts refuse, nothing is kept on disk
        add_read_only_routes(app)
    else:
        add_exhaust(app, config, queries.engine, writer)

    async def close(_: web.Application) -> None:
        loop = asyncio.get_running_loop()
        if writer is not None:
            await loop.run_in_executor(None, writer.close)
        if journal is not None:  # after the writer: its last commits release their bodies
            await loop.run_in_executor(None, journal.close)
        queries.close()
        engine.close()

    app.on_cleanup.append(close)
    add_posthog_routes(
        app,
        writer,
        queries,
        PostHogSettings.from_environment(),
        config.store,
        config.policy,
        privacy_option(config.privacy, config.privacy_file),
    )
    return app
