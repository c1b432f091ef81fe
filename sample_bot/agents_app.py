"""The sample bot's aiohttp app on the Microsoft 365 Agents SDK: ``CloudAdapter`` with
authentication off (as the botbuilder variant without an app id), the telemetry pipeline,
an ``AgentApplication`` and its routes. Same services, same replies, same telemetry as
``app.py``.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ConnectionManager,
    TurnContext,
    TurnState,
)

from bot_telemetry.agents import (
    OpenTelemetryAgentTelemetryClient,
    TelemetryMiddleware,
    record_application_errors,
    record_prompt_answers,
    set_telemetry_client,
)
from bot_telemetry.dependencies.agents import (
    TelemetryQnA,
    TelemetryRecognizer,
    TelemetryStorage,
    TimedMiddleware,
)

from .agents_bot import AgentsSampleBot
from .agents_storage import make_agents_storage
from .faults import RequestLedger
from .http_clients import SharedSession
from .nlu_client import NluClient
from .qna_client import QnaClient
from .settings import BotSettings
from .text_middleware import AgentsNormalizeTextMiddleware

_log = logging.getLogger(__name__)


def anonymous_connections() -> ConnectionManager:
    """Authentication off: every token is empty and replies carry no Authorization header.
    (With an app registration, ``MsalConnectionManager`` from
    microsoft-agents-authentication-msal reads ``CONNECTIONS__SERVICE_CONNECTION__*``.)"""
    return ConnectionManager(
        provider_factory=lambda _config: AnonymousTokenProvider(),
        connections_configurations={
            "SERVICE_CONNECTION": AgentAuthConfiguration(anonymous_allowed=True)
        },
    )


#: Warns on every turn that there is no app id, which is what authentication off means.
_NO_APP_ID_WARNING = "microsoft_agents.hosting.core.connector.client.user_token_client"


def build_agents_app(settings: BotSettings, ledger: RequestLedger | None = None) -> web.Application:
    logging.getLogger(_NO_APP_ID_WARNING).setLevel(logging.ERROR)
    connections = anonymous_connections()
    adapter = CloudAdapter(connection_manager=connections)
    # The SDK's default prints the traceback to stdout and tells the user the exception.
    adapter.on_turn_error = _on_turn_error
    adapter.use(TelemetryMiddleware())
    adapter.use(TimedMiddleware(AgentsNormalizeTextMiddleware(), name="NormalizeText"))

    app = AgentApplication[TurnState](
        storage=make_agents_storage(TelemetryStorage), connection_manager=connections
    )
    record_application_errors(app)
    client = OpenTelemetryAgentTelemetryClient()
    session = SharedSession()
    recognizer = NluClient(settings.nlu_url, session)
    qna_client = QnaClient(settings.qna_url, session)
    bot = AgentsSampleBot(
        app,
        TelemetryRecognizer(recognizer, name="nlu", endpoint=recognizer.predict_url),
        TelemetryQnA(
            qna_client,
            name="qna",
            endpoint=qna_client.generate_answer_url,
            knowledge_base_id=qna_client.knowledge_base_id,
        ),
        client,
    )
    set_telemetry_client(bot.dialog, client)
    record_prompt_answers(bot.dialog)

    async def messages(request: web.Request) -> web.StreamResponse:
        typed = cast(web.Request, _EntitiesTyped(request))
        response = await start_agent_process(typed, app, adapter)
        return response if response is not None else web.Response(status=202)

    web_app = web.Application(middlewares=[ledger.middleware] if ledger else [])
    web_app.router.add_post("/api/messages", messages)
    web_app.on_cleanup.append(session.close)
    if settings.w3c_test_route:
        from .w3c_test_route import add_w3c_test_route

        add_w3c_test_route(web_app)
    return web_app


class _EntitiesTyped:
    """The request as the SDK reads it (method, headers, json, claims, path), each entity with
    a schema.org ``@type`` and no ``type`` given that as its type. Web Chat's thumbs up/down
    post the ``LikeAction`` the answer offered as an entity, and the Agents SDK's ``Activity``
    refuses an entity without ``type``: every vote was a 500, and no turn."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self.method = request.method
        self.headers = request.headers
        self.match_info = request.match_info

    def get(self, key: str, default: Any = None) -> Any:
        return self._request.get(key, default)

    async def json(self) -> Any:
        body = await self._request.json()
        if isinstance(body, dict) and isinstance(body.get("entities"), list):
            for entity in body["entities"]:
                if isinstance(entity, dict) and "type" not in entity and "@type" in entity:
                    entity["type"] = entity["@type"]
        return body


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    # TelemetryMiddleware has already marked the turn span failed; tell the user and move on.
    _log.error("unhandled error in a turn: %r", error, exc_info=error)
    try:
        await context.send_activity("Sorry, something went wrong on my side.")
    except Exception:
        _log.exception("could not tell the user about the error")
