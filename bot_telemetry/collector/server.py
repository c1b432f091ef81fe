"""``bot-telemetry serve``: the OTLP/HTTP receiver and the web UI on one port.

    config = ServerConfig(store=Path(".bot-telemetry/telemetry.duckdb"))
    asyncio.run(serve(config))            # until SIGINT/SIGTERM

    with CollectorThread(config) as collector:   # in-process, on a thread of its own
        print(collector.url)

It listens on loopback unless told otherwise; another address needs ``allow_remote`` and a
token, which every request must then carry (``Authorization: Bearer TOKEN``; the browser
may pass ``?token=`` once and keeps a cookie).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import receiver
from .store import DEFAULT_STORE, Store
from .web.routes import SECURITY_HEADERS, Queries, add_routes
from .writer import StoreWriter

_log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
TOKEN_COOKIE = "bot_telemetry_token"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class ConfigError(ValueError):
    """The server settings are unsafe or inconsistent."""


@dataclass(frozen=True)
class ServerConfig:
    store: Path = DEFAULT_STORE
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_remote: bool = False
    token: str | None = None
    max_body: int = receiver.DEFAULT_MAX_BODY
    retention_seconds: float = 0

    def check(self) -> None:
        """Refuse a non-loopback bind unless it is explicit and protected by a token."""
        if not is_loopback(self.host):
            if not self.allow_remote:
                raise ConfigError(
                    f"refusing to listen on {self.host}: telemetry may hold personal data; "
                    "pass --allow-remote and --token to accept connections from other hosts"
                )
            if not self.token or len(self.token) < 16:
                raise ConfigError(
                    f"listening on {self.host} needs --token (16 characters or more) "
                    "that every client must send"
                )


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def discovery_path(store: Path) -> Path:
    """Where a running server says where it listens, for the CLI to find it."""
    return store.with_name(store.name + ".serve.json")


def _guard(config: ServerConfig) -> Middleware:
    loopback_only = is_loopback(config.host)

    @web.middleware
    async def guard(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if loopback_only:
            # A loopback server answers only loopback host names, so a web page cannot reach
            # it through DNS rebinding.
            if (request.url.host or "") not in _LOOPBACK_NAMES:
                return web.json_response({"error": f"host {request.host!r} not allowed"},
                                         status=403)
        set_cookie = False
        if config.token:
            presented = _presented_token(request)
            if presented is None or not hmac.compare_digest(presented, config.token):
                return web.json_response(
                    {"error": "missing or wrong token: send Authorization: Bearer TOKEN"},
                    status=401, headers={"WWW-Authenticate": "Bearer"},
                )
            set_cookie = request.query.get("token") is not None
        response = await handler(request)
        if not request.path.startswith("/v1/"):
            response.headers.update(SECURITY_HEADERS)
        if set_cookie and config.token:
            response.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="Strict")
        return response

    middleware: Middleware = guard
    return middleware


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("token") or request.cookies.get(TOKEN_COOKIE)


def create_app(config: ServerConfig, store: Store | None = None) -> web.Application:
    """The aiohttp application; it opens the store (unless given one) and closes it on cleanup."""
    config.check()
    opened = store or Store.open(config.store)
    writer = StoreWriter(opened, retention_seconds=config.retention_seconds)
    queries = Queries(opened)
    app = web.Application(client_max_size=config.max_body, middlewares=[_guard(config)])
    receiver.add_routes(app, writer, config.max_body)
    add_routes(app, queries)

    async def close(_: web.Application) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, writer.close)
        queries.close()
        if store is None:
            opened.close()

    app.on_cleanup.append(close)
    return app


class Running:
    """A started server: its URL, and a way to stop it from its own loop."""

    def __init__(self, runner: web.AppRunner, config: ServerConfig):
        self.runner = runner
        self.config = config
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        discovery_path(self.config.store).unlink(missing_ok=True)
        await self.runner.cleanup()


async def start(config: ServerConfig) -> Running:
    """Bind and start serving; the caller stops it with ``Running.stop()``."""
    app = create_app(config)
    # The receiver inflates gzip itself, so it can bound the inflated size (a gzip bomb).
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    running = Running(runner, config)
    discovery_path(config.store).write_text(
        json.dumps({"url": running.url, "pid": os.getpid()})
    )
    return running


async def serve(config: ServerConfig, ready: Callable[[Running], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then finish pending writes and close the store."""
    running = await start(config)
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

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
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
