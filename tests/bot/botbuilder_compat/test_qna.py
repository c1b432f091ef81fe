"""The telemetry cases of botbuilder-ai 4.17's ``tests/qna/test_qna.py``
(QnaApplicationTest) with ``OpenTelemetryBotTelemetryClient`` as QnAMaker's client,
reading the QnaMessage events OpenTelemetry recorded instead of a mock's calls.

Upstream patches ``aiohttp.ClientSession.post`` to hand back its two answer files; here
``QnAMaker`` makes its real generateAnswer call to a local server answering the same two
bodies (ANSWERED and NOT_FOUND below hold their values). Policy flag = botbuilder's flag.
Upstream's call-shape checks ("3 keyword arguments", "2 positional") have no OpenTelemetry
counterpart; what they stand for, measurements given or not, is checked instead.
Differences: D11 (``original_question`` is named like the user's question: left out under
a policy that keeps personal data out).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from botbuilder.ai.qna import QnAMaker, QnAMakerEndpoint, QnAMakerOptions
from botbuilder.ai.qna.utils import QnATelemetryConstants
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot_telemetry import OpenTelemetryBotTelemetryClient, PrivacyPolicy
from tests.bot.botbuilder_compat.calls import calls
from tests.bot.servers import Recorded, qna_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

KNOWLEDGE_BASE_ID = "f028d9k3-7g9z-11d3-d300-2b8x98227q8w"
ENDPOINT_KEY = "1k997n7w-207z-36p3-j2u1-09tas20ci6011"
QUESTION = "how do I clean the stove?"
ANSWER = "BaseCamp: You can use a damp rag to clean around the Power Pack"
ANSWERED = [
    {
        "questions": [QUESTION],
        "answer": ANSWER,
        "score": 100,
        "id": 5,
        "source": "Editorial",
        "metadata": [],
    }
]
NOT_FOUND = [
    {
        "questions": [],
        "answer": "No good match found in KB.",
        "score": 0,
        "id": -1,
        "source": None,
        "metadata": [],
    }
]

Ask = Callable[..., Awaitable[Any]]


@pytest.fixture
async def knowledge_base() -> AsyncIterator[Callable[[list[dict[str, Any]]], Any]]:
    """A local generateAnswer server per answer set; yields the endpoint for one."""
    async with serving(qna_app(Recorded(), ANSWERED)) as answered:
        async with serving(qna_app(Recorded(), NOT_FOUND)) as not_found:

            def endpoint(answers: list[dict[str, Any]]) -> QnAMakerEndpoint:
                host = answered if answers is ANSWERED else not_found
                return QnAMakerEndpoint(KNOWLEDGE_BASE_ID, ENDPOINT_KEY, f"{host}/qnamaker")

            yield endpoint


def context(question: str = QUESTION) -> TurnContext:
    return TurnContext(
        TestAdapter(),
        Activity(
            type=ActivityTypes.message,
            text=question,
            conversation=ConversationAccount(),
            recipient=ChannelAccount(),
            from_property=ChannelAccount(),
        ),
    )


def client(flag: bool) -> OpenTelemetryBotTelemetryClient:
    return OpenTelemetryBotTelemetryClient(PrivacyPolicy(log_personal_information=flag))


async def ask(qna: QnAMaker, *args: Any, question: str = QUESTION) -> Any:
    try:
        return await qna.get_answers(context(question), *args)
    finally:
        await qna.close()


class OverrideTelemetry(QnAMaker):  # type: ignore[misc]
    """Upstream's override: the caller's properties plus one, positionally, no metrics."""

    async def on_qna_result(
        self,
        query_results: Any,
        turn_context: TurnContext,
        telemetry_properties: dict[str, str] | None = None,
        telemetry_metrics: dict[str, float] | None = None,
    ) -> None:
        properties = telemetry_properties or {}
        properties["my_important_property"] = "my_important_value"
        self.telemetry_client.track_event(QnATelemetryConstants.qna_message_event, properties)
        self.telemetry_client.track_event(
            "my_second_event", {"my_important_property2": "my_important_value2"}
        )


class OverrideFillTelemetry(QnAMaker):  # type: ignore[misc]
    """Upstream's fill override: the stock event plus one property, then a second event."""

    async def on_qna_result(
        self,
        query_results: Any,
        turn_context: TurnContext,
        telemetry_properties: dict[str, str] | None = None,
        telemetry_metrics: dict[str, float] | None = None,
    ) -> None:
        event = await self.fill_qna_event(
            query_results, turn_context, telemetry_properties, telemetry_metrics
        )
        event.properties.update({"my_important_property": "my_important_value"})
        self.telemetry_client.track_event(
            QnATelemetryConstants.qna_message_event, event.properties, event.metrics
        )
        self.telemetry_client.track_event(
            "MySecondEvent", {"my_important_property2": "my_important_value2"}
        )


