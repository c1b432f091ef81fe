"""A corpus of messages full of personal data through the real adapter and every bot-layer
component, then every exported byte is searched: what the OTLP exporters would send (spans,
span events, exceptions, log records, metrics, OTLP-encoded) and what the Azure Monitor
exporter really posted to a local ingestion endpoint.

The personal data reaches telemetry every way a bot can hand it over: message text and user
names and ids on the activity; LUIS and QnA Maker questions; a developer's custom event with
properties the policy has never seen (``userQuestion``, ``guest``, a JSON ``details``); a
trace message, a metric's attributes and a page view's URL; exception messages, from a
dependency, from ``track_exception`` and from a turn that fails.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
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
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot_telemetry import (
    OpenTelemetryBotTelemetryClient,
    PrivacyPolicy,
    TelemetryMiddleware,
    configure,
    set_telemetry_client,
)
from bot_telemetry.bot.prompts import record_prompt_answers
from bot_telemetry.dependencies.call import Target, dependency_call
from tests.bot.harness import running_bot
from tests.bot.servers import Ingestion, Recorded, ingestion_app, luis_app, qna_app
from tests.support.servers import serving

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
#: The message whose turn fails, with the user's text in the exception's message.
FAILING = CORPUS[-1][2]

#: What left the process, once the conversation is over.
Exported = Callable[[], Awaitable[bytes]]


class Profiles:
    """A dependency whose errors quote what it was asked, as real clients' errors do."""

    async def lookup(self, user_id: str, name: str, text: str) -> None:
        async with dependency_call("profiles.lookup", Target("profiles"), component="Storage"):
            raise LookupError(f"no profile for {name} <{user_id}> who said {text!r}")


async def converse(exported: Exported) -> bytes:
    client = OpenTelemetryBotTelemetryClient()
    state = ConversationState(MemoryStorage())
    dialogs = DialogSet(state.create_property("dialogs"))
    profiles = Profiles()

    async def ask(step: WaterfallStepContext) -> Any:
        said = step.context.activity.text
        prompt = Activity(type=ActivityTypes.message, text=f"you said: {said}")
        return await step.prompt("again", PromptOptions(prompt=prompt))

    async def finish(step: WaterfallStepContext) -> Any:
        return await step.end_dialog(step.result)

    dialogs.add(TextPrompt("again"))
    dialogs.add(WaterfallDialog("echo", [ask, finish]))
    set_telemetry_client(dialogs, client)
    # the prompt's answer and its text, which quotes the user's previous message
    assert record_prompt_answers(dialogs) == 1

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
            user = context.activity.from_property
            await recognizer.recognize(context)
            await qna.get_answers(context)
            # a developer passing personal data through the client, deliberately, under
            # keys the policy knows and keys it has never seen
            client.track_event(
                "Feedback",
                {
                    "text": text,
                    "userName": user.name,
                    "userQuestion": text,
                    "guest": user.name,
                    "note": f"{user.name} wrote in",
                    "contact": user.id,
                    "details": json.dumps({"from": user.name, "said": text, "stars": 4}),
                    "channel": "directline",
                },
                {"stars": 4},
            )
            client.track_trace(f"{user.name} ({user.id}) asked: {text}")
            client.track_metric("feedback.stars", 4, properties={"guest": user.name})
            client.track_pageview("profile", f"https://bot.example.net/u?name={user.name}", 5)
            client.track_dependency(
                "profiles.read", f"lookup {user.id}", "Azure table", "profiles", 3, True
            )
            try:
                await profiles.lookup(user.id, user.name, text)
            except LookupError:
                client.track_exception()
            if text == f"again: {FAILING}":
                raise ValueError(f"cannot handle {text!r} from {user.name}")
            dialog_context = await dialogs.create_context(context)
            result = await dialog_context.continue_dialog()
            if result.status == DialogTurnStatus.Empty:
                await dialog_context.begin_dialog("echo")
            await state.save_changes(context)

        statuses = []
        try:
            async with running_bot(logic, TelemetryMiddleware()) as bot:
                async with aiohttp.ClientSession() as http:
                    for index, (user, name, text) in enumerate(CORPUS):
                        for message in (text, f"again: {text}"):
                            body = bot.activity(message, f"conv-{index}", user=user, user_name=name)
                            async with http.post(bot.url, json=body) as response:
                                statuses.append(response.status)
        finally:
            await qna.close()

    assert len(luis_calls.requests) == len(qna_calls.requests) == 2 * len(CORPUS)
    # every turn answered but the one that fails on purpose
    assert statuses == [201] * (2 * len(CORPUS) - 1) + [500]
    # one prompt per conversation (the second message answers it)
    assert len(bot.connector.requests) == len(CORPUS)
    # The test double really got the personal data: the bot did see it.
    assert any("4111 1111 1111 1111" in r["activity"]["text"] for r in bot.connector.requests)
    return await exported()


