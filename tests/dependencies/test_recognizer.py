"""TelemetryRecognizer around real botbuilder recognizers calling local services over HTTP."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from botbuilder.ai.luis import LuisApplication, LuisRecognizer, LuisRecognizerOptionsV3
from botbuilder.core import Recognizer, RecognizerResult, TurnContext
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import OpenTelemetryBotTelemetryClient, PrivacyPolicy, TelemetryRecognizer
from tests.bot.servers import Recorded, luis_app
from tests.dependencies.conftest import Service
from tests.dependencies.services import HttpRecognizer
from tests.dependencies.turns import CONVERSATION_ID, bot_adapter, dependency_traces
from tests.support.ports import free_port
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry


def recognizing(recognizer: Recognizer, results: list[Any]) -> Any:
    async def logic(turn_context: TurnContext) -> None:
        result = await recognizer.recognize(turn_context)
        results.append(result)
        await turn_context.send_activity(f"intent {result.get_top_scoring_intent().intent}")

    return logic


def attributes_of(record: Any) -> dict[str, Any]:
    return dict(record.log_record.attributes or {})


async def test_a_recognition_is_a_dependency_span_and_an_intent_event(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    recognizer = TelemetryRecognizer(HttpRecognizer(nlu.url), name="nlu")
    results: list[RecognizerResult] = []
    adapter = bot_adapter(recognizing(recognizer, results))
    await adapter.receive_activity("book a flight to Paris, write to ada@example.com")

    # The bot sees exactly what the wrapped recognizer returned.
    [result] = results
    assert result.get_top_scoring_intent().intent == "BookFlight"
    assert adapter.activity_buffer[-1].text == "intent BookFlight"

    span = telemetry.span_named("Recognizer Query")
    assert span.kind is SpanKind.CLIENT
    attributes = span.attributes or {}
    assert attributes["peer.service"] == "nlu"
    assert attributes["service.peer.name"] == "nlu"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(nlu.url.split(":")[2].split("/")[0])
    assert attributes["bot.dependency.result_code"] == "200"
    assert attributes["bot.recognizer.intent"] == "BookFlight"
    assert attributes["bot.recognizer.intent_score"] == pytest.approx(0.91)
    [server] = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert server.parent is not None and server.parent.span_id == span.context.span_id

    [event] = telemetry.events("LuisIntent.BookFlight")
    properties = attributes_of(event)
    [trace_activity] = dependency_traces(adapter)
    assert properties["activityId"] == trace_activity.reply_to_id == "1"
    assert properties["conversationId"] == CONVERSATION_ID
    assert properties["correlationId"] == f"{span.context.trace_id:032x}"
    assert properties["intent"] == "BookFlight"
    assert properties["intentScore"] == pytest.approx(0.91)
    assert properties["sentimentLabel"] == "positive"
    assert properties["sentimentScore"] == pytest.approx(0.83)
    assert json.loads(properties["entities"]) == ["city", "date"], "names only, no $instance"
    assert "question" not in properties, "the user's text needs the policy's consent"
    assert not any("Paris" in str(value) for value in properties.values())
    assert event.log_record.span_id == span.context.span_id
    assert [e.name for e in span.events] == ["LuisIntent.BookFlight"]

    assert trace_activity.name == "Recognizer"
    assert trace_activity.value["target"] == "nlu"
    assert trace_activity.value["spanId"] == f"{span.context.span_id:016x}"


async def test_the_question_is_recorded_redacted_when_the_policy_allows(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    policy = PrivacyPolicy(log_personal_information=True)
    recognizer = TelemetryRecognizer(HttpRecognizer(nlu.url), privacy=policy)
    adapter = bot_adapter(recognizing(recognizer, []))
    await adapter.receive_activity("book a flight, mail ada@example.com")
    [event] = telemetry.events("LuisIntent.BookFlight")
    assert attributes_of(event)["question"] == "book a flight, mail [REDACTED]"


async def test_without_sentiment_there_are_no_sentiment_properties(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    adapter = bot_adapter(recognizing(TelemetryRecognizer(HttpRecognizer(nlu.url)), []))
    await adapter.receive_activity("hello there")
    [event] = telemetry.events("LuisIntent.Greeting")
    properties = attributes_of(event)
    assert "sentimentLabel" not in properties and "sentimentScore" not in properties
    assert json.loads(properties["entities"]) == []
    span = telemetry.span_named("Recognizer Query")
    assert (span.attributes or {})["peer.service"] == "HttpRecognizer", "default: class name"


async def test_the_luis_result_option_uses_botbuilders_event_name(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    recognizer = TelemetryRecognizer(HttpRecognizer(nlu.url), luis_result_event=True)
    adapter = bot_adapter(recognizing(recognizer, []))
    await adapter.receive_activity("book a flight")
    assert telemetry.events("LuisIntent.BookFlight") == []
    [event] = telemetry.events("LuisResult")
    assert attributes_of(event)["intent"] == "BookFlight"


async def test_a_service_error_fails_the_span_and_reaches_the_bot_unchanged(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    recognizer = TelemetryRecognizer(HttpRecognizer(nlu.url), name="nlu")
    adapter = bot_adapter(recognizing(recognizer, []))
    with pytest.raises(aiohttp.ClientResponseError) as caught:
        await adapter.receive_activity("crash the model")
    assert caught.value.status == 500

    span = telemetry.span_named("Recognizer Query")
    assert span.status.status_code is StatusCode.ERROR
    attributes = span.attributes or {}
    assert attributes["bot.dependency.result_code"] == "500"
    assert attributes["error.type"] == "aiohttp.client_exceptions.ClientResponseError"
    assert "exception" in [e.name for e in span.events]
    assert [e for e in telemetry.events() if str(e.log_record.body).startswith("Luis")] == []
    [trace_activity] = dependency_traces(adapter)
    assert trace_activity.value["success"] is False
    assert trace_activity.value["resultCode"] == "500"


async def test_an_unreachable_service_is_a_failed_call(
    telemetry: CapturedTelemetry, instrumented_client: None
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/predict"  # nothing listens there
    adapter = bot_adapter(recognizing(TelemetryRecognizer(HttpRecognizer(endpoint)), []))
    with pytest.raises(aiohttp.ClientConnectorError):
        await adapter.receive_activity("book a flight")
    span = telemetry.span_named("Recognizer Query")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["bot.dependency.result_code"] == "ClientConnectorError"
    assert [e.name for e in span.events] == ["exception"], "recorded once, not per layer"


class NothingRecognizer(Recognizer):  # type: ignore[misc]
    """Recognizes no intent at all (a rule-based recognizer that found no rule)."""

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        return RecognizerResult(text=turn_context.activity.text, intents={}, entities=None)


async def test_no_intent_is_reported_as_luis_none(telemetry: CapturedTelemetry) -> None:
    recognizer = TelemetryRecognizer(NothingRecognizer(), trace_activities="off")

    async def logic(turn_context: TurnContext) -> None:
        await recognizer.recognize(turn_context)

    adapter = bot_adapter(logic)
    await adapter.receive_activity("???")
    [event] = telemetry.events("LuisIntent.None")
    properties = attributes_of(event)
    assert properties["intent"] == "None"
    assert "intentScore" not in properties
    assert dependency_traces(adapter) == []


async def test_botbuilders_luis_recognizer_is_named_luis_with_its_endpoint(
    telemetry: CapturedTelemetry, instrumented_client: None
) -> None:
    recorded = Recorded()
    async with serving(luis_app(recorded)) as base:
        luis = LuisRecognizer(
            LuisApplication(
                "b31aeaf3-3511-495b-a07f-571fc873214b", "0123456789abcdef0123456789abcdef", base
            ),
            LuisRecognizerOptionsV3(include_all_intents=True),
        )
        adapter = bot_adapter(recognizing(TelemetryRecognizer(luis), []))
        await adapter.receive_activity("book a flight")

    span = telemetry.span_named("Recognizer Query")
    attributes = span.attributes or {}
    assert attributes["peer.service"] == "LUIS"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["bot.dependency.result_code"] == "200"
    [request] = recorded.requests
    traceparent = request["headers"]["traceparent"]
    assert traceparent.split("-")[2] == f"{span.context.span_id:016x}"
    [event] = telemetry.events("LuisIntent.BookFlight")
    assert attributes_of(event)["sentimentLabel"] == "neutral"


@pytest.mark.parametrize("luis_result_event", [False, True])
async def test_a_luis_recognizer_with_its_own_telemetry_client_inside_the_wrapper(
    telemetry: CapturedTelemetry, instrumented_client: None, luis_result_event: bool
) -> None:
    # A migrating bot keeps telemetry_client on its LuisRecognizer and wraps it too: botbuilder's
    # LuisResult and ours are on the one dependency span (the measures count one recognition),
    # and with luis_result_event=True the wrapper adds no second LuisResult.
    async with serving(luis_app(Recorded())) as base:
        luis = LuisRecognizer(
            LuisApplication(
                "b31aeaf3-3511-495b-a07f-571fc873214b", "0123456789abcdef0123456789abcdef", base
            ),
            LuisRecognizerOptionsV3(telemetry_client=OpenTelemetryBotTelemetryClient()),
        )
        recognizer = TelemetryRecognizer(luis, luis_result_event=luis_result_event)
        adapter = bot_adapter(recognizing(recognizer, []))
        await adapter.receive_activity("book a flight")

    span = telemetry.span_named("Recognizer Query")
    [botbuilders] = telemetry.events("LuisResult")
    assert botbuilders.log_record.span_id == span.context.span_id
    assert attributes_of(botbuilders)["intent"] == "BookFlight"
    ours = telemetry.events("LuisIntent.BookFlight")
    if luis_result_event:
        assert ours == []
    else:
        [event] = ours
        assert event.log_record.span_id == span.context.span_id
    assert [e.name for e in span.events].count("LuisResult") == 1


def test_something_that_is_not_a_recognizer_is_refused() -> None:
    with pytest.raises(TypeError, match=r"wraps a botbuilder Recognizer.*got str"):
        TelemetryRecognizer("https://nlu.example/predict")  # type: ignore[arg-type]
