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
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiohttp import web

from .app import create_app
from .config import ServerConfig
from .discovery import discovery_path


class Running:
    """A started server: its URL, and a way to stop it from its own loop."""

    def __init__(self, runner: web.AppRunner, config: ServerConfig):
        self.runner = runner
        self.config = config
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        if isinstance(self.config.store, Path):
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
    if isinstance(config.store, Path):  # ClickHouse has no file lock: the CLI reads it itself
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
