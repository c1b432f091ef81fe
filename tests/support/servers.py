"""Real aiohttp servers on free loopback ports, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
