"""What the bot's requests to other services carry in their headers, over real HTTP: the
caller's ``baggage`` is passed on (W3C Baggage), but a member holding personal data (a
user id or name under the keys that say so, an email, phone or card number) is not sent
to the next service under the default policy.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from bot_telemetry import instrument_aiohttp_client, instrument_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry, capture

EMAIL = "grace.hopper@navy.example.mil"
INBOUND = (
    f"user.id={EMAIL},tenant=contoso;ttl=60,note=Grace%20Hopper,userId=u-42,"
    f"contact=%2B14155550123,plan=gold"
)


@pytest.fixture
def default_policy() -> Iterator[CapturedTelemetry]:
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()


async def test_baggage_with_personal_data_is_not_passed_on(
    default_policy: CapturedTelemetry,
) -> None:
    instrument_aiohttp_client()
    received: list[CIMultiDict[str]] = []

    async def record(request: web.Request) -> web.Response:
        received.append(CIMultiDict(request.headers))
        return web.json_response({})

    luis = web.Application()
    luis.router.add_post("/predict", record)

    async with serving(luis) as luis_url:

        async def messages(request: web.Request) -> web.Response:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{luis_url}/predict", json={}) as response:
                    assert response.status == 200
            return web.Response(status=201)

        app = web.Application()
        app.router.add_post("/api/messages", messages)
        instrument_app(app)
        async with serving(app) as bot, aiohttp.ClientSession() as http:
            async with http.post(
                f"{bot}/api/messages", json={}, headers={"baggage": INBOUND}
            ) as response:
                assert response.status == 201
    assert len(received) == 1
    sent = received[0]
    assert "traceparent" in sent
    # free text under a key of the application's own is its business (W3C Baggage)
    assert sent.getall("baggage") == ["tenant=contoso;ttl=60,note=Grace%20Hopper,plan=gold"]
