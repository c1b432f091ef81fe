"""A channel that speaks the Bot Framework protocol to a bot, and an API to drive it.

Towards the bot it does what a real channel (or the Emulator) does: it POSTs activities
to the bot's ``/api/messages`` with its own ``serviceUrl``, and serves the Bot Connector
endpoints the bot's replies go to (``POST /v3/conversations/{id}/activities/{replyToId}``
and friends), so both hops are real, traced HTTP.

Towards the demo driver and tests it offers a small API:

    POST /driver/conversations                   {"userId": "u1", "userName": "Ana"}
    POST /driver/conversations/{id}/messages     {"text": "hi", "expectReplies": 1}
    GET  /driver/conversations/{id}/replies

A message call answers once the bot has acknowledged the activity; the bot's replies
for it are in the answer. A bot replies during its turn, before it acknowledges, so
they are all there; ``expectReplies`` additionally waits (with a deadline) for replies
sent later.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from ..faults import RequestLedger

MAX_CONVERSATIONS = 10_000
MAX_TEXT_LENGTH = 4_000


@dataclass
class _Conversation:
    id: str
    user: dict[str, str]
    #: The simulator's own, or the channel a client of it stands for (Direct Line: webchat).
    channel_id: str
    activities: list[dict[str, Any]] = field(default_factory=list)  # what the bot sent
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class BotUnavailable(RuntimeError):
    pass


class ChannelSimulator:
    """The channel's state: conversations and what the bot sent to each."""

    def __init__(
        self,
        bot_url: str,
        service_url: str,
        *,
        channel_id: str = "sample-channel",
        bot_id: str = "sample-bot",
        bot_timeout: float = 30.0,
    ) -> None:
        self.bot_url = bot_url
        self.service_url = service_url.rstrip("/")
        self.channel_id = channel_id
        self.bot = {"id": bot_id, "name": "Sample Bot", "role": "bot"}
        self._bot_timeout = aiohttp.ClientTimeout(total=bot_timeout)
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        #: Called with (conversation id, activity) for everything the bot sends (Direct Line).
        self.observers: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []

    async def start(self, _: web.Application) -> None:
        self._session = aiohttp.ClientSession(timeout=self._bot_timeout)

    async def close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    # -- towards the bot -------------------------------------------------------------------

    def _activity(self, conversation: _Conversation, kind: str, **extra: Any) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        return {
            "type": kind,
            "id": f"in-{next(self._ids):06d}",
            "timestamp": now,
            "localTimestamp": now,
            "serviceUrl": self.service_url,
            "channelId": conversation.channel_id,
            "from": conversation.user,
            "recipient": self.bot,
            "conversation": {"id": conversation.id},
            "locale": "en-US",
            **extra,
        }

    async def _post_to_bot(self, activity: dict[str, Any]) -> int:
        assert self._session is not None, "the channel app has not started"
        try:
            async with self._session.post(self.bot_url, json=activity) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise BotUnavailable(f"the bot at {self.bot_url} did not answer: {error!r}") from error

    async def start_conversation(self, user_id: str, user_name: str) -> tuple[str, int]:
        conversation_id = self.open_conversation(user_id, user_name)
        return conversation_id, await self.greet(conversation_id)

    def open_conversation(self, user_id: str, user_name: str, channel_id: str | None = None) -> str:
        conversation = _Conversation(
            id=f"conv-{uuid.uuid4().hex[:12]}",
            user={"id": user_id, "name": user_name, "role": "user"},
            channel_id=channel_id or self.channel_id,
        )
        self._conversations[conversation.id] = conversation
        while len(self._conversations) > MAX_CONVERSATIONS:
            self._conversations.popitem(last=False)
        return conversation.id

    async def greet(self, conversation_id: str) -> int:
        """Tell the bot the user and the bot joined (``conversationUpdate``)."""
        conversation = self._conversations[conversation_id]
        update = self._activity(
            conversation, "conversationUpdate", membersAdded=[conversation.user, self.bot]
        )
        return await self._post_to_bot(update)

    def user_activity(self, conversation_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """An activity from the conversation's user with the channel's ids (not yet sent)."""
        fields = dict(fields)
        kind = str(fields.pop("type"))
        return self._activity(self._conversations[conversation_id], kind, **fields)

    async def post_activity(self, activity: dict[str, Any]) -> int:
        """Send an activity made by ``user_activity`` to the bot; the bot's HTTP status."""
        return await self._post_to_bot(activity)

    async def send_message(
        self, conversation_id: str, text: str, expect_replies: int, wait: float
    ) -> tuple[dict[str, Any], int, list[dict[str, Any]]]:
        conversation = self._conversations[conversation_id]
        activity = self._activity(conversation, "message", text=text, textFormat="plain")
        status = await self._post_to_bot(activity)
        replies = await self._replies_to(conversation, activity["id"], expect_replies, wait)
        return activity, status, replies

    async def _replies_to(
        self, conversation: _Conversation, activity_id: str, expected: int, wait: float
    ) -> list[dict[str, Any]]:
        def answered() -> list[dict[str, Any]]:
            return [a for a in conversation.activities if a.get("replyToId") == activity_id]

        async with conversation.changed:
            try:
                await asyncio.wait_for(
                    conversation.changed.wait_for(lambda: len(answered()) >= expected), wait
                )
            except TimeoutError:
                pass  # answer with what arrived; the caller sees fewer replies than it expected
            return answered()

    # -- the Bot Connector side: what the bot calls ------------------------------------------

    async def record(self, conversation_id: str, activity: dict[str, Any]) -> str | None:
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            return None
        activity_id = f"out-{next(self._ids):06d}"
        stored = {**activity, "id": activity_id}
        async with conversation.changed:
            conversation.activities.append(stored)
            conversation.changed.notify_all()
        for observer in self.observers:
            await observer(conversation_id, stored)
        return activity_id

    def conversation(self, conversation_id: str) -> _Conversation | None:
        return self._conversations.get(conversation_id)

    def members(self, conversation_id: str) -> list[dict[str, str]] | None:
        conversation = self._conversations.get(conversation_id)
        return None if conversation is None else [conversation.user, self.bot]


SIMULATOR_KEY = web.AppKey("channel_simulator", ChannelSimulator)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "BadArgument", "the body must be JSON")
    if not isinstance(body, dict):
        return _error(400, "BadArgument", "the body must be a JSON object")
    return body


