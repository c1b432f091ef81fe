"""Running a request: each measure at each granularity, one query each, on any engine.

The answer has one result per (measure, granularity) in request order. Each row carries the
bucket's start (``time``, ISO 8601 UTC), the grouping keys and the values. Every bucket of the
window is there: where nothing happened a count is 0 and any other value None; a grouped
measure has a row for every key seen in the window in every bucket. Rows are ordered by time
(``sortDirection``), within a bucket by the first value, largest first, then by key; then
``page``/``pageSize`` cut them. A measure that cannot take a dimension of the context (that
another measure of the request takes) has no rows and says why in ``refused``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...store.engine import Engine
from ..traces import iso
from .context import parameter
from .definition import MEASURES, Measure, Row, Sql
from .granularity import Buckets
from .request import AnalyticsRequest, MeasureSpec, RequestError

#: Called after each (measure, granularity) with how many are done and how many there are.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MeasureResult:
    """One element of the answer."""

    measure_type: str
    time_granularity: str
    response: list[Row]
    #: Set instead of rows when the measure cannot take a dimension of the context.
    refused: RequestError | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "measureType": self.measure_type,
            "timeGranularity": self.time_granularity,
            "response": self.response,
        }
        if self.refused is not None:
            found["refused"] = self.refused.as_json()
        return found


def run(
    engine: Engine, request: AnalyticsRequest, progress: Progress | None = None
) -> list[MeasureResult]:
    """Every (measure, granularity) of ``request``, in order."""
    total = sum(len(spec.time_granularity) for spec in request.measures)
    results = []
    for spec in request.measures:
        measure = MEASURES[spec.measure_type]
        for granularity in spec.time_granularity:
            if spec.refused is not None:
                results.append(MeasureResult(measure.name, granularity, [], spec.refused))
                if progress is not None:
                    progress(len(results), total)
                continue
            buckets = Buckets.of(granularity, request.start_ns, request.end_ns)
            rows = measure_rows(engine, measure, buckets, request, spec)
            results.append(MeasureResult(measure.name, granularity, _page(rows, measure, spec)))
            if progress is not None:
                progress(len(results), total)
    return results


def compiled_sql(
    measure: Measure, buckets: Buckets, request: AnalyticsRequest, spec: MeasureSpec
) -> tuple[str, dict[str, Any]]:
    """The measure's DuckDB SQL over the logical model for this request, and its values."""
    params: dict[str, float | None] = {}
    for param in measure.params:
        value = spec.params.get(param.name, param.default)
        params[param.name] = int(value) if param.integer and value is not None else value
    sql = measure.sql(Sql(buckets, measure.subject.filters(request.context), params))
    values: dict[str, Any] = {
        "start": request.start_ns,
        "end": request.end_ns,
        **buckets.parameters,
        **{parameter(name): list(items) for name, items in request.context.items()},
        **{name: value for name, value in params.items() if value is not None},
    }
    return sql, values


def measure_rows(
    engine: Engine,
    measure: Measure,
    buckets: Buckets,
    request: AnalyticsRequest,
    spec: MeasureSpec,
) -> list[Row]:
    """Every bucket's rows, in time order (ascending), empty buckets filled."""
    sql, values = compiled_sql(measure, buckets, request, spec)
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    keys_seen: dict[tuple[Any, ...], None] = {}
    for raw in engine.query(sql, values).dicts():
        key = tuple(raw[name] for name in measure.keys)
        keys_seen[key] = None
        found[(int(raw["bucket"]), *key)] = measure.values_of(raw)
    if not measure.keys:
        keys_seen = {(): None}
    empty = measure.empty_values()
    rows: list[Row] = []
    for number in range(buckets.count):
        time = iso(buckets.start_ns(number))
        for key in keys_seen:
            row: Row = {"time": time, **dict(zip(measure.keys, key, strict=True))}
            row.update(found.get((number, *key), empty))
            rows.append(row)
    return rows


def _page(rows: list[Row], measure: Measure, spec: MeasureSpec) -> list[Row]:
    first = measure.values[0].name

    def within_bucket(row: Row) -> tuple[Any, ...]:
        value = row[first]
        number = value if isinstance(value, int | float) else 0
        # Largest first, missing values last, then the keys in order.
        return (value is None, -number, *(str(row[key]) for key in measure.keys))

    rows.sort(key=within_bucket)
    rows.sort(key=lambda row: str(row["time"]), reverse=spec.sort_direction == "descending")
    if spec.page_size is None:
        return rows
    begin = spec.page * spec.page_size
    return rows[begin : begin + spec.page_size]
