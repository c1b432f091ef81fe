"""The request: every field checked, every refusal naming the field and what was expected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.analytics.measures import (
    MEASURES,
    MeasureSpec,
    RequestError,
    parse_request,
    query,
)
from bot_telemetry.analytics.measures.context import DIMENSIONS
from bot_telemetry.analytics.measures.request import parse_time
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine

NOW = 1_790_000_000_000_000_000  # 2026-09-21, nanoseconds


def body(**changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "startTime": "2026-09-20T00:00:00Z",
        "endTime": None,
        "measures": [{"measureType": "activeUsers"}],
    }
    found.update(changes)
    return found


def refused(request: Any) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_request(request, now_ns=NOW)
    return caught.value


def test_the_issue_example_is_accepted() -> None:
    request = parse_request(
        {
            "startTime": "2026-09-01T00:00:00Z",
            "endTime": None,
            "context": {"channelId": ["msteams"], "dialogId": ["booking"]},
            "measures": [
                {"measureType": "activeUsers", "timeGranularity": ["hour", "day"]},
                {
                    "measureType": "intents",
                    "params": {"minScore": 0.5},
                    "page": 0,
                    "pageSize": 50,
                    "sortDirection": "descending",
                },
            ],
        },
        now_ns=NOW,
    )
    assert request.end_ns == NOW
    assert request.context == {"channelId": ("msteams",), "dialogId": ("booking",)}
    first, second = request.measures
    assert first.time_granularity == ("hour", "day")
    assert second.time_granularity == ("hour",)  # the default
    assert (second.params, second.page_size, second.sort_direction) == (
        {"minScore": 0.5},
        50,
        "descending",
    )


def test_times_in_iso_8601_or_epoch_milliseconds() -> None:
    assert parse_time("2026-09-20T00:00:00Z", "startTime") == 1_789_862_400_000_000_000
    assert parse_time("2026-09-20T02:00:00+02:00", "startTime") == 1_789_862_400_000_000_000
    assert parse_time("2026-09-20T00:00:00", "startTime") == 1_789_862_400_000_000_000  # UTC
    assert parse_time(1_789_862_400_000, "startTime") == 1_789_862_400_000_000_000
    assert parse_time(1_789_862_400_000.5, "startTime") == 1_789_862_400_000_500_000


@pytest.mark.parametrize(
    "start", ["7d", "7 days", "-7d", "7d ago", "P7D", "168h", timedelta(days=7)]
)
def test_a_start_time_may_be_a_duration_ago(start: object) -> None:
    """``query(start_time="7d")`` was refused ("expected an ISO 8601 time ... or epoch
    milliseconds"), where the journeys and the CLI took it."""
    request = parse_request(body(startTime=start), now_ns=NOW)
    assert (request.start_ns, request.end_ns) == (NOW - 7 * 86400 * 10**9, NOW)


def test_query_takes_a_duration_ago_from_python(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "telemetry.duckdb")
    try:
        (result,) = query(
            DuckDBEngine(store),
            start_time="7 days",
            end_time="now",
            measures=[{"measureType": "turns", "timeGranularity": ["day"]}],
        )
        assert len(result.response) in (7, 8)  # days the last 7 days touch
        with pytest.raises(RequestError) as caught:
            query(DuckDBEngine(store), start_time="7 dayz", measures=["turns"])
        assert (
            "expected an ISO 8601 time (2026-11-01T00:00:00Z), epoch milliseconds or a "
            "duration ago (7d)" in str(caught.value)
        )
        assert str(caught.value).endswith("found '7 dayz'")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("request_body", "field", "expected"),
    [
        ({"measures": [{"measureType": "turns"}]}, "startTime", "ISO 8601"),
        (body(startTime=None), "startTime", "ISO 8601"),
        (body(startTime="yesterday"), "startTime", "ISO 8601"),
        (body(startTime=True), "startTime", "ISO 8601"),
        (body(startTime=-5), "startTime", "from 1970"),
        (body(startTime="9999-12-31"), "startTime", "from 1970-01-01 to 2262-04-11"),
        (body(startTime=1e30), "startTime", "from 1970-01-01 to 2262-04-11"),
        (body(startTime=float("inf")), "startTime", "from 1970-01-01 to 2262-04-11"),
        (body(startTime=10**400), "startTime", "from 1970-01-01 to 2262-04-11"),
        (body(endTime="9999-12-31"), "endTime", "from 1970-01-01 to 2262-04-11"),
        (body(endTime="2026-09-19T00:00:00Z"), "endTime", "after startTime"),
        (body(endTime="2026-09-20T00:00:00Z"), "endTime", "after startTime"),
        (body(startTime="2026-09-22T00:00:00Z"), "endTime", "after startTime"),  # after now
        (body(context={"channelId": "msteams"}), "context.channelId", "a non-empty list"),
        (body(context={"channelId": []}), "context.channelId", "a non-empty list"),
        (body(context={"channelId": ["a", 3]}), "context.channelId[1]", "a string"),
        (body(context=["msteams"]), "context", "an object"),
        (body(context={"projectId": ["p"]}), "context.projectId", "channelId, conversationId"),
        (body(measures=[]), "measures", "a non-empty list"),
        (body(measures="activeUsers"), "measures", "a non-empty list"),
        (body(measures=["activeUsers"]), "measures[0]", "an object"),
        (body(measures=[{"measureType": "users"}]), "measures[0].measureType", "activeUsers"),
        (body(measures=[{}]), "measures[0].measureType", "one of activeUsers"),
        (
            body(measures=[{"measureType": "turns", "timeGranularity": "day"}]),
            "measures[0].timeGranularity",
            "a non-empty list of second, minute, hour, day, week, month",
        ),
        (
            body(measures=[{"measureType": "turns", "timeGranularity": ["day", "year"]}]),
            "measures[0].timeGranularity[1]",
            "one of second",
        ),
        (
            body(measures=[{"measureType": "turns", "timeGranularity": ["second"]}]),
            "measures[0].timeGranularity[0]",
            "at most 10,000 buckets",
        ),
        (
            body(measures=[{"measureType": "turns", "sortDirection": "up"}]),
            "measures[0].sortDirection",
            "ascending or descending",
        ),
        (
            body(measures=[{"measureType": "turns", "pageSize": 0}]),
            "measures[0].pageSize",
            "a whole number from 1 to 10,000",
        ),
        (
            body(measures=[{"measureType": "turns", "page": -1}]),
            "measures[0].page",
            "a whole number",
        ),
        (
            body(measures=[{"measureType": "turns", "params": {"minScore": 0.5}}]),
            "measures[0].params.minScore",
            "no parameters",
        ),
        (
            body(measures=[{"measureType": "intents", "params": {"minScore": 2}}]),
            "measures[0].params.minScore",
            "a number from 0 to 1",
        ),
        (
            body(measures=[{"measureType": "intents", "params": {"min": 0.2}}]),
            "measures[0].params.min",
            "one of minScore",
        ),
        (
            body(measures=[{"measureType": "sessions", "params": {"gapSeconds": 1.5}}]),
            "measures[0].params.gapSeconds",
            "a whole number",
        ),
        # Each number of seconds is at most 366 days: more overflowed the engines' 64-bit
        # nanoseconds (a 500 "store query failed").
        *(
            (
                body(measures=[{"measureType": measure, "params": {name: value}}]),
                f"measures[0].params.{name}",
                "a whole number from 1 to 31,622,400",
            )
            for measure, name in (
                ("sessions", "gapSeconds"),
                ("dialogOutcomes", "abandonmentSeconds"),
            )
            for value in (31_622_401, 10**10, 10**12, 1e30, 1e300, 10**400)
        ),
        (
            body(measures=[{"measureType": "turns", "granularity": ["day"]}]),
            "measures[0].granularity",
            "timeGranularity",
        ),
        (body(start="2026-09-20T00:00:00Z"), "start", "startTime"),
        ("not an object", "body", "a JSON object"),
    ],
)
def test_refusals_name_the_field(request_body: Any, field: str, expected: str) -> None:
    error = refused(request_body)
    assert error.field == field
    assert expected in error.expected, error.expected
    assert str(error).startswith(f"{field}: expected ")
    assert error.as_json() == {"error": str(error), "field": field, "expected": error.expected}


