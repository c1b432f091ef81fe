"""After LUIS and QnA Maker: a botbuilder bot recognizing with Azure AI Language CLU, answering
with custom question answering (the real azure-ai-language async clients over their
aiohttp transport) and recognizing with an LLM over httpx, each wrapped as
docs/dependencies.md says, against local services speaking those protocols."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from azure.ai.language.conversations.aio import ConversationAnalysisClient
from azure.ai.language.questionanswering.aio import QuestionAnsweringClient
from azure.core.credentials import AzureKeyCredential
from azure.core.settings import settings as azure_settings
from botbuilder.core import IntentScore, Recognizer, RecognizerResult, TurnContext
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import (
    PrivacyPolicy,
    TelemetryMiddleware,
    TelemetryQnA,
    TelemetryRecognizer,
    configure,
    llm_event_hooks,
)
from bot_telemetry.export.posthog import PostHogLogExporter
from bot_telemetry.posthog import PostHogSettings
from tests.dependencies.language_services import (
    ANSWER_OPENING,
    ANSWER_PROMPT,
    LANGUAGE_KEY,
    LLM_KEY,
    NO_ANSWER,
    Received,
    language_app,
)
from tests.dependencies.turns import bot_adapter as dependency_adapter
from tests.support.posthog import PostHogServer
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry, capture

UTTERANCE = "book a flight to Paris for ada@example.com"
INTENTS = {"BookFlight", "None"}


#: Clients the recognizers opened in the test running, closed after it.
OPENED: list[Any] = []


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    while OPENED:
        client = OPENED.pop()
        await (client.aclose() if isinstance(client, httpx.AsyncClient) else client.close())


class CluRecognizer(Recognizer):  # type: ignore[misc]
    """What a bot moving off LUIS writes: CLU's prediction as a botbuilder RecognizerResult."""

    def __init__(self, endpoint: str, key: str = LANGUAGE_KEY, read_timeout: float = 60) -> None:
        # No retries: a test waits for no back-off (the SDK's default retries 429 three times).
        self.client = ConversationAnalysisClient(
            endpoint, AzureKeyCredential(key), retry_total=0, read_timeout=read_timeout
        )
        OPENED.append(self.client)

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        text = turn_context.activity.text
        task = {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {"id": "1", "participantId": "user", "text": text}
            },
            "parameters": {"projectName": "travel", "deploymentName": "production"},
        }
        response = await self.client.analyze_conversation(task)
        prediction = response["result"]["prediction"]
        return RecognizerResult(
            text=text,
            intents={
                i["category"]: IntentScore(score=i["confidenceScore"])
                for i in prediction["intents"]
            },
            entities={e["category"]: [e["text"]] for e in prediction["entities"]},
        )


class RawCluRecognizer(CluRecognizer):
    """Hands back analyze_conversation's response as it is (an Agents SDK agent, which has no
    RecognizerResult, reads CLU's JSON itself)."""

    async def recognize(self, turn_context: TurnContext) -> Any:  # type: ignore[override]
        task = {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {
                    "id": "1",
                    "participantId": "user",
                    "text": turn_context.activity.text,
                }
            },
            "parameters": {"projectName": "travel", "deploymentName": "production"},
        }
        return await self.client.analyze_conversation(task)


async def inject_trace(request: httpx.Request) -> None:
    propagate.inject(request.headers)


class LlmRecognizer(Recognizer):  # type: ignore[misc]
    """An intent from an OpenAI-compatible chat completions endpoint, over httpx."""

    def __init__(
        self, base_url: str, timeout: float = 10.0, *, scored: bool = True, hooks: Any = None
    ) -> None:
        self.scored = scored
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {LLM_KEY}"},
            event_hooks=hooks or {"request": [inject_trace]},
        )
        OPENED.append(self.client)

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        text = turn_context.activity.text
        messages = [
            {"role": "system", "content": "Answer JSON {intent, score}; intents: BookFlight."},
            {"role": "user", "content": text},
        ]
        response = await self.client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": messages}
        )
        response.raise_for_status()
        answer = json.loads(response.json()["choices"][0]["message"]["content"])
        intent = answer["intent"] if answer["intent"] in INTENTS else "None"
        score = IntentScore(score=answer["score"]) if self.scored else IntentScore()
        return RecognizerResult(text=text, intents={intent: score})


