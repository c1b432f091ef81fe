"""The bots and telemetry set-ups that ``turn_overhead`` compares.

Every variant is the same botbuilder adapter running the same bot: ``CloudAdapter``
(authentication off, as with the Emulator) with replies going over HTTP to the sink's
connector API, or botbuilder's in-memory ``TestAdapter`` (same middleware pipeline, no
connector round trip or per-turn client set-up, so far less noise). Only the telemetry
differs:

- ``echo_baseline``: an echo bot, no telemetry;
- ``echo_botbuilder_ai``: botbuilder-core's ``TelemetryLoggerMiddleware`` with
  botbuilder-applicationinsights' client, its asynchronous sender posting to the sink;
- ``echo_bot_telemetry``: our ``TelemetryMiddleware``, OTLP/HTTP to the sink through our
  batching queue;
- ``full_baseline`` / ``full_bot_telemetry``: a turn that also reads and writes state,
  runs a recognizer and asks a Q&A service (all in process, so only telemetry differs),
  without and with our middleware and wrappers;
- ``full_bot_telemetry_posthog``: ``full_bot_telemetry`` with PostHog beside OTLP (every
  custom event also sent to the sink's PostHog capture API);
- ``echo_bot_telemetry_metrics`` / ``full_bot_telemetry_metrics``: the same with the bot's
  own metrics on (a metric reader exporting OTLP/HTTP to the sink); the other variants have
  no reader, so their metrics are off.

``drain()`` waits until the sink has everything the variant's telemetry produced, so a
round's time includes exporting it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import (
    ActivityHandler,
    ConversationState,
    MemoryStorage,
    Recognizer,
    RecognizerResult,
    Storage,
    TurnContext,
    UserState,
)
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.intent_score import IntentScore
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from ._counts import sink_counts

ECHO_VARIANTS = (
    "echo_baseline",
    "echo_botbuilder_ai",
    "echo_bot_telemetry",
    "echo_bot_telemetry_metrics",
)
FULL_VARIANTS = (
    "full_baseline",
    "full_bot_telemetry",
    "full_bot_telemetry_posthog",
    "full_bot_telemetry_metrics",
)
VARIANTS = ECHO_VARIANTS + FULL_VARIANTS
ADAPTERS = ("cloud", "test")
#: Channel of the benchmark's activities: a production one, where botbuilder drops trace
#: activities (the Emulator would get one per dependency).
CHANNEL_ID = "directline"
CONVERSATIONS = 50


class NoAuthConfig:
    """What ConfigurationBotFrameworkAuthentication reads: no app id, authentication off."""

    APP_TYPE = "MultiTenant"
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TENANTID = ""


class EchoBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(f"You said: {turn_context.activity.text}")


class KeywordRecognizer(Recognizer):  # type: ignore[misc]
    """An in-process recognizer: a fixed intent per keyword, as a trained model would answer."""

    INTENTS = {"book": "BookFlight", "weather": "GetWeather", "hello": "Greeting"}

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        text = (turn_context.activity.text or "").lower()
        intent = next((i for k, i in self.INTENTS.items() if k in text), "None")
        return RecognizerResult(
            text=text,
            intents={intent: IntentScore(score=0.92)},
            entities={"$instance": {}},
        )


async def answer(turn_context: TurnContext) -> list[dict[str, Any]]:
    """An in-process Q&A service answering in QnA Maker's shape."""
    return [
        {
            "answer": "We are open from 9 to 5.",
            "score": 0.87,
            "id": 12,
            "questions": ["When are you open?"],
        }
    ]


