"""A corpus of messages full of personal data through the real adapter and every bot-layer
component; then every exported byte (what the exporters received, OTLP-encoded) is searched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from botbuilder.ai.luis import LuisApplication, LuisRecognizer, LuisRecognizerOptionsV3
from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint
from botbuilder.core import ConversationState, MemoryStorage, TurnContext
from botbuilder.dialogs import DialogSet, DialogTurnStatus, WaterfallDialog, WaterfallStepContext
from botbuilder.dialogs.prompts import PromptOptions, TextPrompt
from botbuilder.schema import Activity, ActivityTypes
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bot_telemetry import (
    OpenTelemetryBotTelemetryClient,
    PrivacyPolicy,
    TelemetryMiddleware,
    set_telemetry_client,
)
from tests.bot.harness import running_bot
from tests.bot.servers import Recorded, luis_app, qna_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry, capture

# (user id, user name, message): ids and names are personal too.
CORPUS = [
    (
        "grace.hopper@navy.example.mil",
        "Grace Hopper",
        "Hi, I'm Grace Hopper, write to grace.hopper@navy.example.mil",
    ),
    ("u-2", "Alan Turing", "Call me on +44 20 7946 0958 about the flight, Alan Turing here"),
    ("u-3", "Margaret Hamilton", "My card is 4111 1111 1111 1111, book a flight to Houston"),
    ("u-4", "Katherine Johnson", "Mastercard 5500-0000-0000-0004, phone (415) 555-0132"),
    ("u-5", "Ada Lovelace", "reset password for ada.lovelace@analytical.example.org"),
]
PATTERNED = [
    "grace.hopper@navy.example.mil",
    "+44 20 7946 0958",
    "442079460958",
    "4111 1111 1111 1111",
    "4111111111111111",
    "5500-0000-0000-0004",
    "5500000000000004",
    "(415) 555-0132",
    "4155550132",
    "ada.lovelace@analytical.example.org",
]
NAMES = ["Grace Hopper", "Alan Turing", "Margaret Hamilton", "Katherine Johnson", "Ada Lovelace"]
LUIS_APP_ID = "b31aeaf3-3511-495b-a07f-571fc873214b"
LUIS_KEY = "048ec46dc58e495482b0c447cfdbd291"


def exported_bytes(captured: CapturedTelemetry) -> bytes:
    """Every span and log record, serialized the way the OTLP exporters send them."""
    spans = encode_spans(list(captured.spans())).SerializeToString()
    logs = encode_logs(list(captured.logs())).SerializeToString()
    return spans + logs


async def converse(captured: CapturedTelemetry) -> bytes:
    client = OpenTelemetryBotTelemetryClient()
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogs"))

    async def ask(step: WaterfallStepContext) -> Any:
        said = step.context.activity.text
        prompt = Activity(type=ActivityTypes.message, text=f"you said: {said}")
        return await step.prompt("again", PromptOptions(prompt=prompt))

    async def finish(step: WaterfallStepContext) -> Any:
        return await step.end_dialog(step.result)

    dialogs.add(TextPrompt("again"))
    dialogs.add(WaterfallDialog("echo", [ask, finish]))
    set_telemetry_client(dialogs, client)

    luis_calls, qna_calls = Recorded(), Recorded()
    async with serving(luis_app(luis_calls)) as luis_url, serving(qna_app(qna_calls)) as qna_url:
        # botbuilder's own flags say "log personal information": the policy still decides.
        recognizer = LuisRecognizer(
            LuisApplication(LUIS_APP_ID, LUIS_KEY, luis_url),
            LuisRecognizerOptionsV3(telemetry_client=client, log_personal_information=True),
        )
        qna = QnAMaker(
            QnAMakerEndpoint("kb-1", "key", f"{qna_url}/qnamaker"),
            telemetry_client=client,
            log_personal_information=True,
        )

        async def logic(context: TurnContext) -> None:
            text = context.activity.text
            await recognizer.recognize(context)
            await qna.get_answers(context)
            # a developer passing personal data through the client, deliberately
            user = context.activity.from_property
            client.track_event("Feedback", {"text": text, "userName": user.name})
            client.track_dependency(
                "profiles.read", f"lookup {user.id}", "Azure table", "profiles", 3, True
            )
            dialog_context = await dialogs.create_context(context)
            result = await dialog_context.continue_dialog()
            if result.status == DialogTurnStatus.Empty:
                await dialog_context.begin_dialog("echo")
            await state.save_changes(context)

        try:
            async with running_bot(logic, TelemetryMiddleware()) as bot:
                async with aiohttp.ClientSession() as http:
                    for index, (user, name, text) in enumerate(CORPUS):
                        for message in (text, f"again: {text}"):
                            body = bot.activity(message, f"conv-{index}", user=user, user_name=name)
                            async with http.post(bot.url, json=body) as response:
                                assert response.status in {200, 201}
        finally:
            await qna.close()

    assert len(luis_calls.requests) == len(qna_calls.requests) == 2 * len(CORPUS)
    # one prompt per conversation (the second message answers it)
    assert len(bot.connector.requests) == len(CORPUS)
    # The test double really got the personal data: the bot did see it.
    assert any("4111 1111 1111 1111" in r["activity"]["text"] for r in bot.connector.requests)
    return exported_bytes(captured)


def assert_signals_present(data: bytes) -> None:
    expected = [
        b"bot.turn",
        b"BotMessageReceived",
        b"BotMessageSend",
        b"LuisResult",
        b"QnaMessage",
        b"WaterfallStep",
        b"Feedback",
        b"profiles.read",
    ]
    for name in expected:
        assert name in data, name


async def test_default_policy_exports_none_of_the_personal_data(
    telemetry: CapturedTelemetry,
) -> None:
    data = await converse(telemetry)
    assert_signals_present(data)
    for secret in [*PATTERNED, *NAMES, *(user for user, _, _ in CORPUS if "@" in user)]:
        assert secret.encode() not in data, secret
    # message text does not leave at all, not even its harmless words
    assert b"book a flight" not in data and b"reset password" not in data


@pytest.fixture
def opened() -> Iterator[CapturedTelemetry]:
    captured = capture("bot", privacy=PrivacyPolicy(log_personal_information=True))
    yield captured
    captured.handle.shutdown()


async def test_opened_policy_exports_text_with_patterns_redacted(opened: CapturedTelemetry) -> None:
    data = await converse(opened)
    assert_signals_present(data)
    for secret in PATTERNED:
        assert secret.encode() not in data, secret
    assert b"book a flight to Houston" in data
    assert b"[REDACTED]" in data
    for name in NAMES:
        assert name.encode() in data, f"{name}: fromName is allowed by the opened policy"
    # user ids stay pseudonymous even when personal data may be logged
    assert b"grace.hopper@navy.example.mil" not in data
    assert re.search(rb"[0-9a-f]{32}", data)