# -- connector endpoints ---------------------------------------------------------------------


async def reply_to_activity(request: web.Request) -> web.Response:
    return await _receive(request, reply_to=request.match_info["activity_id"])


async def send_to_conversation(request: web.Request) -> web.Response:
    return await _receive(request, reply_to=None)


async def _receive(request: web.Request, reply_to: str | None) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    if reply_to is not None:
        body.setdefault("replyToId", reply_to)
    activity_id = await simulator.record(request.match_info["conversation_id"], body)
    if activity_id is None:
        return _error(404, "ConversationNotFound", "no such conversation on this channel")
    return web.json_response({"id": activity_id}, status=200)


async def update_activity(request: web.Request) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    body["updated"] = request.match_info["activity_id"]
    if await simulator.record(request.match_info["conversation_id"], body) is None:
        return _error(404, "ConversationNotFound", "no such conversation on this channel")
    return web.json_response({"id": request.match_info["activity_id"]})


async def delete_activity(request: web.Request) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    deleted = {"type": "messageDelete", "deleted": request.match_info["activity_id"]}
    if await simulator.record(request.match_info["conversation_id"], deleted) is None:
        return _error(404, "ConversationNotFound", "no such conversation on this channel")
    return web.Response(status=200)


async def get_members(request: web.Request) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    members = simulator.members(request.match_info["conversation_id"])
    if members is None:
        return _error(404, "ConversationNotFound", "no such conversation on this channel")
    return web.json_response(members)


# -- driver endpoints --------------------------------------------------------------------------


async def driver_start(request: web.Request) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    body = await _json_object(request) if request.can_read_body else {}
    if isinstance(body, web.Response):
        return body
    user_id = str(body.get("userId") or f"user-{uuid.uuid4().hex[:8]}")
    user_name = str(body.get("userName") or "User")
    try:
        conversation_id, status = await simulator.start_conversation(user_id, user_name)
    except BotUnavailable as error:
        return _error(502, "BotUnavailable", str(error))
    conversation = simulator.conversation(conversation_id)
    replies = list(conversation.activities) if conversation else []
    return web.json_response(
        {"conversationId": conversation_id, "botStatus": status, "replies": replies}, status=201
    )


async def driver_message(request: web.Request) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    conversation_id = request.match_info["conversation_id"]
    if simulator.conversation(conversation_id) is None:
        return _error(404, "ConversationNotFound", "start the conversation first")
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    text, expected, timeout = (
        body.get("text"),
        body.get("expectReplies", 0),
        body.get("timeout", 10),
    )
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_LENGTH:
        return _error(400, "BadArgument", f"'text' must be 1 to {MAX_TEXT_LENGTH} characters")
    if isinstance(expected, bool) or not isinstance(expected, int) or not 0 <= expected <= 100:
        return _error(400, "BadArgument", "'expectReplies' must be a whole number from 0 to 100")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout <= 120:
        return _error(400, "BadArgument", "'timeout' must be 0 to 120 seconds")
    try:
        activity, status, replies = await simulator.send_message(
            conversation_id, text, expected, float(timeout)
        )
    except BotUnavailable as error:
        return _error(502, "BotUnavailable", str(error))
    return web.json_response(
        {"activityId": activity["id"], "botStatus": status, "replies": replies}
    )


async def driver_replies(request: web.Request) -> web.Response:
    simulator: ChannelSimulator = request.app[SIMULATOR_KEY]
    conversation = simulator.conversation(request.match_info["conversation_id"])
    if conversation is None:
        return _error(404, "ConversationNotFound", "no such conversation on this channel")
    return web.json_response({"replies": conversation.activities})


def build_app(simulator: ChannelSimulator, ledger: RequestLedger | None = None) -> web.Application:
    app = web.Application(middlewares=[ledger.middleware] if ledger else [])
    app[SIMULATOR_KEY] = simulator
    app.on_startup.append(simulator.start)
    app.on_cleanup.append(simulator.close)
    activities = "/v3/conversations/{conversation_id}/activities"
    app.router.add_post(activities, send_to_conversation)
    app.router.add_post(activities + "/{activity_id}", reply_to_activity)
    app.router.add_put(activities + "/{activity_id}", update_activity)
    app.router.add_delete(activities + "/{activity_id}", delete_activity)
    app.router.add_get("/v3/conversations/{conversation_id}/members", get_members)
    app.router.add_get(activities + "/{activity_id}/members", get_members)
    app.router.add_post("/driver/conversations", driver_start)
    app.router.add_post("/driver/conversations/{conversation_id}/messages", driver_message)
    app.router.add_get("/driver/conversations/{conversation_id}/replies", driver_replies)
    return app
