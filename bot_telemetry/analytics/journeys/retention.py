"""Retention: of the users who first came in a period (their cohort), how many came back in
each period after (docs/journeys.md).

    retention(engine, {"startTime": "2026-11-02T00:00:00Z", "period": "week",
                       "totalIntervals": 8})

A user's cohort is the period of their first conversation ever (or of their first
``cohortEvent``), among ``totalIntervals`` periods from the one holding ``startTime`` (without
it: the periods up to the one holding ``endTime``), when that first time is in [startTime,
endTime): a 15-minute window holds only the users who first came in those 15 minutes, not
everyone of the week around them. Periods starting at or after ``endTime`` have no cohort.
They count as back in a later period when they had a conversation (or a ``returningEvent``)
in it before ``endTime``. Events of turns that are not the user's doing (``turns.by_user``:
proactive turns, where the bot wrote unasked, and those the channel sent on its own, such as
Web Chat opening a conversation) count for neither. Periods are UTC days, weeks from Monday,
and calendar months; interval 0 is the cohort's own period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from ...store.engine import Engine
from ..traces import iso
from .matching import (
    NOT_BY_USER_EVENT,
    Params,
    context_condition,
    event_condition,
    with_clause,
)
from .requests import EventMatch, Period, RetentionRequest, request_of


class Cohort(TypedDict):
    cohortStart: str
    size: int
    #: Users back in each interval from 0 (None: the interval has not begun by endTime).
    values: list[int | None]
    rates: list[float | None]
    #: Whether each interval was over by endTime: one that is not counts only who came so far.
    complete: list[bool]


class RetentionResult(TypedDict):
    period: str
    totalIntervals: int
    cohortEvent: str
    returningEvent: str
    startTime: str
    endTime: str
    periods: list[str]
    cohorts: list[Cohort]


def retention(
    engine: Engine, request: RetentionRequest | Mapping[str, Any] | None = None, **arguments: Any
) -> RetentionResult:
    """The cohort table ``request`` describes (a RetentionRequest or its JSON body), or the
    keyword arguments do (``period="week", total_intervals=4``)."""
    parsed = request_of(RetentionRequest, request, arguments, "retention")
    bounds = period_bounds(parsed)
    sql, values = retention_sql(parsed, bounds)
    rows = engine.query(sql, values).rows
    return _shape(parsed, bounds, rows)


def _period_start(moment: datetime, period: Period) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(moment: datetime, period: Period, count: int = 1) -> datetime:
    if period == "day":
        return moment + timedelta(days=count)
    if period == "week":
        return moment + timedelta(weeks=count)
    months = moment.year * 12 + moment.month - 1 + count
    return moment.replace(year=months // 12, month=months % 12 + 1)


def period_bounds(request: RetentionRequest) -> list[int]:
    """The ``totalIntervals + 1`` boundaries of the periods, in nanoseconds."""
    n = request.total_intervals
    # Whole seconds, floored: a float of the seconds rounds endTime - 1 ns up to endTime,
    # and an endTime on a boundary then gave the period starting at it (no cohort).
    if request.start_given:
        anchor = datetime.fromtimestamp(request.range.start_ns // 10**9, tz=UTC)
        first = _period_start(anchor, request.period)
    else:
        anchor = datetime.fromtimestamp((request.range.end_ns - 1) // 10**9, tz=UTC)
        first = _next(_period_start(anchor, request.period), request.period, -(n - 1))
    return [int(_next(first, request.period, i).timestamp()) * 10**9 for i in range(n + 1)]


def _which_period(column: str, bounds: list[int], params: Params) -> str:
    """The period ``column`` falls in: 0 to totalIntervals - 1, NULL outside them."""
    names = [params.add(bound, f"bound{i}") for i, bound in enumerate(bounds)]
    arms = " ".join(f"WHEN {column} < {name} THEN {i - 1}" for i, name in enumerate(names) if i)
    return f"CASE WHEN {column} < {names[0]} THEN NULL {arms} END"


def retention_sql(request: RetentionRequest, bounds: list[int]) -> tuple[str, dict[str, Any]]:
    """One pass over the events: per user and period, the first cohort event and whether they
    came back; the cohorts and the table from that."""
    params = Params()
    # The window bounds who is new in it, not only the periods it touches.
    since = max(bounds[0], request.range.start_ns) if request.start_given else bounds[0]
    first = params.add(since, "first")
    last = params.add(min(bounds[-1], request.range.end_ns), "last")
    end = params.add(request.range.end_ns, "end")
    context = context_condition(request.context, params)
    cohort = (
        event_condition(request.cohort, params)
        if request.cohort is not None
        else "conversation_id IS NOT NULL"
    )
    returning = (
        event_condition(request.returning, params)
        if request.returning is not None
        else "conversation_id IS NOT NULL"
    )
    period = _which_period("time_ns", bounds, params)
    ctes = [
        f"""per_period AS (
    SELECT user_id, {period} AS period_index,
        min(CASE WHEN {cohort} THEN time_ns END) AS first_in,
        max(CASE WHEN {returning} THEN 1 ELSE 0 END) AS active
    FROM events WHERE time_ns < {end} AND {context} AND NOT {NOT_BY_USER_EVENT}
    GROUP BY user_id, period_index
)""",
        f"""cohorts AS (
    SELECT user_id, {_which_period("first_ns", bounds, params)} AS cohort FROM (
        SELECT user_id, min(first_in) AS first_ns FROM per_period GROUP BY user_id) u
    -- (Events with no user are dropped here, not before: filtering on user_id first would
    -- read it twice on DuckDB.)
    WHERE user_id IS NOT NULL AND first_ns >= {first} AND first_ns < {last}
)""",
    ]
    query = """SELECT c.cohort, coalesce(a.period_index - c.cohort, -1) AS interval_index,
    count(DISTINCT c.user_id) AS users
