"""Custom events: names, keys and values as botbuilder means them; measurements as numbers."""

from __future__ import annotations

import json
import math
from enum import Enum

from opentelemetry import context, trace

from bot_telemetry.signals import (
    attribute_value,
    measurement_json,
    track_custom_event,
    turn_personal_values,
    with_turn_personal_values,
)
from tests.support.telemetry import CapturedTelemetry


class Constants(str, Enum):  # noqa: UP042 (botbuilder's kind: str() is not the value)
    event = "LuisResult"
    intent = "intent"
    channel = "msteams"


def test_enum_names_keys_and_values_become_their_values(telemetry: CapturedTelemetry) -> None:
    with trace.get_tracer("test").start_as_current_span("turn"):
        track_custom_event(
            Constants.event,  # type: ignore[arg-type]
            {Constants.intent: "Greeting", "channelId": Constants.channel},
            {Constants.intent: 1},
        )
    (record,) = telemetry.events("LuisResult")
    attributes = dict(record.log_record.attributes or {})
    assert record.log_record.body == record.log_record.event_name == "LuisResult"
    assert attributes == {
        "intent": "Greeting",
        "channelId": "msteams",
        "microsoft.custom_measurements": '{"intent":1.0}',
        "microsoft.custom_event.name": "LuisResult",
    }
    # str Enum members compare equal to their values: check the types, as exporters see them
    assert all(type(key) is str and type(value) is str for key, value in attributes.items())
    (event,) = telemetry.span_named("turn").events
    assert event.name == "LuisResult" and type(event.name) is str
    assert dict(event.attributes or {}) == attributes


def test_keys_without_a_value_are_left_out(telemetry: CapturedTelemetry) -> None:
    track_custom_event("Booked", {"locale": None, "channelId": "test"})
    (record,) = telemetry.events("Booked")
    assert dict(record.log_record.attributes or {}) == {
        "channelId": "test",
        "microsoft.custom_event.name": "Booked",
    }


def test_measurements_are_finite_numbers_in_one_json_object() -> None:
    found = measurement_json(
        {
            "score": 1,
            "ratio": 0.25,
            "flag": True,
            "text": "3",
            "nan": math.nan,
            "inf": math.inf,
            Constants.intent: 2,
        }
    )
    assert found is not None
    assert json.loads(found) == {"score": 1.0, "ratio": 0.25, "intent": 2.0}
    assert measurement_json({"flag": False}) is None
    assert measurement_json(None) is None


def test_attribute_values_are_plain() -> None:
    assert attribute_value(Constants.channel) == "msteams"
    assert type(attribute_value(Constants.channel)) is str
    assert attribute_value({"channel": Constants.channel, "n": [1, 2]}) == (
        '{"channel":"msteams","n":[1,2]}'
    )


def test_turn_personal_values_are_the_long_enough_strings_longest_first() -> None:
    scope = with_turn_personal_values(["hi", None, "Grace Hopper", "Grace Hopper says hi"])
    token = context.attach(scope)
    try:
        assert turn_personal_values() == ("Grace Hopper says hi", "Grace Hopper")
    finally:
        context.detach(token)
    assert turn_personal_values() == ()
