"""A real agent over HTTP: aiohttp + the correlation layer + the Agents SDK's CloudAdapter
and AgentApplication + our middleware, authentication off (anonymous connections, as the
sample's agent).

The agent replies through the Bot Connector API at the activity's serviceUrl, which is a
local connector server (tests/bot/servers.py) keeping every request it gets.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ConnectionManager,
    MemoryStorage,
    Storage,
    TurnContext,
    TurnState,
)

from bot_telemetry import instrument_aiohttp_client, telemetry_middleware
from bot_telemetry.agents import TelemetryMiddleware
from tests.bot.servers import Recorded, connector_app
from tests.support.servers import serving

Route = Callable[[TurnContext, TurnState], Awaitable[None]]


def anonymous_connections() -> ConnectionManager:
    return ConnectionManager(
        provider_factory=lambda _config: AnonymousTokenProvider(),
        connections_configurations={
            "SERVICE_CONNECTION": AgentAuthConfiguration(anonymous_allowed=True)
        },
    )


@dataclass
class RunningAgent:
    url: str
    connector_url: str
    connector: Recorded
    adapter: CloudAdapter
    app: AgentApplication[TurnState]
    turn_errors: list[BaseException]

    def activity(
        self, text: str, conversation: str, user: str = "user-1", **extra: Any
    ) -> dict[str, Any]:
        """A channel's message activity, as JSON on the wire."""
        return {
            "type": "message",
            "id": uuid.uuid4().hex,
            "channelId": extra.pop("channel", "directline"),
            "serviceUrl": self.connector_url,
            "text": text,
            "locale": "en-US",
            "from": {"id": user, "name": extra.pop("user_name", "A User")},
            "recipient": {"id": "agent-1", "name": "Agent"},
            "conversation": {"id": conversation, "name": extra.pop("conversation_name", None)},
            **extra,
        }

    async def send(
        self, http: aiohttp.ClientSession, activity: dict[str, Any], **headers: str
    ) -> int:
        async with http.post(self.url, json=activity, headers=headers) as response:
            await response.read()
            return response.status

    def replies(self, conversation: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.connector.requests
            if r["method"] == "POST" and conversation in (None, r["conversation"])
        ]


async def echo(context: TurnContext, state: TurnState) -> None:
    await context.send_activity(f"you said {context.activity.text}")


@asynccontextmanager
async def running_agent(
    route: Route = echo,
    middleware: Any = None,
    *,
    storage: Storage | None = None,
    configure_app: Callable[[AgentApplication[TurnState]], None] | None = None,
) -> AsyncIterator[RunningAgent]:
    """``route`` answers every message (after what ``configure_app`` registers);
    ``middleware`` (one or a list, in order) goes on the adapter, our turn middleware by
    default."""
    instrument_aiohttp_client()
    connections = anonymous_connections()
    adapter = CloudAdapter(connection_manager=connections)
    turn_errors: list[BaseException] = []

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        turn_errors.append(error)
        await context.send_activity("Sorry, something went wrong.")

    adapter.on_turn_error = on_turn_error
    if middleware is None:
        middleware = TelemetryMiddleware()
    for each in middleware if isinstance(middleware, list) else [middleware]:
        adapter.use(each)
    app = AgentApplication[TurnState](
        storage=storage or MemoryStorage(), connection_manager=connections
    )
    if configure_app is not None:
        configure_app(app)
    app.activity("message")(route)

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, app, adapter)
        return response if response is not None else web.Response(status=202)

    web_app = web.Application(middlewares=[telemetry_middleware])
    web_app.router.add_post("/api/messages", messages)
    connector = Recorded()
    async with serving(connector_app(connector)) as connector_url, serving(web_app) as url:
        yield RunningAgent(
            f"{url}/api/messages", connector_url, connector, adapter, app, turn_errors
        )
