"""traceparent parsing, one W3C Trace Context rule per test."""

from __future__ import annotations

import pytest

from bot_telemetry.correlation.traceparent import (
    MAX_LENGTH,
    Traceparent,
    format_traceparent,
    parse_traceparent,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_a_valid_header_gives_its_ids_and_flags() -> None:
    assert parse_traceparent([VALID]) == Traceparent(int(TRACE, 16), int(SPAN, 16), 0x01)


def test_version_ff_is_invalid() -> None:
    assert parse_traceparent([f"ff-{TRACE}-{SPAN}-01"]) is None


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"00-{TRACE}-{SPAN.upper()}-01",
        f"00-{TRACE}-{SPAN}-0A",
        f"0A-{TRACE}-{SPAN}-01",
    ],
    ids=["trace-id", "parent-id", "flags", "version"],
)
def test_uppercase_hex_is_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


@pytest.mark.parametrize(
    "value",
    [
        f".0-{TRACE}-{SPAN}-01",
        f"00-.{TRACE[1:]}-{SPAN}-01",
        f"00-{TRACE}-{SPAN[:-1]}.-01",
        f"00-{TRACE}-{SPAN}-.0",
        f"00-{TRACE[:-1]}g-{SPAN}-01",
    ],
)
def test_non_hex_characters_are_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


@pytest.mark.parametrize(
    "value",
    [
        f"0-{TRACE}-{SPAN}-01",
        f"000-{TRACE}-{SPAN}-01",
        f"00-{TRACE}3-{SPAN}-01",
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}7-01",
        f"00-{TRACE}-{SPAN[:-1]}-01",
        f"00-{TRACE}-{SPAN}-001",
        f"00-{TRACE}-{SPAN}-1",
        "",
    ],
)
def test_wrong_field_lengths_are_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


def test_an_all_zero_trace_id_is_invalid() -> None:
    assert parse_traceparent([f"00-{'0' * 32}-{SPAN}-01"]) is None


def test_an_all_zero_parent_id_is_invalid() -> None:
    assert parse_traceparent([f"00-{TRACE}-{'0' * 16}-01"]) is None


@pytest.mark.parametrize("suffix", ["-", "-what-the-future-will-be-like", ".", " x"])
def test_trailing_data_on_version_00_is_invalid(suffix: str) -> None:
    assert parse_traceparent([VALID + suffix]) is None


def test_more_than_one_traceparent_field_is_invalid() -> None:
    other = f"00-{TRACE[:-1]}1-{SPAN}-01"
    assert parse_traceparent([VALID, other]) is None
    assert parse_traceparent([VALID, VALID]) is None


@pytest.mark.parametrize("value", [f" {VALID}", f"\t{VALID}", f"{VALID} ", f"\t {VALID} \t"])
def test_optional_whitespace_around_the_value_is_ignored(value: str) -> None:
    assert parse_traceparent([value]) == parse_traceparent([VALID])


@pytest.mark.parametrize(
    "value",
    [
        f"cc-{TRACE}-{SPAN}-01",
        f"cc-{TRACE}-{SPAN}-01-what-the-future-will-be-like",
        f"01-{TRACE}-{SPAN}-01-",
    ],
)
def test_a_future_version_is_read_by_its_fixed_fields(value: str) -> None:
    assert parse_traceparent([value]) == Traceparent(int(TRACE, 16), int(SPAN, 16), 0x01)


@pytest.mark.parametrize(
    "value",
    [
        f"cc-{TRACE}-{SPAN}-01.what-the-future-will-be-like",
        f"cc-{TRACE}-{SPAN}-0",
        f"cc-{TRACE}-{SPAN}",
    ],
)
def test_a_future_version_without_a_dash_after_the_flags_is_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None


def test_a_future_version_is_emitted_as_version_00() -> None:
    parent = parse_traceparent([f"cc-{TRACE}-{SPAN}-01-future"])
    assert parent is not None
    assert parent.header() == VALID


def test_the_random_trace_id_flag_is_kept() -> None:
    parent = parse_traceparent([f"00-{TRACE}-{SPAN}-03"])
    assert parent is not None and parent.flags == 0x03
    assert parent.header().endswith("-03")


def test_reserved_flags_are_sent_as_zero() -> None:
    assert format_traceparent(int(TRACE, 16), int(SPAN, 16), 0xFF).endswith("-03")
    assert format_traceparent(int(TRACE, 16), int(SPAN, 16), 0x04).endswith("-00")


def test_oversized_values_are_refused_unread() -> None:
    assert parse_traceparent([VALID + "-" + "a" * MAX_LENGTH]) is None
    assert parse_traceparent(["x" * 100_000]) is None


@pytest.mark.parametrize("value", ["\x00" * 55, f"00-{TRACE}-{SPAN}-01\x00", "\r\n" + VALID])
def test_control_characters_are_invalid(value: str) -> None:
    assert parse_traceparent([value]) is None
