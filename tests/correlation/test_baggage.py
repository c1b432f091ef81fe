"""baggage parsing and formatting, one W3C Baggage rule per test."""

from __future__ import annotations

import pytest

from bot_telemetry.correlation.baggage import (
    MAX_BYTES,
    MAX_INBOUND_BYTES,
    MAX_MEMBERS,
    Member,
    format_baggage,
    parse_baggage,
)


def test_members_are_read_in_order() -> None:
    assert parse_baggage(["a=1,b=2"]) == [Member("a", "1"), Member("b", "2")]


def test_several_fields_are_one_list() -> None:
    assert parse_baggage(["a=1", "b=2"]) == [Member("a", "1"), Member("b", "2")]


def test_whitespace_around_keys_values_and_members_is_ignored() -> None:
    assert parse_baggage([" a = 1 ,\tb=2\t"]) == [Member("a", "1"), Member("b", "2")]


def test_values_are_percent_decoded_as_utf8() -> None:
    assert parse_baggage(["city=S%C3%A3o%20Paulo"]) == [Member("city", "São Paulo")]


def test_plus_is_a_literal_character_not_a_space() -> None:
    assert parse_baggage(["q=a+b"]) == [Member("q", "a+b")]


def test_invalid_utf8_after_decoding_becomes_the_replacement_character() -> None:
    assert parse_baggage(["k=%FF%FEok"]) == [Member("k", "\ufffd\ufffdok")]


def test_keys_are_not_percent_decoded() -> None:
    assert parse_baggage(["a%20b=1"]) == [Member("a%20b", "1")]


def test_values_are_percent_encoded_when_sent() -> None:
    header = format_baggage([Member("city", 'São Paulo, 100%;"x"\\')])
    assert header == "city=S%C3%A3o%20Paulo%2C%20100%25%3B%22x%22%5C"
    assert parse_baggage([header]) == [Member("city", 'São Paulo, 100%;"x"\\')]


def test_an_empty_value_is_allowed() -> None:
    assert parse_baggage(["a="]) == [Member("a", "")]


def test_properties_are_kept_with_their_member() -> None:
    parsed = parse_baggage(["a=1;ttl=60 ; secret, b=2"])
    assert parsed == [Member("a", "1", "ttl=60;secret"), Member("b", "2")]
    assert format_baggage(parsed) == "a=1;ttl=60;secret,b=2"


@pytest.mark.parametrize(
    "member", ["novalue", "=1", "a b=1", "k=a b", 'k="q"', "k=a\\b", "k=é", "k=1;=x", "k=1;p=a b"]
)
def test_a_malformed_member_is_skipped_and_the_others_kept(member: str) -> None:
    assert parse_baggage([f"a=1,{member},b=2"]) == [Member("a", "1"), Member("b", "2")]


def test_at_most_64_members_the_rest_dropped_whole() -> None:
    header = ",".join(f"k{i}=v{i}" for i in range(80))
    parsed = parse_baggage([header])
    assert [m.key for m in parsed] == [f"k{i}" for i in range(MAX_MEMBERS)]


def test_at_most_8192_bytes_members_beyond_dropped_whole() -> None:
    members = [Member(f"k{i}", "v" * 1000) for i in range(10)]  # 1004 bytes each
    header = format_baggage(members)
    assert len(header.encode()) <= MAX_BYTES
    assert header == ",".join(f"k{i}={'v' * 1000}" for i in range(8))  # 8 * 1004 + 7 = 8039
    assert parse_baggage([",".join(m.encoded() for m in members)]) == members[:8]


def test_the_byte_limit_counts_encoded_bytes() -> None:
    wide = [Member(f"k{i}", "é" * 300) for i in range(10)]  # 1803 bytes each once encoded
    assert len(format_baggage(wide).split(",")) == 4


def test_oversized_inbound_values_are_dropped_unread() -> None:
    assert parse_baggage(["a=1," + "b" * MAX_INBOUND_BYTES]) == []


@pytest.mark.parametrize("value", ["\x00\x01=\x02", "a=1\r\nb=2", "=,;=;,=", ";;;,,,"])
def test_control_characters_and_garbage_never_raise(value: str) -> None:
    assert all(member.key.isprintable() for member in parse_baggage([value]))
