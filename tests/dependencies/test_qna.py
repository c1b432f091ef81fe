"""TelemetryQnA around botbuilder-ai's QnAMaker (against a local generateAnswer service) and
around a plain async function."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint
from botbuilder.core import TurnContext
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import PrivacyPolicy, TelemetryQnA
from tests.dependencies.conftest import Service
from tests.dependencies.services import ENDPOINT_KEY, KNOWLEDGE_BASE
from tests.dependencies.turns import CONVERSATION_ID, bot_adapter, dependency_traces
from tests.support.telemetry import CapturedTelemetry

ANSWER_FIELDS = {"answer", "score", "questionId", "matchedQuestion"}
PERSONAL_FIELDS = {"username", "originalQuestion", "question"}


@pytest.fixture
async def qna_client(qna_maker: Service) -> AsyncIterator[QnAMaker]:
    client = QnAMaker(QnAMakerEndpoint(KNOWLEDGE_BASE, ENDPOINT_KEY, qna_maker.url))
    yield client
    await client.close()


def answering(qna: TelemetryQnA, answers: list[Any]) -> Any:
    async def logic(turn_context: TurnContext) -> None:
        found = await qna.get_answers(turn_context)
        answers.append(found)
        await turn_context.send_activity(found[0].answer if found else "no idea")

    return logic


def properties_of(telemetry: CapturedTelemetry) -> dict[str, Any]:
    [event] = telemetry.events("QnAMessage")
    return dict(event.log_record.attributes or {})


async def test_an_answer_is_a_dependency_span_and_a_qna_message(
    telemetry: CapturedTelemetry, qna_maker: Service, qna_client: QnAMaker
) -> None:
    answers: list[Any] = []
    adapter = bot_adapter(answering(TelemetryQnA(qna_client), answers))
    await adapter.receive_activity("how do I reset my password?")

    [found] = answers
    assert found[0].answer == "Use the reset link on the sign-in page."
    assert adapter.activity_buffer[-1].text == "Use the reset link on the sign-in page."

    span = telemetry.span_named("QnA Query")
    assert span.kind is SpanKind.CLIENT
    attributes = span.attributes or {}
    assert attributes["peer.service"] == "QnAMaker"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["bot.qna.knowledge_base_id"] == KNOWLEDGE_BASE
    assert attributes["bot.qna.article_found"] is True
    assert attributes["bot.dependency.result_code"] == "200"
    [server] = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert server.parent is not None and server.parent.span_id == span.context.span_id

    properties = properties_of(telemetry)
    assert properties["conversationId"] == CONVERSATION_ID
    assert properties["correlationId"] == f"{span.context.trace_id:032x}"
    assert properties["knowledgeBaseId"] == KNOWLEDGE_BASE
    assert properties["articleFound"] is True
    assert properties["answer"] == "Use the reset link on the sign-in page."
    assert properties["score"] == pytest.approx(0.875)
    assert properties["questionId"] == "12"
    assert json.loads(properties["matchedQuestion"]) == ["How do I reset my password?"]
    assert not PERSONAL_FIELDS & set(properties), "no personal data by default"

    # Ours next to QnAMaker's own trace activity, which the Emulator also shows.
    [trace_activity] = dependency_traces(adapter)
    assert trace_activity.name == "QnA"
    assert trace_activity.value["target"] == "QnAMaker"
    assert "QnAMaker" in [a.name for a in adapter.activity_buffer if a.type == "trace"]


async def test_no_match_is_article_found_false_without_placeholders(
    telemetry: CapturedTelemetry, qna_client: QnAMaker
) -> None:
    answers: list[Any] = []
    adapter = bot_adapter(answering(TelemetryQnA(qna_client), answers))
    await adapter.receive_activity("what is the meaning of life?")
    assert answers == [[]]
    properties = properties_of(telemetry)
    assert properties["articleFound"] is False
    assert not ANSWER_FIELDS & set(properties)
    assert (telemetry.span_named("QnA Query").attributes or {})["bot.qna.article_found"] is False


async def test_personal_fields_are_recorded_when_the_policy_allows(
    telemetry: CapturedTelemetry, qna_client: QnAMaker
) -> None:
    policy = PrivacyPolicy(log_personal_information=True)
    adapter = bot_adapter(answering(TelemetryQnA(qna_client, privacy=policy), []))
    await adapter.receive_activity("password reset for ada@example.com")
    properties = properties_of(telemetry)
    assert properties["username"] == "Ada Lovelace"
    assert properties["question"] == "password reset for [REDACTED]"
    assert properties["originalQuestion"] == "password reset for [REDACTED]"


async def test_a_refused_request_fails_the_span_and_reaches_the_bot(
    telemetry: CapturedTelemetry, qna_maker: Service
) -> None:
    wrong_key = QnAMaker(QnAMakerEndpoint(KNOWLEDGE_BASE, "not-the-key", qna_maker.url))
    try:
        adapter = bot_adapter(answering(TelemetryQnA(wrong_key), []))
        # QnAMaker does not check the status; it fails reading the 401 body as answers.
        with pytest.raises(KeyError):
            await adapter.receive_activity("password?")
    finally:
        await wrong_key.close()
    span = telemetry.span_named("QnA Query")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["bot.dependency.result_code"] == "401"
    assert telemetry.events("QnAMessage") == []
    [trace_activity] = dependency_traces(adapter)
    assert trace_activity.value["success"] is False


async def test_any_async_function_returning_answers_can_be_wrapped(
    telemetry: CapturedTelemetry,
) -> None:
    async def faq(turn_context: TurnContext) -> list[dict[str, Any]]:
        if "hours" in turn_context.activity.text:
            return [{"answer": "9 to 5", "score": 0.7, "id": 3, "questions": ["Hours?"]}]
        # QnA Maker's own way of saying "nothing", when no score threshold filters it out.
        return [{"answer": "No good match found in KB.", "score": 0.0, "id": -1, "questions": []}]

    qna = TelemetryQnA(faq, knowledge_base_id="faq-v2")

    async def logic(turn_context: TurnContext) -> None:
        found = await qna.get_answers(turn_context)
        await turn_context.send_activity(found[0]["answer"] if found[0]["id"] > 0 else "no idea")

    adapter = bot_adapter(logic)
    await adapter.receive_activity("opening hours?")
    await adapter.receive_activity("parking?")
    assert [a.text for a in adapter.activity_buffer if a.type == "message"] == ["9 to 5", "no idea"]
    found, missing = telemetry.events("QnAMessage")
    assert (found.log_record.attributes or {})["answer"] == "9 to 5"
    assert (found.log_record.attributes or {})["knowledgeBaseId"] == "faq-v2"
    assert (missing.log_record.attributes or {})["articleFound"] is False
    assert not ANSWER_FIELDS & set(missing.log_record.attributes or {})
    spans = [s for s in telemetry.spans() if s.name == "QnA Query"]
    assert [(s.attributes or {})["peer.service"] for s in spans] == ["QnA", "QnA"]


async def test_options_and_extra_arguments_reach_the_client(telemetry: CapturedTelemetry) -> None:
    seen: list[tuple[Any, ...]] = []

    async def ask(turn_context: TurnContext, *args: Any, **kwargs: Any) -> list[Any]:
        seen.append((args, kwargs))
        return []

    qna = TelemetryQnA(ask)

    async def logic(turn_context: TurnContext) -> None:
        await qna.get_answers(turn_context)
        await qna.get_answers(turn_context, {"top": 3}, telemetry_properties={"a": "b"})

    await bot_adapter(logic).receive_activity("hi")
    assert seen == [((), {}), (({"top": 3},), {"telemetry_properties": {"a": "b"}})]


def test_something_that_is_not_a_qna_client_is_refused() -> None:
    with pytest.raises(TypeError, match=r"get_answers.*got int"):
        TelemetryQnA(42)