def assert_signals_present(data: bytes) -> None:
    expected = [
        b"bot.turn",
        b"BotMessageReceived",
        b"BotMessageSend",
        b"LuisResult",
        b"QnaMessage",
        b"WaterfallStep",
        b"PromptAnswered",
        b"you said: ",
        b"Feedback",
        b"profiles.read",
        b"profiles.lookup",
        b"LookupError",
        b"ValueError",
        b"bot.example.net",
    ]
    for name in expected:
        assert name in data, name


def assert_nothing_personal(data: bytes) -> None:
    for secret in [*PATTERNED, *NAMES, *(user for user, _, _ in CORPUS if "@" in user)]:
        assert secret.encode() not in data, secret
    # message text does not leave at all, not even its harmless words
    assert b"book a flight" not in data and b"reset password" not in data
    assert b"wrote in" not in data  # free text under a key the policy never saw


# --- OTLP: what the SDK's exporters would send ------------------------------------------------


@pytest.fixture
async def otlp(request: pytest.FixtureRequest) -> AsyncIterator[Exported]:
    policy = getattr(request, "param", None)
    spans, logs, metrics = (
        InMemorySpanExporter(),
        InMemoryLogRecordExporter(),
        InMemoryMetricReader(),
    )
    handle = configure(
        "bot",
        privacy=policy,
        span_exporters=[spans],
        log_exporters=[logs],
        metric_readers=[metrics],
    )

    async def exported() -> bytes:
        assert handle.force_flush(10_000)
        found = encode_spans(list(spans.get_finished_spans())).SerializeToString()
        found += encode_logs(list(logs.get_finished_logs())).SerializeToString()
        data = metrics.get_metrics_data()
        assert data is not None
        return found + encode_metrics(data).SerializeToString()

    try:
        yield exported
    finally:
        handle.shutdown()


async def test_default_policy_exports_none_of_the_personal_data(otlp: Exported) -> None:
    data = await converse(otlp)
    assert_signals_present(data)
    assert b"feedback.stars" in data
    assert_nothing_personal(data)
    # the developer's own text keeps its words, not the turn's personal values
    assert b"[REDACTED] ([REDACTED]) asked: [REDACTED]" in data
    # a prompt's text keeps its words, not the message it quotes from an earlier turn
    assert b"you said: [REDACTED]" in data


@pytest.mark.parametrize("otlp", [PrivacyPolicy(log_personal_information=True)], indirect=True)
async def test_opened_policy_exports_text_with_patterns_redacted(otlp: Exported) -> None:
    data = await converse(otlp)
    assert_signals_present(data)
    for secret in PATTERNED:
        assert secret.encode() not in data, secret
    assert b"book a flight to Houston" in data
    assert b"[REDACTED]" in data
    for name in NAMES:
        assert name.encode() in data, f"{name}: fromName is allowed by the opened policy"
    # the exceptions' messages are there too, redacted
    assert b"no profile for Alan Turing" in data
    assert b"cannot handle" in data
    # user ids stay pseudonymous even when personal data may be logged
    assert b"grace.hopper@navy.example.mil" not in data
    assert re.search(rb"[0-9a-f]{32}", data)


# --- Azure Monitor: what the exporter really posted ----------------------------------------


@pytest.fixture
async def azure_monitor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Exported]:
    monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    monkeypatch.setenv("APPLICATIONINSIGHTS_SDKSTATS_DISABLED", "true")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    ingestion = Ingestion()
    async with serving(ingestion_app(ingestion)) as endpoint:
        monkeypatch.setenv(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            f"InstrumentationKey={uuid.uuid4()};IngestionEndpoint={endpoint}/",
        )
        handle = configure("bot")
        assert handle.destinations == ["Azure Monitor"]

        async def exported() -> bytes:
            assert await asyncio.to_thread(handle.force_flush, 10_000)
            await ingestion.wait_for(lambda i: bool(i.of_type("ExceptionData")))
            await asyncio.to_thread(handle.shutdown)  # metrics are posted on shutdown
            return b"".join(
                gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
                for raw in ingestion.raw_bodies
            )

        try:
            yield exported
        finally:
            await asyncio.to_thread(handle.shutdown)


async def test_azure_monitor_envelopes_hold_none_of_the_personal_data(
    azure_monitor: Exported,
) -> None:
    data = await converse(azure_monitor)
    assert_signals_present(data)
    assert b"ExceptionData" in data and b"EventData" in data and b"MessageData" in data
    assert_nothing_personal(data)


@pytest.mark.parametrize("otlp", [PrivacyPolicy(consent_mode=True)], indirect=True)
async def test_consent_mode_without_consent_exports_none_of_the_personal_data(
    otlp: Exported,
) -> None:
    data = await converse(otlp)
    assert_signals_present(data)
    assert_nothing_personal(data)
    assert b"you said: [REDACTED]" in data
