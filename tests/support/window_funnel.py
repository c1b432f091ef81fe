"""ClickHouse's own ``windowFunnel`` over the same events and steps as a funnel request: the
comparison point for our portable funnel on ClickHouse (tests and benchmarks).

    levels = window_funnel_levels(chdb_engine, FunnelRequest.parse(body), "strict_once")
    # {furthest step reached: entities}
"""

from __future__ import annotations

from typing import Any

from bot_telemetry.analytics.journeys.matching import Params, event_condition
from bot_telemetry.analytics.journeys.requests import FunnelRequest
from bot_telemetry.store.compiler import bound

_ENTITY = {"conversation": "conversation_id", "user": "user_id"}


def window_funnel_levels(
    engine: Any, request: FunnelRequest, mode: str | None = "strict_once"
) -> dict[int, int]:
    """Entities by the furthest step windowFunnel finds (``mode``: one of its options, or
    None for its default), attempts starting in the request's time range."""
    params = Params()
    conditions = [event_condition(step, params) for step in request.steps]
    end = params.add(request.range.end_ns, "end")
    conditions[0] = f"({conditions[0]} AND time_ns < {end})"
    start = params.add(request.range.start_ns, "start")
    until = params.add(request.range.end_ns + request.window_ns, "until")
    entity = _ENTITY[request.count_by]
    flags = ", ".join(f"{c} AS c{i}" for i, c in enumerate(conditions))
    # Our compiler makes the events relation and the steps' conditions ClickHouse SQL; the
    # windowFunnel around them is ClickHouse's alone.
    inner = engine.compile(
        f"SELECT {entity} AS entity, time_ns, {flags} FROM events "
        f"WHERE time_ns >= {start} AND time_ns < {until} AND {entity} IS NOT NULL",
        params.values,
    )
    body = inner.sql.rsplit(" SETTINGS ", 1)[0]
    steps = ", ".join(f"c{i}" for i in range(len(conditions)))
    option = f", '{mode}'" if mode else ""
    sql = (
        f"SELECT level, count() AS n FROM (SELECT entity, windowFunnel({request.window_ns}"
        f"{option})(toUInt64(time_ns), {steps}) AS level FROM ({body}) GROUP BY entity) "
        "WHERE level > 0 GROUP BY level"
    )
    rows = engine.raw(sql, bound(inner, params.values)).rows
    return {int(level): int(n) for level, n in rows}


def step_counts(levels: dict[int, int], steps: int) -> list[int]:
    """Entities reaching each step, from entities by furthest step."""
    return [sum(n for level, n in levels.items() if level > k) for k in range(steps)]
