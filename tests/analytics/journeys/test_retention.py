"""Retention on users whose comings and goings are known; the same on DuckDB and ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry.analytics.journeys import RetentionRequest, retention
from bot_telemetry.analytics.journeys.retention import period_bounds
from bot_telemetry.analytics.traces import iso
from bot_telemetry.store.engine import Engine
from tests.support.journeys import T0, Stream, journey_engines

DAY = 86400


def build() -> Stream:
    s = Stream()
    visits = {
        "u1": [0, 1, 3],
        "u2": [0],
        "u3": [1, 2],
        "u4": [-2, 1],  # first came before the cohorts begin
        "u5": [5],  # first came after they end
    }
    for user, days in visits.items():
        for day in days:
            s.event(f"{user}-{day}", day * DAY + 3600, "BotMessageReceived", user=user)
    s.event("u1-1", 1 * DAY + 3700, "Booked")
    s.event("u1-3", 3 * DAY + 3700, "Booked")
    return s


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    with journey_engines(build(), tmp_path_factory.mktemp("ret"), "retention_cases") as found:
        yield found


def run(engines: tuple[Engine, Engine], **body: Any) -> dict[str, Any]:
    request = {"startTime": iso(T0), "endTime": "2026-11-30T00:00:00Z", **body}
    duckdb, clickhouse = engines
    found = retention(duckdb, request)
    assert retention(clickhouse, request) == found
    return dict(found)


def test_cohorts_by_first_conversation(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, period="day", totalIntervals=4)
    table = [(c["cohortStart"][:10], c["size"], c["values"]) for c in result["cohorts"]]
    assert table == [
        ("2026-11-02", 2, [2, 1, 0, 1]),
        ("2026-11-03", 1, [1, 1, 0]),
        ("2026-11-04", 0, [0, 0]),
        ("2026-11-05", 0, [0]),
    ]
    assert result["cohorts"][0]["rates"] == [1.0, 0.5, 0.0, 0.5]
    assert result["cohorts"][2]["rates"] == [None, None]


def test_a_cohort_and_returning_event(engines: tuple[Engine, Engine]) -> None:
    result = run(
        engines, period="day", totalIntervals=4, cohortEvent="Booked", returningEvent="Booked"
    )
    assert [c["size"] for c in result["cohorts"]] == [0, 1, 0, 0]
    assert result["cohorts"][1]["values"] == [1, 0, 1]


def test_intervals_not_begun_are_none(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, period="day", totalIntervals=4, endTime=iso(T0 + int(2.5 * DAY * 1e9)))
    assert result["cohorts"][0]["values"] == [2, 1, 0, None]


def test_weeks_and_months() -> None:
    week = RetentionRequest.parse(
        {"endTime": "2026-11-20T10:00:00Z", "period": "week", "totalIntervals": 3}
    )
    assert [iso(b)[:10] for b in period_bounds(week)] == [
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
        "2026-11-23",
    ]
    month = RetentionRequest.parse(
        {"startTime": "2026-11-15T00:00:00Z", "period": "month", "totalIntervals": 3}
    )
    assert [iso(b)[:10] for b in period_bounds(month)] == [
        "2026-11-01",
        "2026-12-01",
        "2027-01-01",
        "2027-02-01",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the months up to December 1st: October and November, not November and December
        (
            {"endTime": "2026-12-01T00:00:00Z", "period": "month", "totalIntervals": 2},
            ["2026-10-01", "2026-11-01", "2026-12-01"],
        ),
        (
            {"endTime": "2026-11-09T00:00:00Z", "period": "week", "totalIntervals": 2},
            ["2026-10-26", "2026-11-02", "2026-11-09"],
        ),
    ],
)
def test_periods_from_a_time_on_a_boundary(body: dict[str, Any], expected: list[str]) -> None:
    """The periods are found from the times in whole nanoseconds: a float of the seconds
    rounded endTime - 1 ns up to the boundary itself, so the last period asked for began at
    endTime and had no cohort."""
    assert [iso(b)[:10] for b in period_bounds(RetentionRequest.parse(body))] == expected


def test_the_last_months_up_to_a_boundary(engines: tuple[Engine, Engine]) -> None:
    result = run(
        engines, startTime=None, endTime="2026-12-01T00:00:00Z", period="month", totalIntervals=2
    )
    # Every user's first visit is in November but u4's (October 31st).
    assert [(c["cohortStart"][:10], c["size"], c["values"]) for c in result["cohorts"]] == [
        ("2026-10-01", 1, [1, 1]),
        ("2026-11-01", 4, [4]),
    ]


def test_weekly_retention(engines: tuple[Engine, Engine]) -> None:
    result = run(engines, period="week", totalIntervals=2)
    # u5's first visit (Saturday) is in the first week too; u4's was the week before.
    assert [(c["size"], c["values"]) for c in result["cohorts"]] == [(4, [4, 0]), (0, [0])]


@pytest.mark.parametrize(
    "body",
    [
        # periods up to 120 months past startTime, beyond the last time the store holds
        {"startTime": "2262-01-01T00:00:00Z", "period": "month", "totalIntervals": 120},
        {"startTime": "2262-04-11T00:00:00Z", "period": "day", "totalIntervals": 120},
        # periods back from endTime, before 1970
        {"startTime": None, "endTime": "1970-02-01T00:00:00Z", "period": "month"},
    ],
)
def test_the_ends_of_the_time_range_are_answered(
    engines: tuple[Engine, Engine], body: dict[str, Any]
) -> None:
    """Any startTime and endTime accepted (1970 to 2262-04-11) is answered, alike on both
    engines (past it, a 500: the periods' dates were out of Python's range)."""
    found = run(engines, **{"endTime": "2262-04-11T23:47:16.854775Z", **body})
    assert len(found["periods"]) == found["totalIntervals"]
    # A cohort for every period begun by endTime, none after it.
    begun = [start for start in found["periods"] if start < found["endTime"]]
    assert [cohort["cohortStart"] for cohort in found["cohorts"]] == begun
    assert [cohort["size"] for cohort in found["cohorts"]] == [0] * len(begun)
