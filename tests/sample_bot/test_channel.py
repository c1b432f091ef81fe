"""The channel simulator: the Bot Framework protocol towards a bot, the driver API towards us."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot_telemetry import instrument_aiohttp_client
from sample_bot.channel import ChannelSimulator, build_app
from sample_bot.driver import ChannelDriver, DriverError
from tests.support.ports import free_port
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$")


class LateBot:
    """A bot that acknowledges at once and replies afterwards, as a proactive bot does
    (and not at all to "quiet")."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def messages(self, request: web.Request) -> web.Response:
        activity = await request.json()
        self.received.append((dict(request.headers), activity))
        if activity["type"] == "message" and activity["text"] != "quiet":
            task = asyncio.create_task(self._reply(activity))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=201)

    async def _reply(self, activity: dict[str, Any]) -> None:
        await asyncio.sleep(0.05)
        url = (
            f"{activity['serviceUrl']}/v3/conversations/{activity['conversation']['id']}"
            f"/activities/{activity['id']}"
        )
        async with aiohttp.ClientSession() as session:
            await session.post(url, json={"type": "message", "text": f"echo {activity['text']}"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/messages", self.messages)
        return app


@asynccontextmanager
async def channel_for(bot_url: str) -> AsyncIterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with serving(build_app(ChannelSimulator(bot_url, url)), port=port):
        yield url


async def test_posts_bot_framework_activities_with_trace_headers(
    telemetry: CapturedTelemetry,
) -> None:
    instrument_aiohttp_client()
    bot = LateBot()
    async with serving(bot.app()) as bot_url, channel_for(f"{bot_url}/api/messages") as url:
        async with ChannelDriver(url) as driver:
            conversation = await driver.start("u7", "Ana")
            await driver.say(conversation, "hi")
    (update_headers, update), (headers, message) = bot.received
    assert update["type"] == "conversationUpdate"
    assert [m["id"] for m in update["membersAdded"]] == ["u7", "sample-bot"]
    assert message["type"] == "message" and message["text"] == "hi"
    assert message["serviceUrl"] == url
    assert message["conversation"]["id"] == conversation
    assert message["from"] == {"id": "u7", "name": "Ana", "role": "user"}
    assert message["recipient"]["role"] == "bot"
    assert message["channelId"] == "sample-channel"
    assert TRACEPARENT.match(headers["traceparent"])
    assert headers["traceparent"] != update_headers["traceparent"]


async def test_waits_for_replies_sent_after_the_acknowledgement() -> None:
    bot = LateBot()
    async with serving(bot.app()) as bot_url, channel_for(f"{bot_url}/api/messages") as url:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/driver/conversations", json={}) as started:
                conversation = (await started.json())["conversationId"]
            path = f"{url}/driver/conversations/{conversation}/messages"
            async with session.post(path, json={"text": "one", "expectReplies": 1}) as got:
                answer = await got.json()
            async with session.post(path, json={"text": "quiet", "timeout": 0}) as got:
                not_waited = await got.json()
    assert answer["botStatus"] == 201
    assert [(r["text"], r["replyToId"]) for r in answer["replies"]] == [
        ("echo one", answer["activityId"])
    ]
    assert not_waited["replies"] == []


async def test_connector_endpoints_record_what_the_bot_sends() -> None:
    bot = LateBot()
    async with serving(bot.app()) as bot_url, channel_for(f"{bot_url}/api/messages") as url:
        async with ChannelDriver(url) as driver, aiohttp.ClientSession() as session:
            conversation = await driver.start("u1", "Ana")
            base = f"{url}/v3/conversations/{conversation}/activities"
            async with session.post(base, json={"type": "message", "text": "proactive"}) as got:
                sent_id = (await got.json())["id"]
            async with session.put(f"{base}/{sent_id}", json={"type": "message", "text": "edited"}):
                pass
            async with session.delete(f"{base}/{sent_id}") as got:
                assert got.status == 200
            async with session.get(f"{url}/v3/conversations/{conversation}/members") as got:
                members = await got.json()
            async with session.post(
                f"{url}/v3/conversations/nope/activities/x", json={"type": "message"}
            ) as got:
                assert got.status == 404
            recorded = await driver.replies(conversation)
    assert [r.get("text") for r in recorded] == ["proactive", "edited", None]
    assert recorded[2] == {"type": "messageDelete", "deleted": sent_id, "id": recorded[2]["id"]}
    assert [m["id"] for m in members] == ["u1", "sample-bot"]


async def test_driver_errors_are_clear() -> None:
    dead_bot = f"http://127.0.0.1:{free_port()}/api/messages"
    async with channel_for(dead_bot) as url, ChannelDriver(url) as driver:
        with pytest.raises(DriverError, match=r"502.*did not answer"):
            await driver.start("u1", "Ana")
        with pytest.raises(DriverError, match="404"):
            await driver.say("no-such-conversation", "hi")
    bot = LateBot()
    async with serving(bot.app()) as bot_url, channel_for(f"{bot_url}/api/messages") as url:
        async with ChannelDriver(url) as driver:
            conversation = await driver.start("u1", "Ana")
            for bad in ("", "x" * 4001):
                with pytest.raises(DriverError, match="400"):
                    await driver.say(conversation, bad)
