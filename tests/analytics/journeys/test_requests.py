"""Requests are checked before any query runs; every refusal names the field and what it
expected (the HTTP API returns the same text as its 400)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot_telemetry.analytics import journeys
from bot_telemetry.analytics.journeys import (
    FunnelRequest,
    PathsRequest,
    RequestError,
    RetentionRequest,
)
from bot_telemetry.analytics.journeys.requests import EventMatch, TimeRange
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine

NOW = 1_800_000_000_000_000_000


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({}, "steps", "expected a list of 1 to 20 steps, got none"),
        ({"steps": []}, "steps", "got none"),
        ({"steps": ["A"] * 21}, "steps", "at most 20 steps, got 21"),
        ({"steps": ["A"], "order": "sideways"}, "order", "ordered, strict, unordered"),
        ({"steps": ["A"], "window": "soon"}, "window", "a duration like 30s"),
        ({"steps": ["A"], "window": "0s"}, "window", "above 0"),
        ({"steps": ["A"], "window": "400d"}, "window", "at most 366d"),
        ({"steps": ["A"], "countBy": "team"}, "countBy", "user, conversation, session"),
        ({"steps": [""]}, "steps[0]", "an event name"),
        ({"steps": ["A*B"]}, "steps[0]", "may only end in *"),
        ({"steps": [{"where": {"k": "v"}}]}, "steps[0].event", "an event name"),
        ({"steps": [{"event": "A", "when": 1}]}, "steps[0].when", "unknown field"),
        ({"steps": [{"event": "A", "where": {"k": []}}]}, "steps[0].where.k", "non-empty"),
        ({"steps": [{"event": "A", "where": {"k": {"x": 1}}}]}, "steps[0].where.k", "strings"),
        ({"steps": [{"event": "A", "where": {"a'b": 1}}]}, "steps[0].where", "quotes"),
        ({"steps": ["A", "B"], "exclusions": {}}, "exclusions", "a list"),
        (
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "fromStep": 1, "toStep": 1}]},
            "exclusions[0].toStep",
            "after fromStep",
        ),
        (
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "fromStep": 0, "toStep": 5}]},
            "exclusions[0].toStep",
            "from 0 to 1",
        ),
        (
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "fromStep": -1}]},
            "exclusions[0].fromStep",
            "from 0 to 1",
        ),
        (
            {"steps": ["A", "B"], "exclusions": [{"event": "Y"}, {"event": "X", "toStep": 2}]},
            "exclusions[1].toStep",
            "from 0 to 1",
        ),
        (
            {"steps": ["A", "B"], "order": "unordered", "exclusions": [{"event": "X"}]},
            "exclusions",
            "unordered",
        ),
        ({"steps": ["A"], "startTime": "yesterday"}, "startTime", "ISO 8601"),
        (
            {"steps": ["A"], "startTime": "2026-11-02T00:00:00Z", "endTime": "2026-11-01"},
            "endTime",
            "after startTime",
        ),
        ({"steps": ["A"], "context": {"planet": ["mars"]}}, "context.planet", "channelId"),
        ({"steps": ["A"], "context": {"channelId": "web"}}, "context.channelId", "list"),
        ({"steps": ["A"], "breakdownLimit": 0}, "breakdownLimit", "from 1 to 1000"),
        ({"steps": ["A"], "slowReplySeconds": -1}, "slowReplySeconds", "above 0"),
        *(
            (
                {"steps": ["A"], "slowReplySeconds": seconds},
                "slowReplySeconds",
                "at most 31,622,400",
            )
            for seconds in (31_622_401, 1e300, float("inf"), float("nan"), 10**400)
        ),
        ({"steps": ["A"], "window": 1e300}, "window", "at most 366d"),
        ({"steps": ["A"], "window": float("nan")}, "window", "at most 366d"),
        ({"steps": ["A"], "window": 10**400}, "window", "at most 366d"),
        # less than a nanosecond: a window of 0 ns (steps at the same instant only) it was
        ({"steps": ["A"], "window": 1e-12}, "window", "above 0"),
        ({"steps": ["A"], "window": "0.0000000001s"}, "window", "above 0"),
        ({"steps": ["A"], "dropOff": "yes"}, "dropOff", "true or false"),
        ({"steps": ["A"], "colour": "red"}, "colour", "unknown field"),
        ([1, 2], "request body", "JSON object"),
    ],
)
def test_a_bad_funnel_is_refused_naming_the_field(body: Any, field: str, says: str) -> None:
    with pytest.raises(RequestError) as refused:
        FunnelRequest.parse(body, NOW)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{refused.value.field}: ")
    assert says in str(refused.value)


def test_the_issues_example_is_understood() -> None:
    request = FunnelRequest.parse(
        {
            "startTime": "2026-11-01T00:00:00Z",
            "endTime": None,
            "context": {"channelId": ["webchat"]},
            "steps": [
                {"event": "WaterfallStart", "where": {"DialogId": "booking"}},
                {"event": "WaterfallStep", "where": {"StepName": "ask_date"}},
                {"event": "WaterfallComplete", "where": {"DialogId": "booking"}},
            ],
            "order": "ordered",
            "window": "30m",
            "countBy": "conversation",
            "breakdown": "channelId",
            "exclusions": [{"event": "WaterfallCancel", "fromStep": 0, "toStep": 2}],
        },
        NOW,
    )
    assert request.range.start_ns == 1_793_491_200 * 10**9 and request.range.end_ns == NOW
    assert request.context == (("channel_id", ("webchat",)),)
    assert request.steps[1] == EventMatch("WaterfallStep", (("StepName", ("ask_date",)),))
    assert request.window_ns == 30 * 60 * 10**9
    assert request.exclusions[0].match.event == "WaterfallCancel"
    assert (request.exclusions[0].from_step, request.exclusions[0].to_step) == (0, 2)


def test_times_and_values() -> None:
    parsed = FunnelRequest.parse(
        {"steps": [{"event": "A", "where": {"n": [1, True, "x"]}}], "startTime": 1_700_000_000_000},
        NOW,
    )
    assert parsed.range.start_ns == 1_700_000_000_000 * 10**6
    assert parsed.steps[0].where == (("n", ("1", "true", "x")),)
    week_ago = FunnelRequest.parse({"steps": ["A"], "startTime": "7d"}, NOW)
    assert week_ago.range.start_ns == NOW - 7 * 86400 * 10**9
    assert EventMatch("LuisIntent.*").prefix == "LuisIntent."
    assert EventMatch("*").prefix == "" and EventMatch("A").prefix is None


PARSERS = {
    "funnel": lambda body: FunnelRequest.parse({"steps": ["A"], **body}, NOW),
    "paths": lambda body: PathsRequest.parse(body, NOW),
    "retention": lambda body: RetentionRequest.parse(body, NOW),
    # dialog funnels read startTime and endTime with TimeRange, as the others do
    "dialog funnels": lambda body: TimeRange.parse(body, NOW),
}
OUT_OF_RANGE: list[Any] = [
    "9999-12-31",
    "1900-01-01T00:00:00Z",
    "2262-04-11T23:47:16.854776Z",
    1e30,
    -5,
    -1e15,
    10**400,
    float("inf"),
    "9" * 30,  # epoch milliseconds as text
    "1000000d",  # a duration ago before 1970
    "9" * 400 + "d",
]


@pytest.mark.parametrize("analysis", sorted(PARSERS))
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=lambda value: repr(value)[:24])
@pytest.mark.parametrize("name", ["startTime", "endTime"])
def test_a_time_out_of_the_stores_range_is_refused_naming_it(
    analysis: str, value: Any, name: str
) -> None:
    """Times from 1970 to 2262-04-11, as the measures API takes (a later startTime was
    refused as "endTime: expected a time after startTime"; an earlier one was accepted)."""
    with pytest.raises(RequestError) as refused:
        PARSERS[analysis]({name: value})
    assert refused.value.field == name
    assert "from 1970-01-01 to 2262-04-11" in str(refused.value)


@pytest.mark.parametrize("analysis", sorted(PARSERS))
def test_the_range_s_ends_are_accepted(analysis: str) -> None:
    first, last = 0, "2262-04-11T23:47:16.854775Z"
    PARSERS[analysis]({"startTime": first, "endTime": last})
    PARSERS[analysis]({"startTime": "1970-01-01T00:00:00Z", "endTime": "9223372036854"})
    with pytest.raises(RequestError, match=r"^endTime: expected a time after startTime, got now"):
        PARSERS[analysis]({"startTime": "2262-01-01T00:00:00Z"})  # after now, the default end


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"startEvent": "A", "endEvent": "B"}, "endEvent"),
        ({"stepLimit": 1}, "stepLimit"),
        ({"stepLimit": 21}, "stepLimit"),
        ({"edgeLimit": 0}, "edgeLimit"),
        ({"groupings": ["LuisIntent"]}, "groupings[0]"),
        ({"include": "A"}, "include"),
        ({"countBy": "team"}, "countBy"),
    ],
)
def test_a_bad_paths_request_is_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as refused:
        PathsRequest.parse(body, NOW)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "year"}, "period"),
        ({"totalIntervals": 0}, "totalIntervals"),
        ({"cohortEvent": ""}, "cohortEvent"),
        ({"returningEvent": {"where": {}}}, "returningEvent.event"),
        # periods past the year 9999 or before year 1 were a 500 (datetime out of range)
        ({"startTime": "9999-12-31", "period": "day"}, "startTime"),
        (
            {
                "startTime": "9999-12-31",
                "endTime": "9999-12-31T12:00Z",
                "period": "month",
                "totalIntervals": 120,
            },
            "startTime",
        ),
        ({"startTime": -1e15}, "startTime"),
    ],
)
def test_a_bad_retention_request_is_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as refused:
        RetentionRequest.parse(body, NOW)
    assert refused.value.field == field


def test_tuples_are_lists_from_python() -> None:
    """A notebook builds its request in Python: a tuple where the JSON has a list is the same
    request (steps, alternatives, exclusions, context, include, exclude, groupings)."""
    as_lists: dict[str, Any] = {
        "steps": ["A", {"event": "B", "where": {"StepName": ["ask_day", "ask_size"]}}],
        "exclusions": [{"event": "X", "fromStep": 0, "toStep": 1}],
        "context": {"channelId": ["webchat"]},
    }
    as_tuples: dict[str, Any] = {
        "steps": ("A", {"event": "B", "where": {"StepName": ("ask_day", "ask_size")}}),
        "exclusions": ({"event": "X", "fromStep": 0, "toStep": 1},),
        "context": {"channelId": ("webchat",)},
    }
    assert FunnelRequest.parse(as_tuples, NOW) == FunnelRequest.parse(as_lists, NOW)
    paths = {"include": ["A", "B*"], "exclude": ["C"], "groupings": ["B*"]}
    assert PathsRequest.parse({k: tuple(v) for k, v in paths.items()}, NOW) == (
        PathsRequest.parse(paths, NOW)
    )


def test_steps_that_are_not_a_list_are_shown_as_given() -> None:
    # Not "got none": the reader gave something, and sees what.
    with pytest.raises(RequestError) as caught:
        FunnelRequest.parse({"steps": "LuisIntent.BookTable"}, NOW)
    assert str(caught.value) == (
        "steps: expected a list of 1 to 20 steps, got 'LuisIntent.BookTable'"
    )


def test_the_analytics_request_error_is_the_one_to_catch_for_journeys_too() -> None:
    """``bot_telemetry.analytics.RequestError`` (what ``query()`` raises) also catches a bad
    funnel, paths or retention request: a notebook catches one error for every analysis."""
    from bot_telemetry.analytics import RequestError as AnalyticsRequestError

    for parse, body in (
        (FunnelRequest.parse, {"steps": []}),
        (PathsRequest.parse, {"stepLimit": 1}),
        (RetentionRequest.parse, {"period": "fortnight"}),
    ):
        with pytest.raises(AnalyticsRequestError) as caught:
            parse(body, NOW)
        assert caught.value.as_json()["error"] == str(caught.value)
        assert caught.value.as_json()["field"] == caught.value.field


def test_a_datetime_is_a_time_from_python_as_in_the_measures_query() -> None:
    """``query(start_time=datetime(...))`` was taken and a funnel's ``startTime`` refused it
    ("expected an ISO 8601 time ..., got datetime.datetime(2026, 11, 1, 0, 0)"); a naive one
    is UTC in both."""
    from datetime import UTC, datetime

    iso = {"startTime": "2026-11-01T00:00:00Z", "endTime": "2026-11-08T12:30:00Z"}
    given = {
        "startTime": datetime(2026, 11, 1),
        "endTime": datetime(2026, 11, 8, 12, 30, tzinfo=UTC),
    }
    assert FunnelRequest.parse({"steps": ["A"], **given}, NOW) == (
        FunnelRequest.parse({"steps": ["A"], **iso}, NOW)
    )
    assert PathsRequest.parse(given, NOW) == PathsRequest.parse(iso, NOW)
    assert RetentionRequest.parse(given, NOW) == RetentionRequest.parse(iso, NOW)


def test_a_timedelta_is_a_window_from_python() -> None:
    """As a datetime is a time: ``timedelta(minutes=30)`` was refused ("window: expected a
    duration like 30m, 2h, 14d or a number of seconds, got datetime.timedelta(seconds=1800)")."""
    from datetime import timedelta

    given = FunnelRequest.parse({"steps": ["A"], "window": timedelta(minutes=30)}, NOW)
    assert given == FunnelRequest.parse({"steps": ["A"], "window": 1800}, NOW)
    two_weeks = FunnelRequest.parse({"steps": ["A"], "window": timedelta(days=14)}, NOW)
    assert two_weeks == FunnelRequest.parse({"steps": ["A"], "window": 1_209_600}, NOW)
    with pytest.raises(RequestError, match=r"^window: expected a duration above 0"):
        FunnelRequest.parse({"steps": ["A"], "window": timedelta(0)}, NOW)


@pytest.fixture(scope="module")
def empty_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    store = Store.open(tmp_path_factory.mktemp("python-arguments") / "telemetry.duckdb")
    yield DuckDBEngine(store)
    store.close()


@pytest.mark.parametrize(
    ("analysis", "arguments", "said"),
    [
        (journeys.funnel, {"steps": ["A"], "count_by": "x"}, "count_by: expected one of user"),
        (
            journeys.funnel,
            {"steps": ["A"], "start_time": "soon"},
            "start_time: expected an ISO 8601 time",
        ),
        (
            journeys.funnel,
            {"steps": ["A"], "start_time": "2200-01-01"},
            "end_time: expected a time after start_time, got now (the default)",
        ),
        (journeys.funnel, {"steps": ["A"], "breakdown_limit": 0}, "breakdown_limit: expected"),
        (journeys.funnel, {"steps": ["A"], "slow_reply_seconds": -1}, "slow_reply_seconds: "),
        (journeys.funnel, {"steps": ["A"], "drop_off": "yes"}, "drop_off: expected true or"),
        # What the caller typed inside a value is theirs: an exclusion's dict keeps its keys.
        (
            journeys.funnel,
            {"steps": ["A", "B"], "exclusions": [{"event": "X", "fromStep": 1, "toStep": 5}]},
            "exclusions[0].toStep: expected a whole number from 0 to 1",
        ),
        (
            journeys.paths,
            {"start_event": "A", "end_event": "B"},
            "end_event: give start_event or end_event, not both",
        ),
        (journeys.paths, {"step_limit": 1}, "step_limit: expected a whole number from 2"),
        (journeys.retention, {"total_intervals": 0}, "total_intervals: expected a whole number"),
        (journeys.retention, {"cohort_event": "A*B"}, "cohort_event: a pattern may only end in *"),
        (journeys.dialog_funnels, {"end_time": "soon"}, "end_time: expected an ISO 8601 time"),
    ],
)
def test_from_python_keyword_arguments_refusals_name_them_as_written(
    empty_engine: Engine, analysis: Callable[..., Any], arguments: dict[str, Any], said: str
) -> None:
    """Python's ``count_by="x"`` was refused as "countBy: ...", a name the caller never typed."""
    with pytest.raises(RequestError) as refused:
        analysis(empty_engine, **arguments)
    assert str(refused.value).startswith(said), str(refused.value)
    assert refused.value.field == said.partition(":")[0]


def test_keyword_arguments_ask_what_the_json_body_asks(empty_engine: Engine) -> None:
    body = {
        "steps": ["A", "B"],
        "countBy": "user",
        "window": "1h30m",
        "breakdown": "channelId",
        "startTime": "2026-11-01T00:00:00Z",
        "endTime": "2026-11-08T00:00:00Z",
    }
    asked = journeys.funnel(
        empty_engine,
        steps=["A", "B"],
        count_by="user",
        window="1h30m",
        breakdown="channelId",
        start_time="2026-11-01T00:00:00Z",
        end_time="2026-11-08T00:00:00Z",
    )
    assert asked == journeys.funnel(empty_engine, body)
    assert (asked["countBy"], asked["window"], asked["breakdown"]) == ("user", "1h30m", "channelId")
    assert asked["startTime"].startswith("2026-11-01T00:00:00")
    # The JSON body keeps its JSON names, as the HTTP API says them.
    with pytest.raises(RequestError, match=r"^countBy: expected one of"):
        journeys.funnel(empty_engine, {"steps": ["A"], "countBy": "x"})


def test_an_unknown_keyword_argument_is_a_type_error_naming_the_arguments(
    empty_engine: Engine,
) -> None:
    with pytest.raises(TypeError) as refused:
        journeys.funnel(empty_engine, steps=["A"], breakDown="channelId")
    assert str(refused.value).startswith(
        "funnel() got an unexpected keyword argument 'breakDown' (did you mean breakdown?); "
        "it takes start_time, end_time, context, steps, order, window, count_by, breakdown,"
    )
    with pytest.raises(TypeError, match="not both"):
        journeys.retention(empty_engine, {"period": "day"}, period="week")
