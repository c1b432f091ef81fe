"""Finding header fields in aiohttp multidicts and plain dicts."""

from __future__ import annotations

from multidict import CIMultiDict

from bot_telemetry.correlation.headers import header_getter, header_values


def test_repeated_fields_in_a_multidict_stay_separate() -> None:
    carrier = CIMultiDict([("TraceState", "a=1"), ("tracestate", "b=2")])
    assert header_values(carrier, "tracestate") == ["a=1", "b=2"]


def test_dict_keys_match_in_any_case() -> None:
    assert header_getter.get({"TRACEPARENT": "x", "other": "y"}, "traceparent") == ["x"]


def test_list_values_in_a_dict_are_fields() -> None:
    assert header_values({"baggage": ["a=1", "b=2"]}, "baggage") == ["a=1", "b=2"]


def test_missing_or_unusable_carriers_give_nothing() -> None:
    assert header_getter.get({}, "traceparent") is None
    assert header_values(None, "traceparent") == []
    assert header_values("not a mapping", "traceparent") == []
    assert header_values({"traceparent": 42}, "traceparent") == []
