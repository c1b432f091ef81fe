"""``POST /test``: the service contract of the W3C Trace Context test suite.

The body is a JSON array of ``{"url": ..., "arguments": [...]}``. For each element the bot
POSTs ``arguments`` as JSON to ``url`` with the same client instrumentation the bot uses,
so the test harness sees the ``traceparent`` we propagate. Off unless the sample bot is
started with ``--w3c-test-route``.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from bot_telemetry.correlation.client import instrument_aiohttp_client

MAX_CALLS = 64
_TIMEOUT = aiohttp.ClientTimeout(total=10)
_SHAPE = 'expected a JSON array of {"url": "http://...", "arguments": [...]}'


def add_w3c_test_route(app: web.Application) -> None:
    """Add ``POST /test`` to ``app`` (before it starts)."""
    instrument_aiohttp_client()
    app.router.add_post("/test", _test)


class _BadRequest(ValueError):
    pass


def _calls(body: Any) -> list[tuple[URL, Any]]:
    if not isinstance(body, list):
        raise _BadRequest(_SHAPE)
    if len(body) > MAX_CALLS:
        raise _BadRequest(f"at most {MAX_CALLS} calls per request, got {len(body)}")
    calls = []
    for index, item in enumerate(body):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise _BadRequest(f"element {index}: {_SHAPE}")
        arguments = item.get("arguments", [])
        if not isinstance(arguments, list):
            raise _BadRequest(f"element {index}: arguments must be an array")
        try:
            url = URL(item["url"])
        except ValueError as error:
            raise _BadRequest(f"element {index}: invalid url: {error}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise _BadRequest(f"element {index}: url must be an absolute http(s) URL")
        calls.append((url, arguments))
    return calls


async def _test(request: web.Request) -> web.Response:
    try:
        calls = _calls(json.loads(await request.text()))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": f"body is not JSON: {_SHAPE}"}, status=400)
    except _BadRequest as error:
        return web.json_response({"error": str(error)}, status=400)
    failures = []
    # The session is created per request, after instrumentation, like a library's would be.
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        for url, arguments in calls:
            try:
                async with session.post(url, json=arguments) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                failures.append(f"{url}: {type(error).__name__}: {error}")
    if failures:
        return web.json_response({"error": "some calls failed", "failures": failures}, status=502)
    return web.Response(status=200)
