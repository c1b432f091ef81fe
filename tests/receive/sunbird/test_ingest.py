"""``load_json`` reads a body as ``json.loads`` with the receiver's hooks does, whichever
parser reads it (orjson when it gives the same, json otherwise), lone surrogates as U+FFFD."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_telemetry.receive.sunbird.ingest import _as_text, _finite_or_text, load_json
from bot_telemetry.receive.unicode import may_hold_surrogates, without_surrogates
from tests.support.json_values import json_values as json_values_of


def stdlib(data: bytes) -> Any:
    read = json.loads(data, parse_constant=_as_text, parse_float=_finite_or_text)
    return without_surrogates(read) if may_hold_surrogates(data) else read


def same(data: bytes) -> None:
    # repr tells apart what == does not: 1 and 1.0 and True, 0.0 and -0.0, key order.
    assert repr(load_json(data)) == repr(stdlib(data))


BODIES = {
    "NaN and infinities": b'{"a":NaN,"b":Infinity,"c":-Infinity}',
    "decimals out of float range": b'{"a":1e400,"b":-1e400,"c":1.8e308}',
    "ints over 64 bits": b'{"a":18446744073709551616,"b":-9223372036854775809,"c":1e2}',
    "ints at the 64-bit edges": b"[18446744073709551615,-9223372036854775808,9223372036854775807]",
    "big floats and a plus in a string": b'{"a":"x+y","b":1e20,"c":-1.5E+300}',
    "an int of 19 digits in a string": b'{"a":"1234567890123456789","b":1.5}',
    "a long decimal": b"[0.1000000000000000055511151231257827021181583404541015625]",
    "a lone surrogate escape": b'{"a":"x\\ud800y"}',
    "a surrogate pair escape": b'{"a":"\\ud83d\\ude00"}',
    "a byte order mark": b'\xef\xbb\xbf{"a":1}',
    "UTF-16": '{"a":"é"}'.encode("utf-16"),
    "duplicate keys": b'{"a":1,"b":2,"a":3}',
    "negative zeros": b"[-0,-0.0,0e0,-0e-5]",
    "exponents": b"[1E5,1e-7,2.5e-5,1e-400,5e-324]",
    "nested 300 deep": b"[" * 300 + b"]" * 300,
    "many brackets, shallow": b"[" + b",".join([b"[]"] * 400) + b"]",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_bodies_are_read_as_json_with_the_hooks_reads_them(body: bytes) -> None:
    same(body)


def test_a_lone_surrogate_is_the_replacement_character() -> None:
    assert load_json(b'{"a\\udc00":"x\\ud800y","b":"\\ud83d\\ude00"}') == {
        "a\ufffd": "x\ufffdy",
        "b": "\U0001f600",
    }


def test_a_non_finite_number_is_text_and_a_big_int_an_int() -> None:
    read = load_json(b'{"a":NaN,"b":1e400,"c":18446744073709551616}')
    assert read == {"a": "NaN", "b": "1e400", "c": 18446744073709551616}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"a":1', json.JSONDecodeError),
        (b'{"a":1}x', json.JSONDecodeError),
        (b'{"a":"\xff"}', UnicodeDecodeError),
        (b"[" * 5000 + b"]" * 5000, RecursionError),
    ],
    ids=["cut short", "trailing text", "not UTF-8", "nested 5000 deep"],
)
def test_a_bad_body_fails_as_json_fails(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        stdlib(body)
    with pytest.raises(error):
        load_json(body)


json_values = json_values_of(non_finite=False)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.booleans())
def test_any_json_text_is_read_as_json_reads_it(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    same(text.encode("utf-8", "surrogatepass"))


DIGITS = "0123456789"
# JSON numbers: -?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,3})?, built part by
# part (st.from_regex of that pattern made the same numbers at half the speed).
json_numbers = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", "-"]),
        st.just("0")
        | st.builds(str.__add__, st.sampled_from(DIGITS[1:]), st.text(DIGITS, max_size=25)),
        st.just("") | st.text(DIGITS, min_size=1, max_size=25).map(".".__add__),
        st.just("")
        | st.builds(
            "".join,
            st.tuples(
                st.sampled_from("eE"),
                st.sampled_from(["", "-", "+"]),
                st.text(DIGITS, min_size=1, max_size=3),
            ),
        ),
    ),
)


@settings(max_examples=2000, deadline=None)
@given(json_numbers)
def test_any_number_is_read_as_json_reads_it(number: str) -> None:
    same(f'{{"n":{number}}}'.encode())
