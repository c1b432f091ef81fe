"""The store's JSON text is the standard library's, whether orjson or the fallback writes it."""

from __future__ import annotations

import datetime
import enum
import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_telemetry.store.jsontext import document_json, to_json
from tests.support.json_values import json_values as json_values_of


def stdlib(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def stdlib_document(columns: dict[str, list[Any]]) -> str:
    return json.dumps(columns, separators=(",", ":"), ensure_ascii=False)


class Name(str):
    pass


class Count(int):
    pass


@dataclass
class Point:
    x: int


class Flag(enum.IntEnum):
    ON = 1


# Each is a value orjson refuses or writes differently; the text must still be stdlib's.
AWKWARD = {
    "lone surrogate": {"text": "a\ud800b"},
    "NaN": {"n": math.nan},
    "infinity": [math.inf, -math.inf],
    "1e400 (a float infinity)": float("1e400"),
    "int over 64 bits": [2**64, -(2**63) - 1, 10**30],
    "int at the 64-bit edges": [2**64 - 1, -(2**63)],
    "object (default=str)": {"o": object()},
    "datetime (default=str, not RFC 3339)": [datetime.datetime(2026, 1, 2, 3, 4, 5)],
    "date": datetime.date(2026, 1, 2),
    "dataclass": Point(3),
    "str subclass": {"s": Name("x")},
    "int subclass": Count(7),
    "int enum": [Flag.ON],
    "non-str keys": {1: "a", False: "b", None: "c", 2.5: "d"},
    "small floats": [1e-05, -1.5e-06, 9.99e-05, 1e-07, 1.234e-09, 1e-10],
    "small float alone": 1e-07,
    "a string like a small float": {"a": "x:1e-7", "b": ",0.00001"},
    "control characters and non-ASCII": '\x00\x1f\x7f\u2028é€😀"\\',
    "nested empties": {"a": {}, "b": [], "c": [[{}]], "d": None},
    "negative zero": -0.0,
}


@pytest.mark.parametrize("value", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_values_are_written_as_the_standard_library_writes_them(value: Any) -> None:
    assert to_json(value) == stdlib(value)


def test_finite_values_give_the_same_text_without_the_null_check() -> None:
    value = {"a": None, "b": [1.5, None], "c": "null"}
    assert to_json(value, finite=True) == stdlib(value)


def test_a_document_with_a_non_finite_float_keeps_it() -> None:
    columns: dict[str, list[Any]] = {
        "value": [1.0, math.nan, None],
        "bounds": [[0.5, math.inf], None, [1.0]],
        "name": ["a", "b", "c"],
    }
    text = document_json(columns, ("value", "bounds"))
    assert text == stdlib_document(columns)
    assert "NaN" in text and "Infinity" in text


def test_a_document_of_plain_cells_is_the_standard_librarys() -> None:
    columns: dict[str, list[Any]] = {
        "time_ns": [1, 2**63 - 1],
        "trace_key": [2**64 - 1, None],
        "attributes": ['{"a":"é","b":1e-07}', '{"c":"\\ud800"}'],
        "value": [1e-05, 2.5],
    }
    assert document_json(columns, ("value",)) == stdlib_document(columns)


def test_a_document_orjson_refuses_is_refused_as_the_standard_library_refuses_it() -> None:
    with pytest.raises(TypeError):
        document_json({"a": [object()]}, ())


json_values = json_values_of(non_finite=True)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_like_value_gives_the_standard_librarys_text(value: Any) -> None:
    assert to_json(value) == stdlib(value)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True), max_size=5),
    st.lists(st.none() | st.lists(st.floats(), max_size=3), max_size=5),
    st.lists(st.none() | st.text(st.characters(codec=None)), max_size=5),
    st.lists(st.none() | st.integers(min_value=-(2**63), max_value=2**64 - 1), max_size=5),
)
def test_any_document_gives_the_standard_librarys_text(
    value: list[Any], bounds: list[Any], text: list[Any], number: list[Any]
) -> None:
    columns = {"value": value, "bounds": bounds, "attributes": text, "time_ns": number}
    assert document_json(columns, ("value", "bounds")) == stdlib_document(columns)
