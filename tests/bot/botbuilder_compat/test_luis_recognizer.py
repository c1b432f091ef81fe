"""The telemetry cases of botbuilder-ai 4.17's ``tests/luis/luis_recognizer_test.py``
(LuisRecognizerTest) with ``OpenTelemetryBotTelemetryClient`` as the recognizer's client,
reading the LuisResult events OpenTelemetry recorded instead of a mock's calls.

Upstream patches ``requests`` to answer LUIS v2 calls with an empty prediction; here
``LuisRecognizer`` makes its real LUIS v3 call to a local server answering the same empty
prediction (the telemetry code, ``fill_luis_event_properties`` and
``on_recognizer_result``, is the same for both versions). Policy flag = botbuilder's flag.
Differences: D2 (``fromId`` is None here, so it is left out: 7 properties with the flag
on, 6 without, where upstream counts 8 and 7).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from botbuilder.ai.luis import (
    LuisApplication,
    LuisRecognizer,
    LuisRecognizerOptionsV3,
    LuisTelemetryConstants,
)
from botbuilder.core import BotAdapter, RecognizerResult, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    ResourceResponse,
)

from bot_telemetry import OpenTelemetryBotTelemetryClient, PrivacyPolicy
from tests.bot.botbuilder_compat.calls import calls
from tests.bot.servers import Recorded, empty_prediction, luis_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

APP_ID = "b31aeaf3-3511-495b-a07f-571fc873214b"
ENDPOINT_KEY = "048ec46dc58e495482b0c447cfdbd291"
UTTERANCE = "please book from May 5 to June 6"
STOCK = ["applicationId", "intent", "intentScore", "intent2", "intentScore2", "entities"]


class NullAdapter(BotAdapter):  # type: ignore[misc]
    """An adapter that sends nowhere, as upstream's tests/luis/null_adapter.py."""

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        return [ResourceResponse()]

    async def update_activity(self, context: TurnContext, activity: Activity) -> None:
        raise AssertionError("the LUIS tests never update an activity")

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        raise AssertionError("the LUIS tests never delete an activity")


class TelemetryOverrideRecognizer(LuisRecognizer):  # type: ignore[misc]
    """Upstream's override: the caller's properties only, then a second event."""

    def on_recognizer_result(
        self,
        recognizer_result: RecognizerResult,
        turn_context: TurnContext,
        telemetry_properties: dict[str, str] | None = None,
        telemetry_metrics: dict[str, float] | None = None,
    ) -> None:
        properties = telemetry_properties if telemetry_properties is not None else {}
        properties.setdefault("MyImportantProperty", "myImportantValue")
        self.telemetry_client.track_event(
            LuisTelemetryConstants.luis_result, properties, telemetry_metrics
        )
        self.telemetry_client.track_event(
            "MySecondEvent", {"MyImportantProperty2": "myImportantValue2"}
        )


class OverrideFillRecognizer(LuisRecognizer):  # type: ignore[misc]
    """Upstream's fill override: the stock properties plus one, then a second event."""

    def on_recognizer_result(
        self,
        recognizer_result: RecognizerResult,
        turn_context: TurnContext,
        telemetry_properties: dict[str, str] | None = None,
        telemetry_metrics: dict[str, float] | None = None,
    ) -> None:
        properties = self.fill_luis_event_properties(
            recognizer_result, turn_context, telemetry_properties
        )
        properties.setdefault("MyImportantProperty", "myImportantValue")
        self.telemetry_client.track_event(
            LuisTelemetryConstants.luis_result, properties, telemetry_metrics
        )
        self.telemetry_client.track_event(
            "MySecondEvent", {"MyImportantProperty2": "myImportantValue2"}
        )


@pytest.fixture
async def luis() -> AsyncIterator[str]:
    recorded = Recorded()
    async with serving(luis_app(recorded, empty_prediction)) as url:
        yield url
    assert [r["body"]["query"] for r in recorded.requests] == [UTTERANCE]


