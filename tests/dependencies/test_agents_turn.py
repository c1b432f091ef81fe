"""One Agents SDK turn using every dependency wrapper at once (as test_turn.py on botbuilder),
on the Emulator channel, so the trace activities go out through the SDK's connector too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from microsoft_agents.hosting.core import MemoryStorage, TurnContext, TurnState
from opentelemetry.trace import SpanKind

from bot_telemetry.agents import TelemetryMiddleware
from bot_telemetry.dependencies.agents import (
    TelemetryQnA,
    TelemetryRecognizer,
    TelemetryStorage,
    TimedMiddleware,
)
from bot_telemetry.dependencies.trace_activities import DEPENDENCY_VALUE_TYPE
from tests.agents.harness import running_agent
from tests.dependencies.conftest import Service
from tests.dependencies.services import ENDPOINT_KEY, KNOWLEDGE_BASE
from tests.dependencies.test_turn import tree
from tests.support.telemetry import CapturedTelemetry


@dataclass(frozen=True)
class Score:
    score: float


@dataclass(frozen=True)
class Recognition:
    text: str
    intents: dict[str, Score]
    entities: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


class HttpRecognizer:
    """A recognizer for an agent (the Agents SDK has no recognizer type): asks the NLU
    service over HTTP."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def recognize(self, turn_context: TurnContext) -> Recognition:
        text = turn_context.activity.text or ""
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.endpoint, json={"text": text}) as response,
        ):
            response.raise_for_status()
            body = await response.json()
        return Recognition(
            text,
            {name: Score(score) for name, score in body["intents"].items()},
            body["entities"],
            {"sentiment": body["sentiment"]} if "sentiment" in body else {},
        )


class Passing:
    async def on_turn(self, context: TurnContext, logic: Any) -> None:
        await logic(context)


class QnAClient:
    """QnA Maker's generateAnswer over HTTP, answers as QnA Maker's JSON."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = f"{endpoint}/knowledgebases/{KNOWLEDGE_BASE}/generateAnswer"

    async def get_answers(self, turn_context: TurnContext) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.endpoint,
                json={"question": turn_context.activity.text},
                headers={"Authorization": f"EndpointKey {ENDPOINT_KEY}"},
            ) as response,
        ):
            answers: list[dict[str, Any]] = (await response.json())["answers"]
            return answers


async def test_a_turn_using_every_wrapper(
    telemetry: CapturedTelemetry, nlu: Service, qna_maker: Service
) -> None:
    recognizer = TelemetryRecognizer(HttpRecognizer(nlu.url), name="nlu")
    qna = TelemetryQnA(QnAClient(qna_maker.url), name="QnAMaker", knowledge_base_id=KNOWLEDGE_BASE)

    async def route(context: TurnContext, state: TurnState) -> None:
        result = await recognizer.recognize(context)
        intent = max(result.intents, key=lambda name: result.intents[name].score)
        answers = await qna.get_answers(context)
        await context.send_activity(f"{intent}: {answers[0]['answer']}")

    pipeline = [TelemetryMiddleware(), TimedMiddleware(Passing(), name="Gate")]
    async with running_agent(route, pipeline, storage=TelemetryStorage(MemoryStorage())) as agent:
        text = "book a flight, and what about my password?"
        async with aiohttp.ClientSession() as http:
            assert await agent.send(http, agent.activity(text, "conv-7", channel="emulator")) == 202

    spans = list(telemetry.spans())
    # The turn's own spans (the state is read, not changed: no write), replies left out.
    ours = [s for s in spans if s.kind is not SpanKind.SERVER and s.name != "POST"]
    assert tree(ours) == [
        (0, "bot.turn", SpanKind.INTERNAL),
        (1, "Middleware Gate", SpanKind.INTERNAL),
        (2, "Storage Read", SpanKind.CLIENT),
        (2, "Storage Read", SpanKind.CLIENT),
        (2, "Storage Read", SpanKind.CLIENT),
        (2, "Recognizer Query", SpanKind.CLIENT),
        (2, "QnA Query", SpanKind.CLIENT),
    ]
    turn = telemetry.span_named("bot.turn")
    assert {s.context.trace_id for s in spans if s.name in ("Recognizer Query", "QnA Query")} == {
        turn.context.trace_id
    }
    trace_id = f"{turn.context.trace_id:032x}"
    # The services' request spans are children of the wrappers' spans, in the turn's trace.
    by_id = {s.context.span_id: s for s in spans}
    for route, caller in (
        ("POST /predict", "Recognizer Query"),
        ("POST /knowledgebases/{kb}/generateAnswer", "QnA Query"),
    ):
        (served,) = [s for s in spans if s.name == route]
        assert served.parent is not None and by_id[served.parent.span_id].name == caller
    assert nlu.received.traceparents[0] is not None
    assert nlu.received.traceparents[0].split("-")[1] == trace_id

    events = [
        (record.log_record.attributes or {}).get("microsoft.custom_event.name")
        for record in telemetry.events()
    ]
    assert events == ["BotMessageReceived", "LuisIntent.BookFlight", "QnAMessage", "BotMessageSend"]
    for record in telemetry.events():
        assert (record.log_record.attributes or {})["conversationId"] == "conv-7"
        assert record.log_record.trace_id == turn.context.trace_id
    (luis,) = telemetry.events("LuisIntent.BookFlight")
    assert (luis.log_record.attributes or {})["correlationId"] == trace_id
    assert (luis.log_record.attributes or {})["entities"] == '["city","date"]'
    (answer,) = telemetry.events("QnAMessage")
    assert (answer.log_record.attributes or {})["articleFound"] is True

    # On the Emulator channel the SDK sends trace activities on: one per dependency call.
    traces = [
        r["activity"]
        for r in agent.replies()
        if r["activity"]["type"] == "trace"
        and r["activity"].get("valueType") == DEPENDENCY_VALUE_TYPE
    ]
    assert [t["label"] for t in traces] == [
        "Storage Read",
        "Storage Read",
        "Storage Read",
        "Recognizer Query",
        "QnA Query",
        "Middleware Gate",
    ]
    assert {t["value"]["traceId"] for t in traces} == {trace_id}
    messages = [
        r["activity"]["text"] for r in agent.replies() if r["activity"]["type"] == "message"
    ]
    assert messages == ["BookFlight: Use the reset link on the sign-in page."]