def test_a_dimension_no_measure_takes_is_refused_naming_both() -> None:
    error = refused(
        body(
            context={"locale": ["en-US"]},
            measures=[{"measureType": "clientEvents"}, {"measureType": "feedback"}],
        )
    )
    assert error.field == "context.locale"
    assert error.expected == (
        "one of the dimensions clientEvents takes: conversationId, userId, serviceName"
    )
    assert "locale does not apply to client events" in str(error)


def test_a_dimension_only_some_measures_take_narrows_those_and_refuses_the_others() -> None:
    request = parse_request(
        body(
            context={"locale": ["en-US"]},
            measures=[{"measureType": "turns"}, {"measureType": "clientEvents"}],
        )
    )
    turns, client = request.measures
    assert turns.refused is None
    assert client.refused is not None and client.refused.field == "context.locale"
    assert client.refused.expected == (
        "one of the dimensions clientEvents takes: conversationId, userId, serviceName"
    )


def test_every_measure_takes_some_dimensions_and_the_bot_side_ones_take_all() -> None:
    for name, measure in MEASURES.items():
        if name in ("clientEvents", "feedback"):
            assert measure.dimensions == ("conversationId", "userId", "serviceName")
        else:
            assert measure.dimensions == DIMENSIONS, name


def test_times_from_1970_to_2262_are_accepted() -> None:
    """The range the refusals name, both ends included (microseconds: ISO text's finest)."""
    assert parse_time(0, "startTime") == 0
    assert parse_time("1970-01-01T00:00:00Z", "startTime") == 0
    last = "2262-04-11T23:47:16.854775Z"
    assert parse_time(last, "endTime") == 9_223_372_036_854_775_000
    for past_the_end in ("2262-04-11T23:47:16.854776Z", 9_223_372_036_855):
        with pytest.raises(RequestError):
            parse_time(past_the_end, "endTime")