class LlmAnswerer:
    """An answer an LLM writes (OpenAI-compatible chat completions over httpx), handed back
    as ``shape`` says: QnA-like ``answers`` with no knowledge base id, the ``text``, or the
    ``completion`` as the API returned it."""

    def __init__(self, base_url: str, shape: str = "answers", hooks: Any = None) -> None:
        self.shape = shape
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {LLM_KEY}"},
            event_hooks=hooks or {"request": [inject_trace]},
        )
        OPENED.append(self.client)

    async def __call__(self, turn_context: TurnContext) -> Any:
        messages = [
            {"role": "system", "content": f"{ANSWER_PROMPT} about our flights."},
            {"role": "user", "content": turn_context.activity.text},
        ]
        response = await self.client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": messages}
        )
        response.raise_for_status()
        completion = response.json()
        if self.shape == "completion":
            return completion
        text = completion["choices"][0]["message"]["content"]
        if self.shape == "rewritten":  # a knowledge base's answer (its id) the LLM rewrote
            return [{"answer": text, "score": 0.9, "id": 7}]
        return text if self.shape == "text" else [{"answer": text, "score": 1.0}]


@pytest.fixture
async def language(instrumented_client: None) -> AsyncIterator[tuple[str, Received]]:
    received = Received()
    async with serving(language_app(received)) as base:
        yield base, received
        received.release.set()


def bot_adapter(logic: Any) -> Any:
    adapter = dependency_adapter(logic)
    adapter.use(TelemetryMiddleware())
    return adapter


