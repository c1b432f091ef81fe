"""Measures over time: the bot's KPIs as measures by time granularities by context dimensions,
one request in the seed-002 shape, on any engine.

    from bot_telemetry.analytics import query

    results = query(
        engine,
        start_time="2026-11-01T00:00:00Z",
        context={"channelId": ["msteams"]},
        measures=[{"measureType": "activeUsers", "timeGranularity": ["day"]}, "intents"],
    )
    results[0].response    # [{"time": "2026-11-01T00:00:00.000Z", "users": 12}, ...]

``POST /analytics/query`` on ``bot-telemetry serve`` and ``bot-telemetry measures`` take the
same request. Each measure is defined once (a module per topic here, registered in
``MEASURES``) and runs on DuckDB and ClickHouse alike. docs/measures.md describes every one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ...store.engine import Engine

# The measure modules register their measures when imported.
from . import (  # noqa: F401
    client,
    conversations,
    dependencies,
    dialogs,
    messages,
    recognition,
    turns,
    users,
)
from .arguments import in_python_words, python_names
from .context import DIMENSIONS
from .definition import MEASURES, Measure, Row, Value
from .granularity import GRANULARITIES, MAX_BUCKETS
from .request import (
    _FIELDS,
    _MEASURE_FIELDS,
    AnalyticsRequest,
    MeasureSpec,
    RequestError,
    parse_request,
)
from .run import MeasureResult, Progress, run

#: The measures in the order the docs, the catalog and the UI list them.
ORDER = (
    "activeUsers",
    "newUsers",
    "conversations",
    "sessions",
    "messagesReceived",
    "messagesSent",
    "turns",
    "turnsPerConversation",
    "turnLatency",
    "replyLatency",
    "intents",
    "fallbackRate",
    "qnaAnswerRate",
    "dialogOutcomes",
    "dialogSteps",
    "dependencyCalls",
    "tokenUsage",
    "failedTurns",
    "exceptions",
    "escalationRate",
    "containmentRate",
    "clientEvents",
    "feedback",
)
if set(ORDER) != set(MEASURES):  # a measure added to a module but not listed here
    raise RuntimeError(f"ORDER and MEASURES differ: {sorted(set(ORDER) ^ set(MEASURES))}")
_registered = dict(MEASURES)
MEASURES.clear()
MEASURES.update((name, _registered[name]) for name in ORDER)
del _registered

#: A measure in ``query(measures=...)``: its name, its JSON object, or a MeasureSpec.
MeasureItem = str | Mapping[str, Any] | MeasureSpec


def _as_json(item: MeasureItem) -> Any:
    if isinstance(item, str):
        return {"measureType": item}
    if isinstance(item, MeasureSpec):
        found: dict[str, Any] = {
            "measureType": item.measure_type,
            "timeGranularity": _listed(item.time_granularity),
            "page": item.page,
            "sortDirection": item.sort_direction,
        }
        if item.params:
            found["params"] = dict(item.params)
        if item.page_size is not None:
            found["pageSize"] = item.page_size
        return found
    return item


def query(
    engine: Engine,
    *,
    start_time: str | int | float | datetime | timedelta,
    measures: Sequence[MeasureItem],
    end_time: str | int | float | datetime | timedelta | None = None,
    context: Mapping[str, Sequence[str]] | None = None,
    progress: Progress | None = None,
) -> list[MeasureResult]:
    """The measures over [start_time, end_time) (end: now by default), narrowed to
    ``context``: one result per (measure, granularity), in order. Times are ISO 8601 text,
    epoch milliseconds, datetimes, or a duration ago (``"7d"``, ``"1h30m"``, a ``timedelta``);
    a bad request raises ``RequestError`` naming the argument as written here (``start_time``,
    ``measures[0].time_granularity`` of a MeasureSpec).
    """
    body = {
        "startTime": start_time,
        "endTime": end_time,
        "context": {name: _listed(values) for name, values in (context or {}).items()},
        "measures": measures if isinstance(measures, str) else [_as_json(i) for i in measures],
    }
    try:
        request = parse_request(body)
    except RequestError as error:
        raise in_python_words(error, _python_names(measures)) from None
    return run(engine, request, progress)


def _python_names(measures: Sequence[MeasureItem]) -> dict[str, str]:
    """The request's JSON names as the caller of ``query()`` wrote them: the arguments
    (``start_time``), a MeasureSpec's attributes (``measures[0].time_granularity``), a
    measure given by its name (``measures[0]``, not its ``measureType``)."""
    names = python_names(_FIELDS)
    for index, item in enumerate([] if isinstance(measures, str) else measures):
        where = f"measures[{index}]"
        if isinstance(item, MeasureSpec):
            names.update(python_names(_MEASURE_FIELDS, f"{where}."))
        elif isinstance(item, str):
            names[f"{where}.measureType"] = where
    return names


def _listed(values: Sequence[str]) -> object:
    # A str is a Sequence[str] too: listed, "msteams" would be the channels m, s, t, e, a,
    # answered with zeros. Passed on as it is, the request refuses it naming the field.
    return values if isinstance(values, str) else list(values)


def catalog() -> dict[str, Any]:
    """Every measure with its definition, values, keys, dimensions and parameters; the
    granularities and dimensions (``GET /analytics/measures``)."""
    return {
        "measures": [_described(measure) for measure in MEASURES.values()],
        "dimensions": list(DIMENSIONS),
        "granularities": list(GRANULARITIES),
        "maxBuckets": MAX_BUCKETS,
    }


def _described(measure: Measure) -> dict[str, Any]:
    return {
        "measureType": measure.name,
        "doc": measure.doc,
        "subject": measure.subject.doc,
        "keys": list(measure.keys),
        "values": [
            {"name": value.name, "kind": value.kind, "doc": value.doc} for value in measure.values
        ],
        "charted": list(measure.chart_values),
        "dimensions": [
            {"name": name, "via": measure.subject.how(name)} for name in measure.dimensions
        ],
        "params": [
            {
                "name": param.name,
                "doc": param.doc,
                "default": param.default,
                "minimum": param.minimum,
                "maximum": param.maximum,
            }
            for param in measure.params
        ],
    }


__all__ = [
    "DIMENSIONS",
    "GRANULARITIES",
    "MEASURES",
    "AnalyticsRequest",
    "Measure",
    "MeasureResult",
    "MeasureSpec",
    "RequestError",
    "Row",
    "Value",
    "catalog",
    "parse_request",
    "query",
    "run",
]