def test_every_parameter_has_an_upper_bound() -> None:
    """A number without a bound reaches the engines (seconds times 10^9 overflowing)."""
    for measure in MEASURES.values():
        for param in measure.params:
            assert param.maximum is not None, (measure.name, param.name)
            largest = {"measureType": measure.name, "params": {param.name: param.maximum}}
            parse_request(body(measures=[largest]), now_ns=NOW)


def test_ten_thousand_buckets_are_allowed_one_more_is_not() -> None:
    start = "2026-09-20T00:00:00Z"
    exactly = body(startTime=start, endTime="2026-09-20T02:46:40Z")  # 10,000 seconds
    exactly["measures"] = [{"measureType": "turns", "timeGranularity": ["second"]}]
    parse_request(exactly, now_ns=NOW)
    one_more = dict(exactly, endTime="2026-09-20T02:46:41Z")
    error = refused(one_more)
    assert "second gives 10,001" in str(error)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        # A str is a Sequence[str]: taken letter by letter, 'msteams' was the channels m, s,
        # t, e, a and every bucket came back 0, with no error.
        (
            {"context": {"channelId": "msteams"}},
            "context.channelId: expected a non-empty list of strings, found 'msteams'",
        ),
        # ... and a MeasureSpec's granularity 'day' the granularity 'd'.
        (
            {"measures": [MeasureSpec("turns", time_granularity="day")]},  # type: ignore[arg-type]
            "measures[0].time_granularity: expected a non-empty list of second, minute, hour, "
            "day, week, month, found 'day'",
        ),
        # ... and 'activeUsers' was the measure 'a', refused as not a measure.
        (
            {"measures": "activeUsers"},
            'measures: expected a non-empty list like [{"measureType": "activeUsers"}], '
            "found 'activeUsers'",
        ),
    ],
)
def test_query_refuses_one_string_where_a_list_is_expected(
    tmp_path: Path, arguments: dict[str, Any], error: str
) -> None:
    store = Store.open(tmp_path / "telemetry.duckdb")
    try:
        given: dict[str, Any] = {"measures": ["activeUsers"], **arguments}
        with pytest.raises(RequestError) as caught:
            query(DuckDBEngine(store), start_time="2026-11-01T00:00:00Z", **given)
        assert str(caught.value) == error
        assert caught.value.field == error.partition(":")[0]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"start_time": "soon"}, "start_time: expected an ISO 8601 time"),
        ({"start_time": "2200-01-01"}, "end_time: expected a time after start_time, found"),
        ({"end_time": "yesterday"}, "end_time: expected an ISO 8601 time"),
        (
            {"measures": [MeasureSpec("turns", time_granularity=("year",))]},
            "measures[0].time_granularity[0]: expected one of second",
        ),
        ({"measures": ["turns", MeasureSpec("turns", page_size=0)]}, "measures[1].page_size: "),
        (
            {"measures": [MeasureSpec("turns", sort_direction="up")]},
            "measures[0].sort_direction: expected ascending or descending",
        ),
        # A measure given by its name: the name is wrong, not a measureType the caller never wrote.
        ({"measures": ["activeUsers", "users"]}, "measures[1]: expected one of activeUsers"),
        # What the caller wrote as a dict keeps its keys, as the HTTP API names them.
        (
            {"measures": [{"measureType": "turns", "timeGranularity": ["year"]}]},
            "measures[0].timeGranularity[0]: expected one of second",
        ),
        ({"context": {"channel": ["x"]}}, "context.channel: expected one of channelId"),
    ],
)
def test_query_refusals_name_the_arguments_as_written(
    tmp_path: Path, arguments: dict[str, Any], said: str
) -> None:
    """``query(start_time="soon")`` was refused as "startTime: ...", a JSON name the Python
    caller never typed; the HTTP API's 400s keep the JSON names (tests/web/test_measures.py)."""
    store = Store.open(tmp_path / "telemetry.duckdb")
    try:
        given = {"start_time": "2026-09-20T00:00:00Z", "measures": ["turns"], **arguments}
        with pytest.raises(RequestError) as caught:
            query(DuckDBEngine(store), **given)
        assert str(caught.value).startswith(said), str(caught.value)
        assert caught.value.field == said.partition(":")[0]
        assert caught.value.as_json()["error"] == str(caught.value)
    finally:
        store.close()
