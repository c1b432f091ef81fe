"""The sample bot's aiohttp app on botbuilder: CloudAdapter, telemetry pipeline, state and
routes (the Agents SDK variant: ``agents_app.py``)."""

from __future__ import annotations

import logging
import os

from aiohttp import web
from botbuilder.core import ConversationState, TurnContext, UserState
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bot_telemetry import (
    OpenTelemetryBotTelemetryClient,
    TelemetryMiddleware,
    TelemetryQnA,
    TelemetryRecognizer,
    TelemetryStorage,
    TimedMiddleware,
    set_telemetry_client,
)
from bot_telemetry.bot.prompts import record_prompt_answers

from .bot import SampleBot
from .faults import RequestLedger
from .http_clients import SharedSession
from .qna_client import QnaClient
from .recognizer import NluRecognizer
from .settings import BotSettings
from .storage import make_storage
from .text_middleware import NormalizeTextMiddleware

_log = logging.getLogger(__name__)


class AuthConfig:
    """What ConfigurationBotFrameworkAuthentication reads. No app id and password (the
    default, as with the Emulator) turns authentication off; the usual variables turn it on."""

    APP_TYPE = os.environ.get("MicrosoftAppType", "MultiTenant")
    APP_ID = os.environ.get("MicrosoftAppId", "")
    APP_PASSWORD = os.environ.get("MicrosoftAppPassword", "")
    APP_TENANTID = os.environ.get("MicrosoftAppTenantId", "")


def build_app(settings: BotSettings, ledger: RequestLedger | None = None) -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(AuthConfig()))
    adapter.on_turn_error = _on_turn_error
    adapter.use(TelemetryMiddleware())
    adapter.use(TimedMiddleware(NormalizeTextMiddleware(), name="NormalizeText"))

    storage = TelemetryStorage(make_storage())
    client = OpenTelemetryBotTelemetryClient()
    session = SharedSession()
    recognizer = NluRecognizer(settings.nlu_url, session)
    qna_client = QnaClient(settings.qna_url, session)
    bot = SampleBot(
        ConversationState(storage),
        UserState(storage),
        TelemetryRecognizer(recognizer, name="nlu", endpoint=recognizer.predict_url),
        TelemetryQnA(
            qna_client,
            name="qna",
            endpoint=qna_client.generate_answer_url,
            knowledge_base_id=qna_client.knowledge_base_id,
        ),
        telemetry_client=client,
    )
    set_telemetry_client(bot.dialogs, client)
    record_prompt_answers(bot.dialogs)

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application(middlewares=[ledger.middleware] if ledger else [])
    app.router.add_post("/api/messages", messages)
    app.on_cleanup.append(session.close)
    if settings.w3c_test_route:
        from .w3c_test_route import add_w3c_test_route

        add_w3c_test_route(app)
    return app


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    # TelemetryMiddleware has already marked the turn span failed; tell the user and move on.
    _log.error("unhandled error in a turn: %r", error, exc_info=error)
    try:
        await context.send_activity("Sorry, something went wrong on my side.")
    except Exception:
        _log.exception("could not tell the user about the error")
