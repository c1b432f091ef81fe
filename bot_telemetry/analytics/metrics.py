"""Metrics: what is stored, each metric's series, values over time and histogram percentiles.

    list_metrics(engine, TimeWindow.parse(since="1h"))      # names, kinds, series, points
    get_metric(engine, "http.server.duration", window)      # series with values or percentiles

A series is one (service, resource, attribute set) of a metric (``series_key`` in the
model); a resource is told by its attributes, so its id is the same on every engine. Gauges
and sums give their values over time (a cumulative sum's values are running totals, a delta
sum's the change per interval). Histograms give the distribution over the window: a delta
series adds its points' buckets; a cumulative series takes its latest point in the window
less its latest point before the window (same start time), or everything since it started.
Percentiles are interpolated linearly inside the bucket holding the rank and kept within the
histogram's min and max, as Prometheus' ``histogram_quantile`` does with its buckets.

The SQL is plain (filters, grouping, a window function) over ``metric_points`` and runs on
every engine; the bucket arithmetic runs in Python over the rows it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from ..store.engine import Engine
from .json_values import load_object, number
from .query import Query
from .traces import _resource_id, iso
from .window import EVERYTHING, TimeWindow

#: The quantiles shown for a histogram.
QUANTILES = (0.5, 0.9, 0.95, 0.99)
TEMPORALITIES = {1: "delta", 2: "cumulative"}
HISTOGRAM_KINDS = ("histogram", "exponential_histogram")


class MetricSummary(TypedDict):
    name: str
    kind: str
    unit: str | None
    description: str | None
    services: list[str]
    series: int
    points: int
    first: str
    last: str


class ValueAt(TypedDict):
    time: str
    time_ns: int
    #: A number, "NaN"/"Infinity"/"-Infinity", or None for a point with no recorded value.
    value: float | int | str | None


class Bucket(TypedDict):
    #: (low, high]; None for -inf / +inf.
    low: float | str | None
    high: float | str | None
    count: int


class Distribution(TypedDict):
    count: int
    sum: float | int | str | None
    min: float | int | str | None
    max: float | int | str | None
    percentiles: dict[str, float | int | str | None]
    buckets: list[Bucket]


class Series(TypedDict):
    service: str
    resource_id: str | None
    #: The resource attributes that tell this series from the service's others (such as
    #: ``service.instance.id`` when several instances report); empty when nothing does.
    resource: dict[str, Any]
    #: All of the resource's attributes.
    resource_attributes: dict[str, Any]
    attributes: dict[str, Any]
    points: int
    first: str
    last: str
    temporality: str | None
    monotonic: bool | None
    #: Gauges and sums: the latest value, and values over time (the most recent ones).
    latest: float | int | str | None
    values: list[ValueAt]
    #: Histograms: the distribution over the window; summaries: count and sum only.
    distribution: Distribution | None


class MetricDetail(TypedDict):
    name: str
    kind: str
    unit: str | None
    description: str | None
    series: list[Series]


METRICS = Query(
    "metrics.list",
    """SELECT metric_name, max(kind) AS metric_kind, max(unit) AS metric_unit,
              max(description) AS metric_description,
              list(DISTINCT service_name ORDER BY service_name) AS services,
              count(DISTINCT series_key) AS series, count(*) AS points,
              min(time_ns) AS first_ns, max(time_ns) AS last_ns
       FROM metric_points WHERE time_ns >= $start AND time_ns < $end
       GROUP BY metric_name ORDER BY metric_name LIMIT $limit""",
)

_POINT_COLUMNS = """service_name, series_key, attributes, kind, temporality, monotonic,
    start_ns, time_ns, value, count, min, max, bounds, bucket_counts, unit, description,
    resource_attributes"""

POINTS = Query(
    "metrics.points",
    f"""SELECT {_POINT_COLUMNS} FROM metric_points
        WHERE metric_name = $name AND time_ns >= $start AND time_ns < $end
        ORDER BY time_ns, series_key""",
)
# Each cumulative series' latest point before the window, per start time.
POINTS_BEFORE = Query(
    "metrics.points_before",
    f"""SELECT {_POINT_COLUMNS} FROM (
            SELECT *, row_number() OVER (
                PARTITION BY series_key, start_ns ORDER BY time_ns DESC) AS position
            FROM metric_points
            WHERE metric_name = $name AND time_ns < $start AND temporality = 2) AS ranked
        WHERE position = 1""",
)

_Key = tuple[str, int]


def list_metrics(
    engine: Engine, window: TimeWindow = EVERYTHING, limit: int = 500
) -> list[MetricSummary]:
    """Every metric with points in the window, by name."""
    rows = METRICS.run(engine, limit=max(1, limit), **window.bounds)
    return [
        MetricSummary(
            name=name,
            kind=kind or "gauge",
            unit=unit,
            description=description,
            services=list(services),
            series=series,
            points=points,
            first=iso(first_ns),
            last=iso(last_ns),
        )
        for name, kind, unit, description, services, series, points, first_ns, last_ns in rows
    ]


def get_metric(
    engine: Engine,
    name: str,
    window: TimeWindow = EVERYTHING,
    *,
    max_series: int = 50,
    max_values: int = 500,
) -> MetricDetail | None:
    """One metric's series in the window (the busiest ``max_series``), or None."""
    rows = POINTS.run(engine, name=name, **window.bounds).rows
    if not rows:
        return None
    grouped: dict[_Key, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault((row[0], row[1]), []).append(row)
    latest = rows[-1]
    kind = latest[3] or "gauge"
    before: dict[tuple[str, int, int | None], tuple[Any, ...]] = {}
    if kind in HISTOGRAM_KINDS and window.start_ns > 0:
        for row in POINTS_BEFORE.run(engine, name=name, start=window.start_ns):
            before[(row[0], row[1], row[6])] = row
    series = [
        _series(points, kind, before.get((*key, points[-1][6])), max_values)
        for key, points in grouped.items()
    ]
    busiest = sorted(series, key=lambda found: (-found["points"], _order(found)))[:max_series]
    _label_resources(busiest)
    busiest.sort(key=_order)
    return MetricDetail(
        name=name, kind=kind, unit=latest[14], description=latest[15], series=busiest
    )


def _order(found: Series) -> tuple[str, str, str]:
    """A series' place: by service, resource and attributes (as text, the same on every
    engine)."""
    return (
        found["service"],
        found["resource_id"] or "",
        str(sorted((key, str(value)) for key, value in found["attributes"].items())),
    )


def _label_resources(series: list[Series]) -> None:
    """Fill each series' ``resource`` with the attributes that differ within its service."""
    by_service: dict[str, list[Series]] = {}
    for found in series:
        by_service.setdefault(found["service"], []).append(found)
    for group in by_service.values():
        keys = {key for found in group for key in found["resource_attributes"]}
        differing = {
            key
            for key in keys
            if len({repr(found["resource_attributes"].get(key)) for found in group}) > 1
        }
        for found in group:
            own = found["resource_attributes"]
            found["resource"] = {key: own.get(key) for key in sorted(differing)}


def _series(
    points: list[tuple[Any, ...]],
    kind: str,
    before: tuple[Any, ...] | None,
    max_values: int,
) -> Series:
    last = points[-1]
    resource_attributes = load_object(last[16])
    distribution: Distribution | None = None
    values: list[ValueAt] = []
    latest: float | int | str | None = None
    if kind in HISTOGRAM_KINDS:
        distribution = _distribution(points, before)
    elif kind == "summary":
        distribution = _summary(points)
    else:
        latest = number(last[8])
        values = [
            ValueAt(time=iso(point[7]), time_ns=point[7], value=number(point[8]))
            for point in points[-max_values:]
        ]
    return Series(
        service=last[0],
        resource_id=_resource_id(resource_attributes) if resource_attributes else None,
        resource={},
        resource_attributes=resource_attributes,
        attributes=load_object(last[2]),
        points=len(points),
        first=iso(points[0][7]),
        last=iso(last[7]),
        temporality=TEMPORALITIES.get(last[4]) if last[4] is not None else None,
        monotonic=last[5],
        latest=latest,
        values=values,
        distribution=distribution,
    )


def _summary(points: list[tuple[Any, ...]]) -> Distribution:
    last = points[-1]
    return Distribution(
        count=int(last[9] or 0),
        sum=number(last[8]),
        min=None,
        max=None,
        percentiles={},
        buckets=[],
    )


def _distribution(points: list[tuple[Any, ...]], before: tuple[Any, ...] | None) -> Distribution:
    last = points[-1]
    bounds: list[float] = list(last[12] or [])
    if last[4] == 2:  # cumulative: the latest point holds everything since the series started
        counts = list(last[13] or [])
        count, total = int(last[9] or 0), last[8]
        low, high = last[10], last[11]
        if before is not None and list(before[12] or []) == bounds:
            earlier = list(before[13] or [])
            if len(earlier) == len(counts):
                counts = [now - then for now, then in zip(counts, earlier, strict=True)]
            count -= int(before[9] or 0)
            if total is not None and before[8] is not None:
                total -= before[8]
    else:  # delta: add up the points whose buckets match the latest one's
        same = [p for p in points if list(p[12] or []) == bounds]
        counts = [sum(column) for column in zip(*(p[13] or [] for p in same), strict=False)]
        count = sum(int(p[9] or 0) for p in same)
        sums = [p[8] for p in same if p[8] is not None]
        total = sum(sums) if sums else None
        lows = [p[10] for p in same if p[10] is not None]
        highs = [p[11] for p in same if p[11] is not None]
        low, high = (min(lows) if lows else None), (max(highs) if highs else None)
    if low == high == 0 and total:
        # Only zeros would have a min and max of 0, and they add up to 0: these were not
        # recorded (the exporter's tables write 0 for an absent min and max).
        low = high = None
    return Distribution(
        count=count,
        sum=number(total),
        min=number(low),
        max=number(high),
        percentiles={
            f"p{round(q * 100):g}": number(percentile(bounds, counts, q, low, high))
            for q in QUANTILES
        },
        buckets=[
            Bucket(
                low=number(bounds[i - 1]) if i > 0 else None,
                high=number(bounds[i]) if i < len(bounds) else None,
                count=bucket,
            )
            for i, bucket in enumerate(counts)
        ],
    )


def percentile(
    bounds: Sequence[float],
    counts: Sequence[int],
    quantile: float,
    low: float | None = None,
    high: float | None = None,
) -> float | None:
    """The ``quantile`` (0..1) of an explicit-bucket histogram, or None when it is empty.

    ``counts[i]`` holds (bounds[i-1], bounds[i]]; the first bucket starts at ``low`` (the
    histogram's min) and the last ends at ``high`` (its max) when known, else at the
    nearest bound.

    >>> percentile([10.0, 20.0], [0, 4, 0], 0.5)
    15.0
    """
    total = sum(counts)
    if total <= 0 or len(counts) != len(bounds) + 1:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(counts):
        if count <= 0 or seen + count < rank:
            seen += count
            continue
        lower = bounds[index - 1] if index > 0 else (low if low is not None else None)
        upper = bounds[index] if index < len(bounds) else (high if high is not None else None)
        if lower is None:
            lower = upper
        if upper is None:
            upper = lower
        if lower is None or upper is None:  # no bounds at all, nor min and max
            return None
        # The min and max narrow the bucket they fall in; one outside it contradicts the
        # buckets (an exporter's 0 for "not recorded") and is not used.
        if low is not None and low <= upper:
            lower = max(lower, low)
        if high is not None and high >= lower:
            upper = min(upper, high)
        value = lower + (upper - lower) * max(0.0, rank - seen) / count
        return float(value)
    return float(bounds[-1]) if bounds else high
