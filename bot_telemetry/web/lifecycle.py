"""``bot-telemetry serve``: the OTLP/HTTP receiver and the web UI on one port, and the
OTLP/gRPC receiver on another (when ``grpc_port`` is set), in one event loop.

    config = ServerConfig(store=Path(".bot-telemetry/telemetry.duckdb"), grpc_port=4317)
    asyncio.run(serve(config))            # until SIGINT/SIGTERM

    with CollectorThread(config) as collector:   # in-process, on a thread of its own
        print(collector.url)

It listens on loopback unless told otherwise; another address needs ``allow_remote`` and a
token, which every request must then carry (``Authorization: Bearer TOKEN``; the browser
may pass ``?token=`` once and keeps a cookie).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import grpc
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..receive.otlp_grpc import start_grpc
from .app import INGEST_LIMIT, WRITER, create_app
from .config import ServerConfig
from .discovery import discovery_path
from .grpc_on_http import GuardedTCPSite

_log = logging.getLogger(__name__)

#: How long in-flight gRPC exports may take to finish when the server stops.
GRPC_GRACE_SECONDS = 10.0
#: How long HTTP requests in flight may take to finish when the server stops (aiohttp's
#: default is 60 s: one client stalled mid-body held SIGTERM that long). Then they are
#: cancelled; what was answered 200 is committed by the writer's close that follows. With
#: the gRPC grace, a stop takes at most ~15 s plus the last commit, inside Kubernetes' 30 s.
HTTP_GRACE_SECONDS = 5.0
#: ``serve``'s young-generation threshold for the cyclic GC (Python's default is 700).
YOUNG_COLLECTION_THRESHOLD = 2_000


_TOKEN_IN_QUERY = re.compile(r"([?&])token=[^&\s'\"]*")


class _OneLineBadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a header over 8 KiB, a NUL in the path), and a
    client gone mid-body, at ERROR with a traceback: ~10 lines that any client, without a
    token, could write as fast as it sends. They are the client's doing: one WARNING line
    saying from whom and why (its own bugs keep their tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError | ConnectionError):
            # aiohttp quotes the start of the line it refused: a ?token= in it stays out.
            said = _TOKEN_IN_QUERY.sub(r"\1token=…", str(error))
            why = " ".join(said.split())[:200] or type(error).__name__
            record.msg, record.args = f"{record.getMessage()}: {why}", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _one_line_bad_requests() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _OneLineBadRequests) for f in server_log.filters):
        server_log.addFilter(_OneLineBadRequests())


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Running:
    """A started server: its URLs, and a way to stop it from its own loop."""

    def __init__(
        self,
        runner: web.AppRunner,
        config: ServerConfig,
        grpc_server: grpc.aio.Server | None = None,
        grpc_port: int | None = None,
    ):
        self.runner = runner
        self.config = config
        host, port = runner.addresses[0][:2]
        self.url = f"http://{_shown(host)}:{port}"
        self.grpc_server = grpc_server
        #: The OTLP/gRPC endpoint as exporters take it, or None when gRPC is off.
        self.grpc_url = (
            f"http://{_shown(config.host.strip('[]'))}:{grpc_port}" if grpc_port else None
        )

    async def stop(self) -> None:
        if isinstance(self.config.store, Path):
            discovery_path(self.config.store).unlink(missing_ok=True)
        # gRPC first: in-flight exports await the writer, which closes with the app.
        if self.grpc_server is not None:
            await self.grpc_server.stop(GRPC_GRACE_SECONDS)
        await self.runner.cleanup()


async def start(config: ServerConfig) -> Running:
    """Bind and start serving; the caller stops it with ``Running.stop()``."""
    _one_line_bad_requests()
    app = create_app(config)
    # The receiver inflates gzip itself, so it can bound the inflated size (a gzip bomb).
    runner = web.AppRunner(
        app, access_log=None, auto_decompress=False, shutdown_timeout=HTTP_GRACE_SECONDS
    )
    await runner.setup()
    grpc_server: grpc.aio.Server | None = None
    grpc_port: int | None = None
    try:
        # gRPC first, so a gRPC client at the HTTP port is told the port actually picked.
        if config.grpc_port is not None and WRITER in app:  # none when read-only
            try:
                grpc_server, grpc_port = await start_grpc(
                    app[WRITER],
                    config.host,
                    config.grpc_port,
                    max_body=config.max_body,
                    token=config.token,
                    policy=config.policy,
                    limit=app[INGEST_LIMIT].admit if INGEST_LIMIT in app else None,
                )
            except OSError as error:
                if not config.grpc_optional:
                    raise
                _log.warning(
                    "OTLP/gRPC not served: %s (pass --grpc-port to use another port, "
                    "--no-grpc to serve none)",
                    error,
                )
        site = GuardedTCPSite(
            runner, config.host, config.port, grpc_port=grpc_port, read_only=config.read_only
        )
        await site.start()
    except OSError:
        if grpc_server is not None:
            await grpc_server.stop(None)
        await runner.cleanup()
        raise
    running = Running(runner, config, grpc_server, grpc_port)
    if isinstance(config.store, Path):  # ClickHouse has no file lock: the CLI reads it itself
        found = {"url": running.url, "pid": os.getpid(), "grpc_url": running.grpc_url}
        discovery_path(config.store).write_text(json.dumps(found))
    return running


async def serve(config: ServerConfig, ready: Callable[[Running], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then finish pending writes and close the store."""
    running = await start(config)
    # This process is the server's: what it holds once started (modules, routes, caches,
    # ~80,000 objects) lives as long as it does, so the cyclic GC need not walk it again.
    # Under client ingest a full collection ran every ~5,000 events, ~50 ms each: ~7% of
    # the server's CPU, then 2-6%.
    gc.freeze()
    # What a request allocates (a client bundle's parsed JSON and rows: ~250 containers) is
    # still alive when a young collection runs every 700 allocations, so it was walked and
    # promoted, and full collections followed: the GC took 220 ms of 40,000 client events'
    # ~3 s of CPU, with 15-18 ms pauses. Every 2,000: 135-175 ms, pauses of 4-6 ms.
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    if ready is not None:
        ready(running)
    try:
        await stopped.wait()
    finally:
        await running.stop()
        gc.set_threshold(*thresholds)
        gc.unfreeze()  # so what the process frees at exit is freed (native extensions check)


class CollectorThread:
    """The server on a background thread with its own event loop (tests, demos, notebooks)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._running: Running | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bot-telemetry-serve", daemon=True)

    def __enter__(self) -> CollectorThread:
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._running = self._loop.run_until_complete(start(self.config))
            self.url = self._running.url
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        if self._running is not None and self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._running.stop(), self._loop)
            done.result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._running = None
