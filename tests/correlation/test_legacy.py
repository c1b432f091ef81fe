"""Application Insights' legacy Request-Id, accepted inbound."""

from __future__ import annotations

import pytest

from bot_telemetry.correlation.legacy import parse_request_id
from bot_telemetry.correlation.traceparent import SAMPLED

ROOT = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_32_hex_root_becomes_the_trace_id() -> None:
    parent = parse_request_id(f"|{ROOT}.1.")
    assert parent is not None
    assert parent.trace_id == int(ROOT, 16)
    assert parent.flags == SAMPLED


def test_a_16_hex_first_part_becomes_the_parent_span_id() -> None:
    parent = parse_request_id(f"|{ROOT}.00f067aa0ba902b7.")
    assert parent is not None and parent.span_id == 0x00F067AA0BA902B7


def test_other_parts_give_a_stable_parent_span_id() -> None:
    first = parse_request_id(f"|{ROOT}.1.2.")
    again = parse_request_id(f"|{ROOT}.1.2.")
    other = parse_request_id(f"|{ROOT}.1.3.")
    assert first is not None and again is not None and other is not None
    assert first.span_id == again.span_id != 0
    assert first.span_id != other.span_id


def test_an_uppercase_root_is_accepted() -> None:
    parent = parse_request_id(f"|{ROOT.upper()}.1.")
    assert parent is not None and parent.trace_id == int(ROOT, 16)


@pytest.mark.parametrize(
    "value",
    [
        "|abc.1.",  # root is not a trace id
        f"{ROOT}.1.",  # no leading "|"
        f"|{ROOT[:-1]}.1.",
        f"|{ROOT}0.1.",
        f"|{'0' * 32}.1.",
        f"|{ROOT}.1.|x",
        "|" + ROOT + "." + "1" * 2000,
        "",
    ],
)
def test_other_ids_are_ignored(value: str) -> None:
    assert parse_request_id(value) is None