async def recognize(
    endpoint: str,
    flag: bool,
    properties: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    recognizer: type[LuisRecognizer] = LuisRecognizer,
) -> Any:
    client = OpenTelemetryBotTelemetryClient(PrivacyPolicy(log_personal_information=flag))
    options = LuisRecognizerOptionsV3(
        include_api_results=False, telemetry_client=client, log_personal_information=flag
    )
    luis = recognizer(LuisApplication(APP_ID, ENDPOINT_KEY, endpoint), prediction_options=options)
    context = TurnContext(
        NullAdapter(),
        Activity(
            type=ActivityTypes.message,
            text=UTTERANCE,
            conversation=ConversationAccount(),
            recipient=ChannelAccount(),
            from_property=ChannelAccount(),
        ),
    )
    return await luis.recognize(context, properties, metrics)


async def test_telemetry_override_on_log_async(telemetry: CapturedTelemetry, luis: str) -> None:
    await recognize(luis, False, {"test": "testvalue", "foo": "foovalue"})
    (call,) = calls(telemetry)
    assert call.name == "LuisResult"
    # upstream also requires fromId, None here (D2)
    for key in ["applicationId", "intent", "intentScore", "entities"]:
        assert key in call.properties
    assert call.properties["test"] == "testvalue" and call.properties["foo"] == "foovalue"


@pytest.mark.parametrize(
    ("flag", "count"), [(True, 7), (False, 6)], ids=["pii logged", "no pii logged"]
)
async def test_telemetry_pii_logged_or_not(
    telemetry: CapturedTelemetry, luis: str, flag: bool, count: int
) -> None:
    # upstream: test_telemetry_pii_logged_async (8) and test_telemetry_no_pii_logged_async (7)
    await recognize(luis, flag)
    (call,) = calls(telemetry)
    assert call.name == "LuisResult"
    assert len(call.properties) == count, sorted(call.properties)
    for key in STOCK:
        assert key in call.properties
    assert call.properties["applicationId"] == APP_ID
    if flag:
        assert call.properties["question"] == UTTERANCE
    else:
        assert "question" not in call.properties
    assert call.measurements is None


async def test_telemetry_override_on_derive_async(telemetry: CapturedTelemetry, luis: str) -> None:
    await recognize(
        luis, False, {"test": "testvalue", "foo": "foovalue"}, None, TelemetryOverrideRecognizer
    )
    first, second = calls(telemetry)
    assert first.name == "LuisResult"
    assert first.properties == {
        "MyImportantProperty": "myImportantValue",
        "test": "testvalue",
        "foo": "foovalue",
    }
    assert second.name == "MySecondEvent"
    assert second.properties == {"MyImportantProperty2": "myImportantValue2"}


async def test_telemetry_override_fill_async(telemetry: CapturedTelemetry, luis: str) -> None:
    await recognize(
        luis,
        False,
        {"test": "testvalue", "foo": "foovalue"},
        {"moo": 3.14159, "boo": 2.11},
        OverrideFillRecognizer,
    )
    first, second = calls(telemetry)
    assert first.name == "LuisResult"
    assert first.properties["MyImportantProperty"] == "myImportantValue"
    assert first.properties["test"] == "testvalue"
    assert first.properties["foo"] == "foovalue"
    # botbuilder's measurements: numbers in microsoft.custom_measurements, not properties
    assert first.measurements == {"moo": 3.14159, "boo": 2.11}
    assert "moo" not in first.properties and "boo" not in first.properties
    assert second.name == "MySecondEvent"
    assert second.properties["MyImportantProperty2"] == "myImportantValue2"


async def test_telemetry_no_override_async(telemetry: CapturedTelemetry, luis: str) -> None:
    await recognize(luis, False)
    (call,) = calls(telemetry)
    assert call.name == "LuisResult"
    for key in ["intent", "intentScore", "entities"]:  # and fromId upstream (D2)
        assert key in call.properties
