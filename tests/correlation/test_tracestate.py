"""tracestate parsing and forwarding, one W3C Trace Context Level 2 rule per test."""

from __future__ import annotations

import pytest

from bot_telemetry.correlation.tracestate import (
    MAX_INBOUND_LENGTH,
    W3CTraceState,
    format_tracestate,
    parse_tracestate,
)


def test_members_are_kept_in_order() -> None:
    assert parse_tracestate(["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]) == [
        ("rojo", "00f067aa0ba902b7"),
        ("congo", "t61rcWkgMzE"),
    ]


def test_several_fields_are_one_list_in_field_order() -> None:
    assert parse_tracestate(["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]) == [
        ("foo", "1"),
        ("bar", "2"),
        ("rojo", "1"),
        ("congo", "2"),
        ("baz", "3"),
    ]


@pytest.mark.parametrize("values", [[""], ["foo=1", ""], ["", "foo=1"], [" , ,foo=1, "]], ids=repr)
def test_empty_headers_and_members_are_allowed(values: list[str]) -> None:
    parsed = parse_tracestate(values)
    assert parsed is not None
    assert parsed == ([] if values == [""] else [("foo", "1")])


@pytest.mark.parametrize("value", ["foo=1 \t , \t bar=2, \t baz=3", "\t foo=1 \t,bar=2,baz=3 "])
def test_whitespace_around_members_is_ignored(value: str) -> None:
    assert parse_tracestate([value]) == [("foo", "1"), ("bar", "2"), ("baz", "3")]


def test_leading_spaces_belong_to_the_value() -> None:
    assert parse_tracestate(["foo=  1"]) == [("foo", "  1")]


def test_thirty_two_members_are_accepted() -> None:
    members = ",".join(f"bar{i:02}={i:02}" for i in range(1, 33))
    parsed = parse_tracestate([members])
    assert parsed is not None and len(parsed) == 32


def test_thirty_three_members_drop_the_whole_header() -> None:
    members = ",".join(f"bar{i:02}={i:02}" for i in range(1, 34))
    assert parse_tracestate([members]) is None


@pytest.mark.parametrize(
    "key",
    [
        "foo@bar",
        "foo@",  # Level 2: '@' is an ordinary key character
        "foo@@bar",
        "foo@bar@baz",
        "1abc",  # Level 2: a key may start with a digit
        "t" * 240 + "@" + "v" * 15,  # 256 characters, 15 after the "@"
        "abcdefghijklmnopqrstuvwxyz0123456789_-*/@",
        "z" * 256,
    ],
)
def test_level_2_key_grammar_accepts(key: str) -> None:
    assert parse_tracestate([f"{key}=1"]) == [(key, "1")]


@pytest.mark.parametrize(
    "key", ["@foo", "FOO", "foo.bar", "foo ", "_foo", "-foo", "z" * 257, "", "fóo"]
)
def test_level_2_key_grammar_rejects(key: str) -> None:
    assert parse_tracestate([f"foo=1,{key}=2"]) is None


def test_all_allowed_value_characters_are_kept() -> None:
    value = "".join(map(chr, [*range(0x20, 0x2C), *range(0x2D, 0x3D), *range(0x3E, 0x7F)]))
    assert parse_tracestate([f"foo={value}"]) == [("foo", value)]


@pytest.mark.parametrize(
    "member", ["foo=bar=baz", "foo=", "foo", "foo=\x01", "foo=é", "foo=" + "v" * 257]
)
def test_an_invalid_value_drops_the_whole_header(member: str) -> None:
    assert parse_tracestate([f"bar=3,{member}"]) is None


@pytest.mark.parametrize(
    "values", [["foo=1,foo=1"], ["foo=1,foo=2"], ["foo=1", "foo=1"], ["foo=1", "foo=2"]]
)
def test_a_duplicated_key_keeps_the_first_member(values: list[str]) -> None:
    # W3C test suite, test_tracestate_duplicated_keys: the header is inherited, with one of
    # the duplicates discarded. The left-most member is the most recent vendor's.
    assert parse_tracestate(values) == [("foo", "1")]


def test_later_duplicates_are_discarded_and_the_order_kept() -> None:
    assert parse_tracestate(["a=1,b=2,a=3", "b=4,c=5"]) == [("a", "1"), ("b", "2"), ("c", "5")]


def test_duplicates_count_towards_the_32_member_limit() -> None:
    distinct = ",".join(f"k{i:02}=1" for i in range(32))
    assert parse_tracestate([distinct]) is not None
    assert parse_tracestate([distinct, "k00=2"]) is None


def test_a_malformed_member_after_a_duplicate_still_drops_the_header() -> None:
    assert parse_tracestate(["foo=1,foo=2,BAR=3"]) is None


def test_an_unmodified_list_is_forwarded_unchanged() -> None:
    header = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a@b=  x"
    parsed = parse_tracestate([header])
    assert parsed is not None
    assert format_tracestate(parsed) == header


def test_a_list_of_512_characters_is_forwarded_whole() -> None:
    members = [(f"k{i:02}", "v" * 58) for i in range(8)]  # 8 * 62 + 7 commas = 503
    members.append(("last", "x" * 3))
    assert len(format_tracestate(members)) == 512
    assert format_tracestate(members) == ",".join(f"{k}={v}" for k, v in members)


def test_past_512_characters_long_members_go_first() -> None:
    long_member = ("long", "l" * 200)  # 205 characters
    short = [(f"k{i:02}", "v" * 40) for i in range(8)]  # 8 * 44 + 7 = 359
    header = format_tracestate([short[0], long_member, *short[1:]])
    assert "long=" not in header
    assert header == ",".join(f"{k}={v}" for k, v in short)


def test_past_512_characters_members_are_then_removed_from_the_end() -> None:
    members = [(f"k{i:02}", "v" * 100) for i in range(10)]  # 104 characters each
    header = format_tracestate(members)
    assert header == ",".join(f"k{i:02}={'v' * 100}" for i in range(4))  # 4 * 104 + 3 = 419
    assert len(header) <= 512


def test_truncation_removes_whole_members_only() -> None:
    members = [(f"k{i}", "v" * 120) for i in range(32)]
    header = format_tracestate(members)
    assert all(part.startswith("k") and part.endswith("v" * 120) for part in header.split(","))


def test_oversized_inbound_values_are_dropped_unread() -> None:
    assert parse_tracestate(["a=" + "b" * MAX_INBOUND_LENGTH]) is None
    assert parse_tracestate(["foo=1"] + ["," * 1024] * 40) is None


def test_the_carrier_keeps_level_2_keys_that_opentelemetry_drops() -> None:
    from opentelemetry.trace import TraceState

    members = [("foo@bar@baz", "1"), ("1abc", "2")]
    assert dict(TraceState(members)) == {}
    assert list(W3CTraceState(members).items()) == members