def every_value(telemetry: CapturedTelemetry) -> Iterator[str]:
    """Every span attribute, span event attribute, status and log record attribute, as text."""
    for span in telemetry.spans():
        yield span.name
        yield str(span.status.description)
        yield from (str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            yield from (str(v) for v in (event.attributes or {}).values())
    for record in telemetry.logs():
        yield str(record.log_record.body)
        yield from (str(v) for v in (record.log_record.attributes or {}).values())


def event_properties(telemetry: CapturedTelemetry, name: str) -> dict[str, Any]:
    [event] = telemetry.events(name)
    return dict(event.log_record.attributes or {})


async def test_question_answering_no_answer_is_no_article_and_a_match_keeps_its_score(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, _ = language
    client = QuestionAnsweringClient(base, AzureKeyCredential(LANGUAGE_KEY))

    async def answer(turn_context: TurnContext) -> Any:
        found = await client.get_answers(
            question=turn_context.activity.text, project_name="faq", deployment_name="production"
        )
        return found.answers

    qna = TelemetryQnA(answer, name="QuestionAnswering", knowledge_base_id="faq")
    replies: list[str] = []

    async def logic(turn_context: TurnContext) -> None:
        answers = await qna.get_answers(turn_context)
        replies.append(answers[0].answer)

    adapter = bot_adapter(logic)
    await adapter.receive_activity("what is the meaning of life")
    assert replies == [NO_ANSWER], "the service's default answer, id -1"
    properties = event_properties(telemetry, "QnAMessage")
    assert properties["articleFound"] is False
    assert not {"answer", "score", "questionId", "matchedQuestion"} & set(properties)
    assert (telemetry.span_named("QnA Query").attributes or {})["bot.qna.article_found"] is False

    telemetry.clear()
    await adapter.receive_activity("how do I reset my password?")
    properties = event_properties(telemetry, "QnAMessage")
    assert properties["articleFound"] is True
    assert properties["answer"] == "Use the reset link on the sign-in page."
    assert properties["score"] == pytest.approx(0.87)
    assert properties["questionId"] == "12"
    assert json.loads(properties["matchedQuestion"]) == ["How do I reset my password?"]
    assert (telemetry.span_named("QnA Query").attributes or {})["bot.qna.score"] == pytest.approx(
        0.87
    )
    await client.close()


async def test_a_clu_recognition_is_an_intent_event_under_the_turn(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, received = language
    recognizer = TelemetryRecognizer(CluRecognizer(base), name="CLU", endpoint=base)

    async def logic(turn_context: TurnContext) -> None:
        result = await recognizer.recognize(turn_context)
        await turn_context.send_activity(f"intent {result.get_top_scoring_intent().intent}")

    adapter = bot_adapter(logic)
    await adapter.receive_activity(UTTERANCE)
    assert adapter.activity_buffer[-1].text == "intent BookFlight"

    span = telemetry.span_named("Recognizer Query")
    attributes = span.attributes or {}
    assert attributes["peer.service"] == "CLU"
    assert attributes["bot.dependency.result_code"] == "200"
    [traceparent] = received.traceparents("/language/:analyze-conversations")
    assert traceparent is not None
    assert traceparent[:52] == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}"
    [server] = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert server.parent is not None and server.parent.span_id == span.context.span_id
    properties = event_properties(telemetry, "LuisIntent.BookFlight")
    assert properties["intentScore"] == pytest.approx(0.92)
    assert json.loads(properties["entities"]) == ["Destination"]
    leaked = [v for v in every_value(telemetry) if "Paris" in v or "ada@" in v]
    assert leaked == []


async def test_an_llm_recognizer_over_httpx_carries_the_trace_and_keeps_the_prompt(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, received = language
    recognizer = TelemetryRecognizer(LlmRecognizer(base), name="LLM", endpoint=base)

    async def logic(turn_context: TurnContext) -> None:
        result = await recognizer.recognize(turn_context)
        await turn_context.send_activity(f"intent {result.get_top_scoring_intent().intent}")

    adapter = bot_adapter(logic)
    await adapter.receive_activity(UTTERANCE)
    assert adapter.activity_buffer[-1].text == "intent BookFlight"
    span = telemetry.span_named("Recognizer Query")
    assert (span.attributes or {})["peer.service"] == "LLM"
    assert_recognized_by_the_model(telemetry, received, span)


def assert_recognized_by_the_model(
    telemetry: CapturedTelemetry, received: Received, span: Any
) -> None:
    """The model call carried the recognizer span's trace, the result was recorded, and the
    user's words (and the prompt) are in no signal."""
    [traceparent] = received.traceparents("/v1/chat/completions")
    assert traceparent is not None
    assert traceparent[:52] == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}"
    assert event_properties(telemetry, "LuisIntent.BookFlight")["intentScore"] == 0.8
    leaked = [v for v in every_value(telemetry) if "Paris" in v or "JSON {intent" in v]
    assert leaked == []


async def failed_turn(
    telemetry: CapturedTelemetry, recognizer: TelemetryRecognizer, text: str
) -> tuple[dict[str, Any], str]:
    """The bot catches the recognizer's error and answers; the dependency span's attributes
    and the bot's reply."""

    async def logic(turn_context: TurnContext) -> None:
        try:
            await recognizer.recognize(turn_context)
        except Exception as error:  # what the bot itself does with a failed recognition
            await turn_context.send_activity(f"sorry ({type(error).__name__})")

    adapter = bot_adapter(logic)
    await adapter.receive_activity(text)
    span = the_call(telemetry)  # Recognizer Query, or chat {model} with llm_event_hooks
    assert span.status.status_code is StatusCode.ERROR
    assert telemetry.span_named("bot.turn").status.status_code is not StatusCode.ERROR
    [reply] = [a for a in adapter.activity_buffer if a.type == "message"]
    leaked = [v for v in every_value(telemetry) if "Paris" in v or "ada@" in v]
    assert leaked == []
    return dict(span.attributes or {}), reply.text


@pytest.mark.parametrize(
    ("text", "code", "error_type"),
    [
        ("throttle: " + UTTERANCE, "429", "httpx.HTTPStatusError"),
        ("slow: " + UTTERANCE, "ReadTimeout", "httpx.ReadTimeout"),
    ],
)
async def test_llm_failures_are_failed_calls_with_their_reason(
    telemetry: CapturedTelemetry,
    language: tuple[str, Received],
    text: str,
    code: str,
    error_type: str,
) -> None:
    base, _ = language
    # Only a held answer times out (the service waits until the test ends).
    timeout = 0.5 if text.startswith("slow") else 60
    recognizer = TelemetryRecognizer(LlmRecognizer(base, timeout=timeout), name="LLM")
    attributes, reply = await failed_turn(telemetry, recognizer, text)
    assert attributes["bot.dependency.result_code"] == code
    assert attributes["error.type"] == error_type
    assert reply.startswith("sorry")


@pytest.mark.parametrize(
    ("key", "text", "code"),
    [
        ("wrong-key", UTTERANCE, "401"),
        (LANGUAGE_KEY, "throttle: " + UTTERANCE, "429"),
        (LANGUAGE_KEY, "slow: " + UTTERANCE, "ServiceResponseTimeoutError"),
    ],
)
async def test_clu_failures_are_failed_calls_with_their_status(
    telemetry: CapturedTelemetry,
    language: tuple[str, Received],
    key: str,
    text: str,
    code: str,
) -> None:
    base, _ = language
    timeout = 0.5 if text.startswith("slow") else 60
    recognizer = TelemetryRecognizer(CluRecognizer(base, key, timeout), name="CLU")
    attributes, reply = await failed_turn(telemetry, recognizer, text)
    assert attributes["bot.dependency.result_code"] == code
    assert attributes["error.type"].startswith("azure.core.exceptions.")
    assert reply.startswith("sorry")


async def test_the_question_answering_client_itself_is_refused_saying_what_to_wrap(
    language: tuple[str, Received],
) -> None:
    base, received = language
    client = QuestionAnsweringClient(base, AzureKeyCredential(LANGUAGE_KEY))
    with pytest.raises(TypeError) as refused:
        # Its get_answers would take the turn context as its options, failing at a turn.
        TelemetryQnA(client, name="QuestionAnswering")
    message = str(refused.value)
    assert "QuestionAnsweringClient" in message
    assert "async function" in message and "turn_context.activity.text" in message
    assert received.requests == []
    await client.close()


async def test_an_llm_intent_without_a_score_is_that_intent_not_a_fallback(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, _ = language
    recognizer = TelemetryRecognizer(LlmRecognizer(base, scored=False), name="LLM")
    intents: list[str] = []

    async def logic(turn_context: TurnContext) -> None:
        result = await recognizer.recognize(turn_context)
        intents.extend(result.intents)  # no score to rank by: the bot takes the LLM's label

    await bot_adapter(logic).receive_activity(UTTERANCE)
    assert intents == ["BookFlight"]
    properties = event_properties(telemetry, "LuisIntent.BookFlight")
    assert properties["intent"] == "BookFlight"
    assert "intentScore" not in properties
    assert telemetry.events("LuisIntent.None") == []
    attributes = telemetry.span_named("Recognizer Query").attributes or {}
    assert attributes["bot.recognizer.intent"] == "BookFlight"


@pytest.fixture
def azure_sdk_tracing() -> Iterator[None]:
    """azure-core's own OpenTelemetry spans on, as AZURE_TRACING_ENABLED=true turns them on."""
    azure_settings.tracing_enabled.set_value(True)
    yield
    azure_settings.tracing_enabled.unset_value()


async def test_azure_sdk_tracing_adds_no_second_node_under_the_wrapper(
    azure_sdk_tracing: None, telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, received = language
    recognizer = TelemetryRecognizer(CluRecognizer(base), name="CLU")

    async def logic(turn_context: TurnContext) -> None:
        await recognizer.recognize(turn_context)

    await bot_adapter(logic).receive_activity(UTTERANCE)
    # azure-core's method span and its CLIENT span (url.full: the blob path of a state key,
    # with the user id, for BlobStorage) would be a node named after the host and a second
    # HTTP span beside ours; the call is the wrapper's one span.
    client_spans = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]
    assert [(s.name, s.instrumentation_scope.name) for s in client_spans] == [
        ("Recognizer Query", "bot_telemetry.dependencies")
    ]
    assert not [s for s in telemetry.spans() if s.instrumentation_scope.name == "azure-core"]
    [span] = client_spans
    [traceparent] = received.traceparents("/language/:analyze-conversations")
    assert traceparent is not None
    assert traceparent[:52] == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}"
    assert (span.attributes or {})["http.response.status_code"] == 200


@pytest.mark.parametrize(
    ("text", "intent", "score", "entities"),
    [(UTTERANCE, "BookFlight", 0.92, ["Destination"]), ("hello there", "None", 0.61, [])],
)
async def test_clus_own_response_is_read_as_clu_answered_it(
    telemetry: CapturedTelemetry,
    language: tuple[str, Received],
    text: str,
    intent: str,
    score: float,
    entities: list[str],
) -> None:
    base, _ = language
    recognizer = TelemetryRecognizer(RawCluRecognizer(base), name="CLU")
    responses: list[Any] = []

    async def logic(turn_context: TurnContext) -> None:
        responses.append(await recognizer.recognize(turn_context))

    await bot_adapter(logic).receive_activity(text)
    [response] = responses
    assert response["result"]["prediction"]["topIntent"] == intent, "returned as it is"
    properties = event_properties(telemetry, f"LuisIntent.{intent}")
    assert properties["intent"] == intent
    assert properties["intentScore"] == pytest.approx(score)
    assert json.loads(properties["entities"]) == entities
    attributes = telemetry.span_named("Recognizer Query").attributes or {}
    assert attributes["bot.recognizer.intent_score"] == pytest.approx(score)
    assert [v for v in every_value(telemetry) if "Paris" in v] == []


async def answer_turn(qna: TelemetryQnA) -> None:
    async def logic(turn_context: TurnContext) -> None:
        await qna.get_answers(turn_context)

    await bot_adapter(logic).receive_activity(UTTERANCE)


@pytest.mark.parametrize("shape", ["answers", "text", "completion"])
async def test_an_llms_answer_is_private_by_default(
    telemetry: CapturedTelemetry, language: tuple[str, Received], shape: str
) -> None:
    base, _ = language
    await answer_turn(TelemetryQnA(LlmAnswerer(base, shape), name="LLM", endpoint=base))
    properties = event_properties(telemetry, "QnAMessage")
    assert properties["articleFound"] is True
    assert not {"answer", "generatedAnswer", "matchedQuestion"} & set(properties)
    # Not in the span event, the log record or any span attribute.
    assert [v for v in every_value(telemetry) if ANSWER_OPENING in v or "Paris" in v] == []


async def test_an_llms_answer_is_recorded_where_message_text_is(
    language: tuple[str, Received],
) -> None:
    base, _ = language
    telemetry = capture(privacy=PrivacyPolicy(log_personal_information=True))
    try:
        await answer_turn(TelemetryQnA(LlmAnswerer(base, "completion"), name="LLM"))
        properties = event_properties(telemetry, "QnAMessage")
    finally:
        telemetry.handle.shutdown()
    assert properties["generatedAnswer"] == (
        f"{ANSWER_OPENING} book a flight to Paris for [REDACTED]. We fly there daily."
    )
    assert "answer" not in properties


@pytest.mark.parametrize(
    ("generated", "answers", "recorded"),
    [
        (False, [{"answer": "Our own index's text.", "score": 0.9}], "answer"),
        (True, [{"answer": "From the user's documents.", "id": 3}], None),
    ],
)
async def test_generated_says_whose_text_an_answer_is(
    telemetry: CapturedTelemetry, generated: bool, answers: Any, recorded: str | None
) -> None:
    async def answer(turn_context: TurnContext) -> Any:
        return answers

    await answer_turn(TelemetryQnA(answer, generated=generated))
    properties = event_properties(telemetry, "QnAMessage")
    found = {key: properties[key] for key in ("answer", "generatedAnswer") if key in properties}
    assert found == ({recorded: answers[0]["answer"]} if recorded else {})


async def test_an_llms_answer_does_not_reach_posthog(language: tuple[str, Received]) -> None:
    base, _ = language
    server = PostHogServer()
    settings = PostHogSettings(api_key=server.api_key, host=server.url)
    handle = configure(
        "bot",
        span_exporters=[],
        log_exporters=[PostHogLogExporter(settings)],
        metric_readers=[],
    )
    try:
        await answer_turn(TelemetryQnA(LlmAnswerer(base), name="LLM"))
        assert handle.force_flush(10_000)
        [event] = [r for r in server.received() if r.name == "QnAMessage"]
        assert event.event["properties"]["articleFound"] is True
        assert ANSWER_OPENING.encode() not in server.wire()
    finally:
        handle.shutdown()
        server.close()


GEN_AI_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 6,
}


def the_call(telemetry: CapturedTelemetry) -> Any:
    [span] = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]
    return span