FROM cohorts c LEFT JOIN (
    SELECT user_id, period_index FROM per_period
    WHERE active = 1 AND period_index IS NOT NULL) a
    ON a.user_id = c.user_id AND a.period_index >= c.cohort
GROUP BY GROUPING SETS ((c.cohort, interval_index), (c.cohort))"""
    return with_clause(ctes, query) + "\n" + query, params.values


def _label(request: Mapping[str, Any] | EventMatch | None, default: str) -> str:
    return default if request is None else request.label()  # type: ignore[union-attr]


def _shape(
    request: RetentionRequest, bounds: list[int], rows: list[tuple[Any, ...]]
) -> RetentionResult:
    n = request.total_intervals
    sizes: dict[int, int] = {}
    back: dict[tuple[int, int], int] = {}
    for cohort, interval, users in rows:
        if interval is None:
            sizes[int(cohort)] = int(users)
        elif int(interval) >= 0:
            back[(int(cohort), int(interval))] = int(users)
    end = request.range.end_ns
    cohorts = []
    # A period starting at or after endTime has had no one come yet: no cohort, not an empty one.
    for i in (i for i in range(n) if bounds[i] < end):
        size = sizes.get(i, 0)
        values: list[int | None] = []
        rates: list[float | None] = []
        for j in range(n - i):
            value = back.get((i, j), 0) if bounds[i + j] < end else None
            values.append(value)
            rates.append(None if value is None or not size else round(value / size, 6))
        complete = [bounds[i + j + 1] <= end for j in range(n - i)]
        cohorts.append(
            Cohort(
                cohortStart=iso(bounds[i]),
                size=size,
                values=values,
                rates=rates,
                complete=complete,
            )
        )
    return RetentionResult(
        period=request.period,
        totalIntervals=n,
        cohortEvent=_label(request.cohort, "first conversation"),
        returningEvent=_label(request.returning, "any conversation"),
        startTime=iso(bounds[0]),
        endTime=iso(min(bounds[-1], request.range.end_ns)),
        periods=[iso(bound) for bound in bounds[:-1]],
        cohorts=cohorts,
    )