@pytest.mark.parametrize("flag", [True, False], ids=["returns answer", "pii"])
async def test_telemetry_returns_answer(
    telemetry: CapturedTelemetry, knowledge_base: Any, flag: bool
) -> None:
    # upstream: test_telemetry_returns_answer (flag on) and test_telemetry_pii (flag off)
    qna = QnAMaker(
        knowledge_base(ANSWERED), telemetry_client=client(flag), log_personal_information=flag
    )
    results = await ask(qna)

    (call,) = calls(telemetry)
    assert call.name == "QnaMessage"
    for key in ["answer", "knowledgeBaseId", "matchedQuestion", "questionId", "articleFound"]:
        assert key in call.properties
    assert ("question" in call.properties) is flag
    assert call.properties["answer"] == ANSWER
    assert call.measurements == {"score": 1.0}
    assert "score" not in call.properties
    assert len(results) == 1
    assert results[0].answer == ANSWER and results[0].source == "Editorial"


async def test_telemetry_returns_answer_when_no_answer_found_in_kb(
    telemetry: CapturedTelemetry, knowledge_base: Any
) -> None:
    qna = QnAMaker(
        knowledge_base(NOT_FOUND), telemetry_client=client(True), log_personal_information=True
    )
    results = await ask(qna, question="gibberish question")

    (call,) = calls(telemetry)
    assert call.name == "QnaMessage"
    for key in ["knowledgeBaseId", "questionId", "articleFound"]:
        assert key in call.properties
    assert call.properties["answer"] == "No Qna Answer matched"
    assert call.properties["matchedQuestion"] == "No Qna Question matched"
    assert call.properties["question"] == "gibberish question"
    assert results == []


async def test_telemetry_override(telemetry: CapturedTelemetry, knowledge_base: Any) -> None:
    options = QnAMakerOptions(top=1)
    qna = OverrideTelemetry(knowledge_base(ANSWERED), options, None, client(False), False)
    results = await ask(qna, options, {"id": "MyId"})

    first, second = calls(telemetry)
    assert first.name == "QnaMessage"
    assert first.properties == {"my_important_property": "my_important_value", "id": "MyId"}
    assert first.measurements is None  # upstream: two positional arguments, no metrics
    assert second.name == "my_second_event"
    assert second.properties == {"my_important_property2": "my_important_value2"}
    assert len(results) == 1


async def test_telemetry_additional_props_metrics(
    telemetry: CapturedTelemetry, knowledge_base: Any
) -> None:
    options = QnAMakerOptions(top=1)
    qna = QnAMaker(knowledge_base(ANSWERED), options, None, client(False), False)
    await ask(
        qna,
        None,
        {"my_important_property": "my_important_value"},
        {"my_important_metric": 3.14159},
    )

    (call,) = calls(telemetry)
    assert call.name == "QnaMessage"
    for key in ["knowledgeBaseId", "matchedQuestion", "questionId", "answer"]:
        assert key in call.properties
    assert "question" not in call.properties
    assert call.properties["my_important_property"] == "my_important_value"
    assert call.measurements == {"score": 1.0, "my_important_metric": 3.14159}


async def test_telemetry_additional_props_override(
    telemetry: CapturedTelemetry, knowledge_base: Any
) -> None:
    options = QnAMakerOptions(top=1)
    qna = QnAMaker(knowledge_base(ANSWERED), options, None, client(False), False)
    await ask(
        qna,
        None,
        {"knowledge_base_id": "my_important_value", "original_question": "my_important_value2"},
        {"score": 3.14159},
    )

    (call,) = calls(telemetry)
    assert call.name == "QnaMessage"
    assert call.properties["knowledge_base_id"] == "my_important_value"
    # upstream: original_question == "my_important_value2". D11: a key named like the
    # user's question is personal, so a policy that keeps personal data out leaves it out.
    assert "original_question" not in call.properties
    for key in ["matchedQuestion", "questionId"]:
        assert key in call.properties
    assert "question" not in call.properties
    assert call.properties["answer"] == ANSWER
    assert "my_important_property" not in call.properties
    assert call.measurements == {"score": 3.14159}


async def test_telemetry_additional_props_override_with_personal_data_allowed(
    telemetry: CapturedTelemetry, knowledge_base: Any
) -> None:
    # ...and with the flag on, upstream's assertion holds as it is.
    options = QnAMakerOptions(top=1)
    qna = QnAMaker(knowledge_base(ANSWERED), options, None, client(True), True)
    await ask(qna, None, {"original_question": "my_important_value2"})
    (call,) = calls(telemetry)
    assert call.properties["original_question"] == "my_important_value2"


async def test_telemetry_fill_props_override(
    telemetry: CapturedTelemetry, knowledge_base: Any
) -> None:
    options = QnAMakerOptions(top=1)
    qna = OverrideFillTelemetry(knowledge_base(ANSWERED), options, None, client(False), False)
    await ask(
        qna,
        None,
        {"knowledgeBaseId": "my_important_value", "matchedQuestion": "my_important_value2"},
        {"score": 3.14159},
    )

    first, _ = calls(telemetry)
    assert first.name == "QnaMessage"
    assert len(first.properties) == 6, sorted(first.properties)
    assert first.properties["knowledgeBaseId"] == "my_important_value"
    assert first.properties["matchedQuestion"] == "my_important_value2"
    assert "questionId" in first.properties
    assert first.properties["answer"] == ANSWER
    assert "articleFound" in first.properties
    assert first.properties["my_important_property"] == "my_important_value"
    assert first.measurements == {"score": 3.14159}