async def test_an_llm_call_is_a_gen_ai_chat_span(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, received = language
    llm = LlmRecognizer(base, hooks=llm_event_hooks())
    recognizer = TelemetryRecognizer(llm, name="LLM")

    async def logic(turn_context: TurnContext) -> None:
        result = await recognizer.recognize(turn_context)
        await turn_context.send_activity(f"intent {result.get_top_scoring_intent().intent}")

    adapter = bot_adapter(logic)
    await adapter.receive_activity(UTTERANCE)
    assert adapter.activity_buffer[-1].text == "intent BookFlight", "the response still reads"
    span = the_call(telemetry)
    attributes = dict(span.attributes or {})
    assert span.name == "chat gpt-4o-mini"
    assert {key: attributes.get(key) for key in GEN_AI_CHAT} == GEN_AI_CHAT
    assert attributes["bot.dependency.component"] == "Recognizer"
    assert attributes["peer.service"] == "LLM"
    assert attributes["server.port"] == int(base.rsplit(":", 1)[1])
    assert attributes["bot.dependency.result_code"] == "200"
    assert_recognized_by_the_model(telemetry, received, span)


async def test_an_answer_a_model_rewrote_is_a_models_answer(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, _ = language
    answerer = LlmAnswerer(base, "rewritten", hooks=llm_event_hooks())
    await answer_turn(TelemetryQnA(answerer, name="LLM"))
    properties = event_properties(telemetry, "QnAMessage")
    assert properties["questionId"] == "7"
    assert not {"answer", "generatedAnswer"} & set(properties), "written by the model"
    span = the_call(telemetry)
    assert span.name == "chat gpt-4o-mini"
    assert (span.attributes or {})["gen_ai.usage.output_tokens"] == 6
    assert [v for v in every_value(telemetry) if ANSWER_OPENING in v or "Paris" in v] == []


async def test_a_refused_model_call_is_a_failed_chat_span(
    telemetry: CapturedTelemetry, language: tuple[str, Received]
) -> None:
    base, _ = language
    llm = LlmRecognizer(base, hooks=llm_event_hooks())
    recognizer = TelemetryRecognizer(llm, name="LLM")
    attributes, _ = await failed_turn(telemetry, recognizer, "throttle: " + UTTERANCE)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["error.type"] == "httpx.HTTPStatusError"
    assert attributes["bot.dependency.result_code"] == "429"
    assert "gen_ai.response.model" not in attributes
