"""Stored values read back: JSON documents with NaN, numbers for answers, attribute numbers."""

from __future__ import annotations

import pytest

from bot_telemetry.analytics.json_values import attribute_number, load_object, number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5.0),
        (0.62, 0.62),
        ("0.62", 0.62),  # ClickHouse keeps attribute values as text
        ("-3", -3.0),
        ("1e3", 1000.0),
        ("NaN", None),
        ("Infinity", None),
        (float("nan"), None),
        ("high", None),
        ("", None),
        (True, None),
        (None, None),
        ([1], None),
    ],
)
def test_an_attribute_number_from_a_number_or_its_text(value: object, expected: object) -> None:
    assert attribute_number(value) == expected


def test_stored_nan_comes_back_as_a_string_for_json_answers() -> None:
    assert load_object('{"x": NaN, "y": 1}') == {"x": "NaN", "y": 1}
    assert load_object("[1]") == {}
    assert [number(float("inf")), number(float("-inf")), number(2)] == ["Infinity", "-Infinity", 2]
