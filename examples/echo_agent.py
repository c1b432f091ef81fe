"""A whole Microsoft 365 Agents SDK agent with bot-telemetry: an echo agent that counts its
turns in conversation state. Run it and talk to it from the Bot Framework Emulator
(http://localhost:3978/api/messages, no app id), with ``bot-telemetry serve`` running:

    bot-telemetry serve &                 # the embedded collector: http://127.0.0.1:4318
    python examples/echo_agent.py         # --port 3978

The same telemetry as examples/echo_bot.py on botbuilder: one trace per turn, the
``bot.turn`` span, BotMessage* events, Storage spans, the reply's POST; the SDK's own
``agents.*`` spans stay off (docs/agents.md).
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ConnectionManager,
    MemoryStorage,
    TurnContext,
    TurnState,
)

import bot_telemetry
from bot_telemetry.agents import TelemetryMiddleware, record_application_errors
from bot_telemetry.dependencies.agents import TelemetryStorage


def authentication_off() -> ConnectionManager:
    """No app registration (the Emulator, local channels). For Azure Bot Service use
    microsoft-agents-authentication-msal's ``MsalConnectionManager``."""
    return ConnectionManager(
        provider_factory=lambda _config: AnonymousTokenProvider(),
        connections_configurations={
            "SERVICE_CONNECTION": AgentAuthConfiguration(anonymous_allowed=True)
        },
    )


def build_app() -> web.Application:
    bot_telemetry.configure(service_name="echo-agent")  # exporters from the OTEL_* variables
    bot_telemetry.instrument_aiohttp_client()  # the replies to the channel carry the trace
    # With authentication off the SDK warns on every turn that there is no app id.
    logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(
        logging.ERROR
    )

    connections = authentication_off()
    adapter = CloudAdapter(connection_manager=connections)
    adapter.use(TelemetryMiddleware())
    agent = AgentApplication[TurnState](
        storage=TelemetryStorage(MemoryStorage()), connection_manager=connections
    )
    record_application_errors(agent)  # a turn whose error @agent.error handles stays failed

    @agent.activity("message")
    async def on_message(context: TurnContext, state: TurnState) -> None:
        turns = int(state.conversation.get_value("turns", lambda: 0)) + 1
        state.conversation.set_value("turns", turns)
        await context.send_activity(f"you said: {context.activity.text} ({turns})")

    @agent.error
    async def on_error(context: TurnContext, error: Exception) -> None:
        await context.send_activity("Sorry, something went wrong.")

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    app = web.Application(middlewares=[bot_telemetry.telemetry_middleware])
    app.router.add_post("/api/messages", messages)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="An echo agent with bot-telemetry")
    parser.add_argument("--port", type=int, default=3978)
    web.run_app(build_app(), host="127.0.0.1", port=parser.parse_args().port)
