"""Personal data in URL paths, through real HTTP: the bot's own routes (a SERVER span's
``url.path``), a third-party API it calls with a user's address in the path, and
botframework-connector's request for one member of a conversation (the user's id in the
path). Every exported byte (spans OTLP-encoded) is searched under the default policy.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bot_telemetry import PrivacyPolicy, instrument_aiohttp_client, instrument_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry, capture

EMAIL = "grace.hopper@navy.example.mil"
PHONE = "+14155550123"
NAME = "Grace Hopper"
USER_ID = "grace.hopper@navy.example.mil"
CONVERSATION = f"sms:{PHONE}"


def forms(value: str) -> set[bytes]:
    found = {value, urllib.parse.quote(value), urllib.parse.quote(value, safe="")}
    found.add(urllib.parse.quote_plus(value))
    return {form.encode() for form in found}


@pytest.fixture
async def third_party() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        if "/members/" in request.path:
            return web.json_response({"id": "m", "name": "member"})
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with serving(app) as url:
        yield url


async def exported_paths(telemetry: CapturedTelemetry, third_party: str) -> bytes:
    from botframework.connector.aio import ConnectorClient
    from botframework.connector.auth import MicrosoftAppCredentials

    instrument_aiohttp_client()

    async def profile(request: web.Request) -> web.Response:
        async with aiohttp.ClientSession() as http:
            quoted = urllib.parse.quote(NAME)
            for path in (f"/users/{EMAIL}/profile", f"/people/{quoted}", f"/sms/{PHONE}"):
                async with http.get(f"{third_party}{path}") as response:
                    assert response.status == 200
        connector = ConnectorClient(MicrosoftAppCredentials.empty(), base_url=third_party)
        member = await connector.conversations.get_conversation_member(CONVERSATION, USER_ID)
        assert member.id == "m"
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/api/users/{user}", profile)
    instrument_app(app)
    async with serving(app) as bot, aiohttp.ClientSession() as http:
        async with http.get(f"{bot}/api/users/{urllib.parse.quote(EMAIL)}") as response:
            assert response.status == 200
        async with http.get(f"{bot}/api/users/{urllib.parse.quote(NAME)}") as response:
            assert response.status == 200
    spans = telemetry.spans()
    paths = sorted(str(span.attributes.get("url.path", "")) for span in spans)
    assert "/api/users/[REDACTED]" in paths, paths
    fulls = [str(span.attributes.get("url.full", "")) for span in spans]
    assert any(url.endswith("/users/[REDACTED]/profile") for url in fulls), fulls
    return encode_spans(list(spans)).SerializeToString()


@pytest.fixture
def default_policy() -> AsyncIterator[CapturedTelemetry]:
    captured = capture("bot")
    yield captured
    captured.handle.shutdown()


async def test_url_paths_keep_no_personal_data(
    default_policy: CapturedTelemetry, third_party: str
) -> None:
    data = await exported_paths(default_policy, third_party)
    assert b"/api/users/{user}" in data  # the route is kept: it is the developer's
    for value in (EMAIL, PHONE, NAME, USER_ID, CONVERSATION, PHONE[1:]):
        for form in forms(value):
            assert form not in data, form
    # the connector's member id is the user's id: pseudonymous, as on every other signal
    policy = PrivacyPolicy()
    assert policy.url_path(f"/v3/conversations/c1/members/{USER_ID}") == (
        f"/v3/conversations/c1/members/{policy.pseudonymize(USER_ID)}"
    )


def test_url_paths_under_the_opened_policy_keep_names_but_not_patterns() -> None:
    opened = PrivacyPolicy(log_personal_information=True, pseudonymization_key=b"k")
    assert opened.url_path("/people/Grace%20Hopper/x") == "/people/Grace%20Hopper/x"
    assert opened.url_path(f"/users/{EMAIL}") == "/users/[REDACTED]"
    closed = PrivacyPolicy(pseudonymization_key=b"k")
    assert closed.url_path("/people/Grace%20Hopper/x") == "/people/[REDACTED]/x"
    # ids, versions and routes stay as they are
    for path in ("/v3/conversations/8bcQ2xJ-us/activities/1712345678901", "/luis/v3.0/apps/a1"):
        assert closed.url_path(path) == path
    assert opened.url("https://example.org/u/grace%40example.org?q=1") == (
        "https://example.org/u/[REDACTED]?q=1"
    )


def test_names_given_to_the_client_lose_emails_phone_and_card_numbers(
    default_policy: CapturedTelemetry,
) -> None:
    """A request named after its path, a dependency or an event named after what it was
    for: names are the developer's, but built from a user's data they would carry it."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    from bot_telemetry import OpenTelemetryBotTelemetryClient

    client = OpenTelemetryBotTelemetryClient()
    client.track_request(f"GET /users/{EMAIL}", f"https://bot.example/users/{EMAIL}", True)
    client.track_dependency(f"lookup {PHONE}", "select 1", "SQL", "db", 3, True)
    client.track_event(f"Signup {EMAIL}", {"plan": "free"})
    client.track_pageview(f"card 4111 1111 1111 1111 of {EMAIL}", "https://x.example/y", 4)
    client.track_event("BotMessageReceived", {})
    spans, records = default_policy.spans(), default_policy.logs()
    data = encode_spans(list(spans)).SerializeToString()
    data += encode_logs(list(records)).SerializeToString()
    for value in (EMAIL, PHONE, PHONE[1:], "4111 1111 1111 1111"):
        for form in forms(value):
            assert form not in data, form
    assert sorted(span.name for span in spans) == ["GET /users/[REDACTED]", "lookup [REDACTED]"]
    names = sorted(str(r.log_record.event_name) for r in records)
    assert names == ["BotMessageReceived", "Signup [REDACTED]", "card [REDACTED] of [REDACTED]"]
