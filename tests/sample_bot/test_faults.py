from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from sample_bot.faults import RequestLedger
from sample_bot.service import add_plumbing
from tests.support.servers import serving


async def _ok(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _app(ledger: RequestLedger) -> web.Application:
    app = web.Application(middlewares=[ledger.middleware])
    app.router.add_get("/api/{item}", _ok)
    add_plumbing(app, "test", ledger)
    return app


async def test_every_nth_api_request_fails_and_is_counted() -> None:
    ledger = RequestLedger(fail_every=3)
    async with serving(_app(ledger)) as url, aiohttp.ClientSession() as session:
        statuses = []
        for index in range(7):
            async with session.get(f"{url}/api/{index}") as got:
                statuses.append(got.status)
            async with session.get(f"{url}/health") as health:  # plumbing: never fails
                assert health.status == 200
        async with session.get(f"{url}/stats") as got:
            stats = await got.json()
    assert statuses == [200, 200, 503, 200, 200, 503, 200]
    assert stats["requests"] == 7
    assert stats["failures"] == 2
    assert stats["byRoute"] == {"GET /api/{item}": {"requests": 7, "failures": 2}}


async def test_zero_never_fails() -> None:
    ledger = RequestLedger()
    async with serving(_app(ledger)) as url, aiohttp.ClientSession() as session:
        for index in range(5):
            async with session.get(f"{url}/api/{index}") as got:
                assert got.status == 200
    assert ledger.stats()["failures"] == 0


def test_negative_is_refused() -> None:
    with pytest.raises(ValueError, match="fail_every"):
        RequestLedger(fail_every=-1)