class FullBot(ActivityHandler):  # type: ignore[misc]
    """State read and write, a recognizer, a Q&A call and a reply: a typical bot turn."""

    def __init__(
        self,
        storage: Storage,
        recognizer: Recognizer,
        ask: Callable[[TurnContext], Awaitable[Any]],
    ) -> None:
        self.conversation_state = ConversationState(storage)
        self.user_state = UserState(storage)
        self.turns = self.conversation_state.create_property("turns")
        self.recognizer = recognizer
        self.ask = ask

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        await self.conversation_state.save_changes(turn_context)
        await self.user_state.save_changes(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        turns = await self.turns.get(turn_context, lambda: 0)
        await self.turns.set(turn_context, turns + 1)
        result = await self.recognizer.recognize(turn_context)
        intent = max(result.intents, key=lambda name: result.intents[name].score)
        answers = await self.ask(turn_context)
        best = answers[0]["answer"] if answers else "Sorry?"
        await turn_context.send_activity(f"{intent}: {best}")


@dataclass
class Variant:
    name: str
    adapter: CloudAdapter | TestAdapter
    bot: ActivityHandler
    drain: Callable[[], None] = lambda: None
    close: Callable[[], None] = lambda: None


def build(name: str, sink_url: str, adapter_kind: str = "cloud") -> Variant:
    """The variant ``name`` (one of ``VARIANTS``) on a ``cloud`` or ``test`` adapter,
    sending everything to ``sink_url``."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    if adapter_kind not in ADAPTERS:
        raise ValueError(f"unknown adapter {adapter_kind!r}; choose from {', '.join(ADAPTERS)}")
    adapter: CloudAdapter | TestAdapter = (
        CloudAdapter(ConfigurationBotFrameworkAuthentication(NoAuthConfig()))
        if adapter_kind == "cloud"
        else TestAdapter()
    )
    tenant = f"{sink_url}/{name}"
    if name == "echo_baseline":
        return Variant(name, adapter, EchoBot())
    if name == "echo_botbuilder_ai":
        return _botbuilder_ai(name, adapter, tenant)
    if name == "full_baseline":
        return Variant(name, adapter, FullBot(MemoryStorage(), KeywordRecognizer(), answer))
    return _bot_telemetry(
        name,
        adapter,
        tenant,
        full=name.startswith("full"),
        posthog=name.endswith("_posthog"),
        with_metrics=name.endswith("_metrics"),
    )


def _botbuilder_ai(name: str, adapter: CloudAdapter | TestAdapter, tenant: str) -> Variant:
    from applicationinsights import TelemetryClient
    from applicationinsights.channel import (
        AsynchronousQueue,
        AsynchronousSender,
        TelemetryChannel,
    )
    from botbuilder.applicationinsights import ApplicationInsightsTelemetryClient
    from botbuilder.core import TelemetryLoggerMiddleware

    class CountingQueue(AsynchronousQueue):  # type: ignore[misc]
        """Counts what was queued, so ``drain`` knows how much the sink must have."""

        queued = 0

        def put(self, item: Any) -> None:
            CountingQueue.queued += 1
            super().put(item)

    queue = CountingQueue(AsynchronousSender(f"{tenant}/v2/track"))
    key = "00000000-0000-0000-0000-000000000000"
    client = ApplicationInsightsTelemetryClient(
        key, telemetry_client=TelemetryClient(key, TelemetryChannel(None, queue))
    )
    adapter.use(TelemetryLoggerMiddleware(client, log_personal_information=False))

    def drain() -> None:
        client.flush()
        _wait_for_sink(tenant, "envelopes", lambda: CountingQueue.queued)

    return Variant(name, adapter, EchoBot(), drain=drain)


def _bot_telemetry(
    name: str,
    adapter: CloudAdapter | TestAdapter,
    tenant: str,
    *,
    full: bool,
    posthog: bool,
    with_metrics: bool,
) -> Variant:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

    import bot_telemetry
    from bot_telemetry.export.posthog import PostHogLogExporter
    from bot_telemetry.posthog import PostHogSettings

    log_exporters: list[LogRecordExporter] = [OTLPLogExporter(endpoint=f"{tenant}/v1/logs")]
    if posthog:
        settings = PostHogSettings(api_key="phc_benchmark", host=tenant)
        log_exporters.append(PostHogLogExporter(settings))
    readers: list[MetricReader] = []
    if with_metrics:
        # The SDK's default interval; each round's drain exports once more (force_flush).
        exporter = OTLPMetricExporter(endpoint=f"{tenant}/v1/metrics")
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=60_000))
    telemetry = bot_telemetry.configure(
        service_name="bench-bot",
        span_exporters=[OTLPSpanExporter(endpoint=f"{tenant}/v1/traces")],
        log_exporters=log_exporters,
        metric_readers=readers,
    )
    adapter.use(bot_telemetry.TelemetryMiddleware())
    bot: ActivityHandler = EchoBot()
    if full:
        bot = FullBot(
            bot_telemetry.TelemetryStorage(MemoryStorage()),
            bot_telemetry.TelemetryRecognizer(KeywordRecognizer(), name="nlu"),
            bot_telemetry.TelemetryQnA(answer, name="qna").get_answers,
        )

    def drain() -> None:
        if not telemetry.force_flush(30_000):
            raise RuntimeError("bot-telemetry did not flush within 30 s")
        dropped = telemetry.dropped()
        if any(dropped.values()):
            raise RuntimeError(f"bot-telemetry dropped telemetry: {dropped}")

    return Variant(name, adapter, bot, drain=drain, close=telemetry.shutdown)


def _wait_for_sink(tenant: str, key: str, expected: Callable[[], int]) -> None:
    deadline = time.monotonic() + 30
    while sink_counts(tenant).get(key, 0) < expected():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink did not receive {expected()} {key} within 30 s")
        time.sleep(0.001)


_activity_ids = itertools.count(1)


def message(sink_url: str, variant: str, text: str = "hello, book a flight") -> Activity:
    """An incoming message, as a channel posts it, replies going to the sink."""
    number = next(_activity_ids)
    conversation = f"conversation-{number % CONVERSATIONS}"
    return Activity(
        type=ActivityTypes.message,
        id=f"activity-{number}",
        channel_id=CHANNEL_ID,
        service_url=f"{sink_url}/{variant}/",
        conversation=ConversationAccount(id=conversation),
        from_property=ChannelAccount(id=f"user-{number % CONVERSATIONS}", name="Ada"),
        recipient=ChannelAccount(id="bot", name="bench-bot"),
        text=text,
        locale="en-US",
    )


async def run_turn(variant: Variant, activity: Activity) -> None:
    adapter = variant.adapter
    if isinstance(adapter, TestAdapter):
        await adapter.process_activity(activity, variant.bot.on_turn)
        if not adapter.activity_buffer:
            raise RuntimeError(f"{variant.name}: the bot did not reply")
        adapter.activity_buffer.clear()  # what the channel would have taken away
    else:
        await adapter.process_activity("", activity, variant.bot.on_turn)
