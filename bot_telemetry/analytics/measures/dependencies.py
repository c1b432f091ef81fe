"""Dependencies: dependencyCalls.

A dependency call is a CLIENT or PRODUCER span naming its peer (``peer.service``,
``db.system.name``, ``server.address``, ...: the app map's node); it failed when its status
is ERROR.
"""

from __future__ import annotations

from typing import Any

from ...store.database import KIND_CLIENT, KIND_PRODUCER, STATUS_ERROR
from .context import SPANS
from .definition import COUNT, MILLISECONDS, Measure, Sql, Value, milliseconds, register


def _calls(q: Sql) -> str:
    return f"""SELECT {q.bucket("start_ns")} AS bucket, peer AS dependency, count(*) AS calls,
       count(*) FILTER (WHERE status_code = {STATUS_ERROR}) AS failures,
       quantile_cont(duration_ns, [0.5, 0.95]) AS latency
FROM spans
WHERE kind IN ({KIND_CLIENT}, {KIND_PRODUCER}) AND peer IS NOT NULL AND {q.window("start_ns")}
  {q.filters}
GROUP BY bucket, dependency"""


def _call_values(raw: dict[str, Any]) -> dict[str, Any]:
    p50, p95 = raw["latency"] or (None, None)
    return {
        "calls": raw["calls"],
        "failures": raw["failures"],
        "p50Ms": milliseconds(p50),
        "p95Ms": milliseconds(p95),
    }


DEPENDENCY_CALLS = register(
    Measure(
        "dependencyCalls",
        "Calls to each dependency (the app map's node), those that failed, and the 50th and "
        "95th percentiles of their duration. serviceName narrows to one caller.",
        SPANS,
        keys=("dependency",),
        values=(
            Value("calls", COUNT, "calls"),
            Value("failures", COUNT, "calls whose span ended in ERROR"),
            Value("p50Ms", MILLISECONDS, "median duration"),
            Value("p95Ms", MILLISECONDS, "95th percentile duration"),
        ),
        sql=_calls,
        finish=_call_values,
    )
)
