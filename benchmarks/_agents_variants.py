"""The agents that ``turn_overhead`` compares on the Microsoft 365 Agents SDK.

The same bots as ``_variants`` (botbuilder), on the Agents SDK's ``CloudAdapter``
(authentication off) and an ``AgentApplication``, replies going over HTTP to the sink's
connector API (the SDK has no in-memory test adapter). Only the telemetry differs:

- ``agents_echo_baseline``: an echo route, no telemetry;
- ``agents_echo_bot_telemetry``: our ``bot_telemetry.agents.TelemetryMiddleware``,
  OTLP/HTTP to the sink through our batching queue (the SDK's own spans off, as
  ``configure()`` does by default);
- ``agents_full_baseline`` / ``agents_full_bot_telemetry``: a route that also reads and
  writes state, runs a recognizer and asks a Q&A service (all in process), without and
  with our middleware and wrappers.

Importing this module imports neither SDK; ``build`` imports the Agents SDK only.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

AGENTS_ECHO_VARIANTS = ("agents_echo_baseline", "agents_echo_bot_telemetry")
AGENTS_FULL_VARIANTS = ("agents_full_baseline", "agents_full_bot_telemetry")
AGENTS_VARIANTS = AGENTS_ECHO_VARIANTS + AGENTS_FULL_VARIANTS
#: As in ``_variants``: a production channel, where trace activities are dropped.
CHANNEL_ID = "directline"
CONVERSATIONS = 50


@dataclass(frozen=True)
class Score:
    score: float


@dataclass(frozen=True)
class Recognition:
    text: str
    intents: dict[str, Score]
    entities: dict[str, Any] = field(default_factory=dict)


class KeywordRecognizer:
    """An in-process recognizer: a fixed intent per keyword, as a trained model would answer."""

    INTENTS = {"book": "BookFlight", "weather": "GetWeather", "hello": "Greeting"}

    async def recognize(self, turn_context: Any) -> Recognition:
        text = (turn_context.activity.text or "").lower()
        intent = next((i for k, i in self.INTENTS.items() if k in text), "None")
        return Recognition(text, {intent: Score(0.92)}, {"$instance": {}})


async def answer(turn_context: Any) -> list[dict[str, Any]]:
    """An in-process Q&A service answering in QnA Maker's shape."""
    return [
        {
            "answer": "We are open from 9 to 5.",
            "score": 0.87,
            "id": 12,
            "questions": ["When are you open?"],
        }
    ]


@dataclass
class AgentsVariant:
    name: str
    adapter: Any
    agent: Any
    identity: Any
    drain: Callable[[], None] = lambda: None
    close: Callable[[], None] = lambda: None


def build(name: str, sink_url: str, adapter_kind: str = "cloud") -> AgentsVariant:
    """The variant ``name`` (one of ``AGENTS_VARIANTS``), sending everything to ``sink_url``."""
    if name not in AGENTS_VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose from {', '.join(AGENTS_VARIANTS)}")
    if adapter_kind != "cloud":
        raise ValueError("the Agents SDK has no in-memory test adapter: use --adapter cloud")
    from microsoft_agents.hosting.aiohttp import CloudAdapter
    from microsoft_agents.hosting.core import (
        AgentApplication,
        AgentAuthConfiguration,
        AnonymousTokenProvider,
        ClaimsIdentity,
        ConnectionManager,
        MemoryStorage,
        TurnState,
    )

    # Authentication off: the SDK warns on every turn that there is no app id; its stderr
    # writes would be most of what a turn costs. Quiet in every variant alike.
    logging.getLogger("microsoft_agents").setLevel(logging.ERROR)
    connections = ConnectionManager(
        provider_factory=lambda _config: AnonymousTokenProvider(),
        connections_configurations={
            "SERVICE_CONNECTION": AgentAuthConfiguration(anonymous_allowed=True)
        },
    )
    adapter = CloudAdapter(connection_manager=connections)
    telemetry = None
    storage: Any = MemoryStorage()
    recognizer: Any = KeywordRecognizer()
    ask: Callable[[Any], Awaitable[Any]] = answer
    full = "_full_" in name
    if name.endswith("_bot_telemetry"):
        telemetry = _configure(f"{sink_url}/{name}")
        from bot_telemetry.agents import TelemetryMiddleware
        from bot_telemetry.dependencies.agents import (
            TelemetryQnA,
            TelemetryRecognizer,
            TelemetryStorage,
        )

        adapter.use(TelemetryMiddleware())
        if full:  # echo: the middleware only, as on botbuilder
            storage = TelemetryStorage(storage)
            recognizer = TelemetryRecognizer(recognizer, name="nlu")
            ask = TelemetryQnA(answer, name="qna").get_answers
    # An AgentApplication loads (and saves) its turn state on every turn, echo included.
    app = AgentApplication[TurnState](storage=storage, connection_manager=connections)

    async def on_message(context: Any, state: Any) -> None:
        if not full:
            await context.send_activity(f"You said: {context.activity.text}")
            return
        turns = state.conversation.create_property("turns")
        await turns.set(context, await turns.get(context, lambda: 0) + 1)
        result = await recognizer.recognize(context)
        intent = max(result.intents, key=lambda n: result.intents[n].score)
        answers = await ask(context)
        best = answers[0]["answer"] if answers else "Sorry?"
        await context.send_activity(f"{intent}: {best}")

    app.activity("message")(on_message)
    # What the aiohttp hosting uses when no JWT middleware set one: anonymous.
    variant = AgentsVariant(name, adapter, app, ClaimsIdentity())
    if telemetry is not None:
        handle = telemetry

        def drain() -> None:
            if not handle.force_flush(30_000):
                raise RuntimeError("bot-telemetry did not flush within 30 s")
            dropped = handle.dropped()
            if any(dropped.values()):
                raise RuntimeError(f"bot-telemetry dropped telemetry: {dropped}")

        variant.drain, variant.close = drain, handle.shutdown
    return variant


def _configure(tenant: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    import bot_telemetry

    return bot_telemetry.configure(
        service_name="bench-agent",
        span_exporters=[OTLPSpanExporter(endpoint=f"{tenant}/v1/traces")],
        log_exporters=[OTLPLogExporter(endpoint=f"{tenant}/v1/logs")],
        metric_readers=[],
    )


_activity_ids = itertools.count(1)


def message(sink_url: str, variant: str, text: str = "hello, book a flight") -> Any:
    """An incoming message, as a channel posts it, replies going to the sink."""
    from microsoft_agents.activity import Activity, ChannelAccount, ConversationAccount

    number = next(_activity_ids)
    return Activity(
        type="message",
        id=f"activity-{number}",
        channel_id=CHANNEL_ID,
        service_url=f"{sink_url}/{variant}/",
        conversation=ConversationAccount(id=f"conversation-{number % CONVERSATIONS}"),
        from_property=ChannelAccount(id=f"user-{number % CONVERSATIONS}", name="Ada"),
        recipient=ChannelAccount(id="bot", name="bench-bot"),
        text=text,
        locale="en-US",
    )


async def run_turn(variant: AgentsVariant, activity: Any) -> None:
    """One turn through the adapter's pipeline and the application, as its aiohttp hosting
    runs it after parsing the request (``CloudAdapter.process_activity``)."""
    await variant.adapter.process_activity(variant.identity, activity, variant.agent.on_turn)
