"""A whole botbuilder bot with bot-telemetry: an echo bot that counts its turns in
conversation state. Run it and talk to it from the Bot Framework Emulator
(http://localhost:3978/api/messages, no app id), with ``bot-telemetry serve`` running:

    bot-telemetry serve &                 # the embedded collector: http://127.0.0.1:4318
    python examples/echo_bot.py           # --port 3978

Each turn is one trace (POST /api/messages → bot.turn → Storage Read/Write, the reply's
POST to the channel), with BotMessageReceived/BotMessageSend events. Without
OTEL_EXPORTER_OTLP_ENDPOINT it exports to the embedded collector on 127.0.0.1:4318.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from botbuilder.core import ActivityHandler, ConversationState, MemoryStorage, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

import bot_telemetry
from bot_telemetry import OpenTelemetryBotTelemetryClient, TelemetryMiddleware, TelemetryStorage


class AuthenticationOff:
    """No app registration (the Emulator, local channels). Set these for Azure Bot Service."""

    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


class EchoBot(ActivityHandler):
    def __init__(self, state: ConversationState) -> None:
        self.state = state
        self.turns = state.create_property("turns")

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        turns = await self.turns.get(turn_context, lambda: 0) + 1
        await self.turns.set(turn_context, turns)
        await turn_context.send_activity(f"you said: {turn_context.activity.text} ({turns})")
        await self.state.save_changes(turn_context)


def build_app() -> web.Application:
    bot_telemetry.configure(service_name="echo-bot")  # exporters from the OTEL_* variables
    bot_telemetry.instrument_aiohttp_client()  # the replies to the channel carry the trace

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(AuthenticationOff()))
    adapter.use(TelemetryMiddleware(OpenTelemetryBotTelemetryClient()))
    bot = EchoBot(ConversationState(TelemetryStorage(MemoryStorage())))

    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        await turn_context.send_activity("Sorry, something went wrong.")

    adapter.on_turn_error = on_turn_error

    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, bot)

    app = web.Application(middlewares=[bot_telemetry.telemetry_middleware])
    app.router.add_post("/api/messages", messages)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="An echo bot with bot-telemetry")
    parser.add_argument("--port", type=int, default=3978)
    web.run_app(build_app(), host="127.0.0.1", port=parser.parse_args().port)
