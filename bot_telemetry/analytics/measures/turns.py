"""Turns: turns, turnLatency, failedTurns, exceptions.

A **turn** is one ``bot.turn`` span; its latency is the span's duration; it **failed** when
the span's own status is ERROR (an exception escaped the bot's logic).
"""

from __future__ import annotations

from typing import Any

from ... import contract
from .context import SPAN_EVENTS, TURNS
from .definition import (
    COUNT,
    MILLISECONDS,
    RATIO,
    Measure,
    Sql,
    Value,
    latency_quantiles,
    ratio,
    register,
)


def _turns(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket, count(*) AS turns
FROM turns WHERE {q.window("start_ns")} {q.filters} GROUP BY bucket"""


TURN_COUNT = register(
    Measure(
        "turns",
        "Turns (bot.turn spans) that started in the bucket, of any activity type.",
        TURNS,
        values=(Value("turns", COUNT, "turns"),),
        sql=_turns,
    )
)


def _latency(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket, count(*) AS turns,
       quantile_cont(duration_ns, [0.5, 0.95, 0.99]) AS latency
FROM turns WHERE {q.window("start_ns")} {q.filters} GROUP BY bucket"""


TURN_LATENCY = register(
    Measure(
        "turnLatency",
        "How long turns took (the bot.turn span's duration): the 50th, 95th and 99th "
        "percentiles (exact, interpolated) of the turns that started in the bucket.",
        TURNS,
        values=(
            Value("p50Ms", MILLISECONDS, "median"),
            Value("p95Ms", MILLISECONDS, "95th percentile"),
            Value("p99Ms", MILLISECONDS, "99th percentile"),
            Value("turns", COUNT, "turns"),
        ),
        sql=_latency,
        finish=latency_quantiles("turns"),
    )
)


def _failed(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket, count(*) AS turns,
       count(*) FILTER (WHERE failed) AS failed_turns
FROM turns WHERE {q.window("start_ns")} {q.filters} GROUP BY bucket"""


def _failed_rate(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "failed": raw["failed_turns"],
        "turns": raw["turns"],
        "rate": ratio(raw["failed_turns"], raw["turns"]),
    }


FAILED_TURNS = register(
    Measure(
        "failedTurns",
        "Turns whose span ended in ERROR (an exception escaped the bot's logic), and their "
        "share of all turns. A dependency that failed while the bot answered anyway does not "
        "fail the turn.",
        TURNS,
        values=(
            Value("failed", COUNT, "failed turns"),
            Value("turns", COUNT, "all turns"),
            Value("rate", RATIO, "failed / turns"),
        ),
        sql=_failed,
        finish=_failed_rate,
        charted=("failed",),
    )
)


def _exceptions(q: Sql) -> str:
    return f"""SELECT {q.bucket("time_ns")} AS bucket,
       coalesce(attr(attributes, 'exception.type'), 'unknown') AS exceptionType,
       count(*) AS exceptions
FROM span_events
WHERE name = '{contract.EXCEPTION_EVENT}' AND {q.window("time_ns")} {q.filters}
GROUP BY bucket, exceptionType"""


EXCEPTIONS = register(
    Measure(
        "exceptions",
        "Exceptions recorded on spans (span events named exception: a failed turn's, a "
        "failed dependency call's, any instrumented library's), per exception type.",
        SPAN_EVENTS,
        keys=("exceptionType",),
        values=(Value("exceptions", COUNT, "exceptions of the type"),),
        sql=_exceptions,
    )
)
