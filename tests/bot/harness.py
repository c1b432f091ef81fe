"""A real bot over HTTP: aiohttp + the correlation layer + CloudAdapter + our middleware.

The bot replies through the Bot Connector API at the activity's serviceUrl, which is a
local connector server (tests/bot/servers.py). Authentication is botbuilder's own
auth-disabled configuration: no app id, no password.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botbuilder.core import Bot, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)

from bot_telemetry import TelemetryMiddleware, instrument_aiohttp_client, telemetry_middleware
from tests.bot.servers import Recorded, connector_app
from tests.support.servers import serving


class AuthDisabled:
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


class CallableBot(Bot):  # type: ignore[misc]
    def __init__(self, logic: Callable[[TurnContext], Awaitable[None]]) -> None:
        self._logic = logic

    async def on_turn(self, context: TurnContext) -> None:
        await self._logic(context)


@dataclass
class RunningBot:
    url: str
    connector_url: str
    connector: Recorded
    adapter: CloudAdapter

    def activity(
        self, text: str, conversation: str, user: str = "user-1", **extra: Any
    ) -> dict[str, Any]:
        """A channel's message activity, as JSON on the wire."""
        return {
            "type": "message",
            "id": uuid.uuid4().hex,
            "channelId": "directline",
            "serviceUrl": self.connector_url,
            "text": text,
            "locale": "en-US",
            "from": {"id": user, "name": extra.pop("user_name", "A User")},
            "recipient": {"id": "bot-1", "name": "Bot"},
            "conversation": {"id": conversation},
            **extra,
        }


@asynccontextmanager
async def running_bot(
    logic: Callable[[TurnContext], Awaitable[None]],
    middleware: TelemetryMiddleware | None = None,
    routes: Mapping[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] | None = None,
    members: Mapping[str, dict[str, Any]] | None = None,
) -> AsyncIterator[RunningBot]:
    """``routes``: more GET routes on the bot's app (a proactive bot's ``/api/notify``);
    ``members``: the conversation members the connector knows (``TeamsInfo.get_member``)."""
    instrument_aiohttp_client()
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(AuthDisabled()))
    adapter.use(middleware or TelemetryMiddleware())
    bot = CallableBot(logic)

    async def messages(request: web.Request) -> web.Response:
        response = await adapter.process(request, bot)
        return response or web.Response(status=201)

    app = web.Application(middlewares=[telemetry_middleware])
    app.router.add_post("/api/messages", messages)
    for path, handler in (routes or {}).items():
        app.router.add_get(path, handler)
    connector = Recorded()
    async with serving(connector_app(connector, members)) as connector_url, serving(app) as url:
        yield RunningBot(f"{url}/api/messages", connector_url, connector, adapter)
