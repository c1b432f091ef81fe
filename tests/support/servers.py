"""Real aiohttp servers on free loopback ports, for tests."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


@asynccontextmanager
async def serving(
    app: web.Application, port: int | None = None, **handler_args: Any
) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (on ``port`` or a free one) for the block; yields its URL.

    ``handler_args`` go to aiohttp's request handler (header size limits, access_log).
    """
    handler_args.setdefault("access_log", None)
    runner = web.AppRunner(app, **handler_args)
    await runner.setup()
    port = port or free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextmanager
def serving_in_thread(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 from a thread with its own event loop (for a test that is
    not async, like the Chromium ones); yields its URL."""
    loop = asyncio.new_event_loop()
    started: queue.Queue[str | BaseException] = queue.Queue()
    stopping = asyncio.Event()

    async def run() -> None:
        try:
            async with serving(app) as url:
                started.put(url)
                await stopping.wait()
        except BaseException as error:  # handed to the test's thread
            started.put(error)

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    found = started.get(timeout=30)
    if isinstance(found, BaseException):
        raise found
    try:
        yield found
    finally:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(30)
        loop.close()


@contextmanager
def serving_folder(folder: Path) -> Iterator[str]:
    """A static web site: the files of ``folder`` on 127.0.0.1, served from a thread (another
    origin than the collector's, for a page that sends to it); yields its URL."""
    app = web.Application()
    app.router.add_static("/", folder)
    with serving_in_thread(app) as url:
        yield url
