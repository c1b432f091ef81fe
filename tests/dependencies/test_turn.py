"""The turn a dependency belongs to, and one turn that uses every wrapper at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint
from botbuilder.core import AutoSaveStateMiddleware, ConversationState, MemoryStorage, TurnContext
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from bot_telemetry import (
    TelemetryMiddleware,
    TelemetryQnA,
    TelemetryRecognizer,
    TelemetryStorage,
    TimedMiddleware,
)
from bot_telemetry.signals.turn_context import current_turn_context, turn_context_scope
from tests.dependencies.conftest import Service
from tests.dependencies.services import ENDPOINT_KEY, KNOWLEDGE_BASE, HttpRecognizer
from tests.dependencies.turns import CONVERSATION_ID, bot_adapter, dependency_traces
from tests.support.telemetry import CapturedTelemetry


async def test_the_turn_scope_nests_and_reaches_tasks_started_in_it() -> None:
    outer, inner = object(), object()
    assert current_turn_context() is None
    with turn_context_scope(outer):  # type: ignore[arg-type]
        with turn_context_scope(inner):  # type: ignore[arg-type]
            assert current_turn_context() is inner
        assert current_turn_context() is outer

        async def in_task() -> Any:
            return current_turn_context()

        assert await asyncio.create_task(in_task()) is outer
    assert current_turn_context() is None


def tree(spans: list[ReadableSpan]) -> list[tuple[int, str, SpanKind]]:
    """The spans as (depth, name, kind), depth-first in start order."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(span)
    rows: list[tuple[int, str, SpanKind]] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in by_parent.get(parent, []):
            rows.append((depth, span.name, span.kind))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return rows


@pytest.fixture
async def qna_client(qna_maker: Service) -> AsyncIterator[QnAMaker]:
    client = QnAMaker(QnAMakerEndpoint(KNOWLEDGE_BASE, ENDPOINT_KEY, qna_maker.url))
    yield client
    await client.close()


async def test_a_turn_using_every_wrapper(
    telemetry: CapturedTelemetry, nlu: Service, qna_client: QnAMaker
) -> None:
    state = ConversationState(TelemetryStorage(MemoryStorage()))
    last_intent = state.create_property("last_intent")
    recognizer = TelemetryRecognizer(HttpRecognizer(nlu.url), name="nlu")
    qna = TelemetryQnA(qna_client)

    async def bot(turn_context: TurnContext) -> None:
        await last_intent.get(turn_context, lambda: None)
        result = await recognizer.recognize(turn_context)
        intent = result.get_top_scoring_intent().intent
        await last_intent.set(turn_context, intent)
        answers = await qna.get_answers(turn_context)
        await turn_context.send_activity(f"{intent}: {answers[0].answer}")

    adapter = bot_adapter(bot)
    adapter.use(TelemetryMiddleware())
    adapter.use(TimedMiddleware(AutoSaveStateMiddleware([state]), name="AutoSave"))
    await adapter.receive_activity("book a flight, and what about my password?")

    spans = list(telemetry.spans())
    assert tree(spans) == [
        (0, "bot.turn", SpanKind.INTERNAL),
        (1, "Middleware AutoSave", SpanKind.INTERNAL),
        # botbuilder's property get reads, finds nothing, sets the default: a second read.
        (2, "Storage Read", SpanKind.CLIENT),
        (2, "Storage Read", SpanKind.CLIENT),
        (2, "Recognizer Query", SpanKind.CLIENT),
        (3, "POST /predict", SpanKind.SERVER),
        (2, "QnA Query", SpanKind.CLIENT),
        (3, "POST /knowledgebases/{kb}/generateAnswer", SpanKind.SERVER),
        (2, "Storage Write", SpanKind.CLIENT),
    ]
    assert len({s.context.trace_id for s in spans}) == 1, "one trace for the whole turn"
    trace_id = f"{spans[0].context.trace_id:032x}"

    peers = {s.name: (s.attributes or {}).get("peer.service") for s in spans}
    assert peers["Recognizer Query"] == "nlu"
    assert peers["QnA Query"] == "QnAMaker"
    assert peers["Storage Write"] == "MemoryStorage"
    assert peers["Middleware AutoSave"] == "AutoSave"

    events = [
        (record.log_record.attributes or {}).get("microsoft.custom_event.name")
        for record in telemetry.events()
    ]
    assert events == ["BotMessageReceived", "LuisIntent.BookFlight", "QnAMessage", "BotMessageSend"]
    for record in telemetry.events():
        attributes = record.log_record.attributes or {}
        assert attributes["conversationId"] == CONVERSATION_ID
        assert record.log_record.trace_id == spans[0].context.trace_id
    luis, qna_message = telemetry.events("LuisIntent.BookFlight") + telemetry.events("QnAMessage")
    assert (luis.log_record.attributes or {})["correlationId"] == trace_id
    assert (qna_message.log_record.attributes or {})["articleFound"] is True

    labels = [a.label for a in dependency_traces(adapter)]
    assert labels == [
        "Storage Read",
        "Storage Read",
        "Recognizer Query",
        "QnA Query",
        "Storage Write",
        "Middleware AutoSave",
    ]
    assert {a.value["traceId"] for a in dependency_traces(adapter)} == {trace_id}
    replies = [a.text for a in adapter.activity_buffer if a.type == "message"]
    assert replies == ["BookFlight: Use the reset link on the sign-in page."]
