"""What a measure is: its definition in words, the rows it counts, its SQL (written once,
for every engine), its values, grouping keys and parameters.

A measure module defines each measure with ``Measure(...)`` and registers it:

    ACTIVE_USERS = register(Measure(
        "activeUsers",
        "Distinct users with a turn in the bucket.",
        TURNS,
        values=(Value("users", COUNT, "distinct pseudonymous users"),),
        sql=lambda q: f'''SELECT {q.bucket("start_ns")} AS bucket,
                                 count(DISTINCT user_id) AS users
                          FROM turns WHERE {q.window("start_ns")} AND user_id IS NOT NULL
                          {q.filters} GROUP BY bucket''',
    ))

The SQL is DuckDB SQL over the logical relations (docs/analytics-model.md); it returns a
``bucket`` column (the bucket's number, from 0), one column per grouping key, and the raw
columns ``finish`` turns into the row's values (by default, the values by name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .context import Subject
from .granularity import Buckets

#: An integer count: 0 in a bucket with nothing in it.
COUNT: Final = "count"
#: A share from 0 to 1 (rounded to 6 places); None when there is nothing to divide by.
RATIO: Final = "ratio"
#: Milliseconds (rounded to 3 places); None in an empty bucket.
MILLISECONDS: Final = "milliseconds"
#: Any other number (a mean score, a mean rating); None in an empty bucket.
NUMBER: Final = "number"
ValueKind = Literal["count", "ratio", "milliseconds", "number"]

#: A row of a measure's answer: the bucket's start time, the grouping keys, the values.
Row = dict[str, str | int | float | None]


@dataclass(frozen=True)
class Value:
    """One value in a measure's rows."""

    name: str
    kind: ValueKind
    doc: str

    def empty(self) -> int | None:
        """The value of a bucket with nothing in it."""
        return 0 if self.kind == COUNT else None


@dataclass(frozen=True)
class Param:
    """A measure's parameter (``"params": {"minScore": 0.5}``): a number."""

    name: str
    doc: str
    default: float | None
    minimum: float = 0.0
    maximum: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class Sql:
    """What a measure's SQL is written with: the bucket expression, the context's filters
    on its subject and the values of its parameters (as ``$name``)."""

    buckets: Buckets
    #: ``AND ...`` conditions on the subject's relation (empty without a context).
    filters: str
    #: The parameters given, or their defaults (None: not given and no default).
    params: Mapping[str, float | None] = field(default_factory=dict)

    def bucket(self, column: str) -> str:
        """The bucket number of the nanosecond time in ``column``."""
        return self.buckets.sql(column)

    @staticmethod
    def window(column: str) -> str:
        """``column`` within the request's [startTime, endTime)."""
        return f"{column} >= $start AND {column} < $end"


def _by_name(values: tuple[Value, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    names = tuple(value.name for value in values)

    def finish(raw: dict[str, Any]) -> dict[str, Any]:
        return {name: raw[name] for name in names}

    return finish


@dataclass(frozen=True)
class Measure:
    """One measure: defined once, run on every engine."""

    name: str
    #: The definition in words (docs/measures.md and the catalog say it).
    doc: str
    subject: Subject
    values: tuple[Value, ...]
    sql: Callable[[Sql], str]
    #: Grouping keys: each row is one (bucket, keys) combination, e.g. ``("intent",)``.
    keys: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    #: The SQL row (by column name) as the row's values; default: the values by name.
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    #: The values the Measures page charts together; default: the first value and those
    #: right after it of its kind (p50/p95/p99). Given where a value of that kind is only a
    #: denominator: charted beside failed turns, all turns flattened them to the axis.
    charted: tuple[str, ...] = ()

    def values_of(self, raw: dict[str, Any]) -> dict[str, Any]:
        return (self.finish or _by_name(self.values))(raw)

    def empty_values(self) -> dict[str, int | None]:
        return {value.name: value.empty() for value in self.values}

    @property
    def dimensions(self) -> tuple[str, ...]:
        return self.subject.dimensions

    @property
    def chart_values(self) -> tuple[str, ...]:
        if self.charted:
            return self.charted
        first = self.values[0]
        drawn = []
        for value in self.values:
            if value.kind != first.kind:
                break
            drawn.append(value.name)
        return tuple(drawn)

    def __post_init__(self) -> None:
        unknown = set(self.charted) - {value.name for value in self.values}
        if unknown:
            raise ValueError(f"{self.name} charts values it does not have: {sorted(unknown)}")


#: Every measure, by name (filled by the measure modules as they are imported).
MEASURES: dict[str, Measure] = {}


def register(measure: Measure) -> Measure:
    if measure.name in MEASURES:
        raise ValueError(f"two measures are named {measure.name!r}")
    MEASURES[measure.name] = measure
    return measure


# --- helpers for ``finish`` ------------------------------------------------------------


def milliseconds(nanoseconds: float | None) -> float | None:
    """Nanoseconds as milliseconds to 3 places. An interpolated quantile of integer
    nanoseconds is a multiple of 0.01 ns; the engines compute it a last bit apart, which
    could round a value exactly halfway differently. Rounded to 0.001 ns first, both give the
    same double, and so the same milliseconds."""
    if nanoseconds is None:
        return None
    return round(round(nanoseconds, 3) / 1e6, 3)


def ratio(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 6) if part is not None and whole else None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def latency_quantiles(counted: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``finish`` for a row holding ``latency`` (p50, p95, p99 in ns) and a count named
    ``counted``: the percentiles in milliseconds beside that count."""

    def finish(raw: dict[str, Any]) -> dict[str, Any]:
        p50, p95, p99 = raw["latency"] or (None, None, None)
        return {
            "p50Ms": milliseconds(p50),
            "p95Ms": milliseconds(p95),
            "p99Ms": milliseconds(p99),
            counted: raw[counted],
        }

    return finish
