"""Time granularities: the buckets a measure is counted in, in UTC.

    buckets = Buckets.of("day", start_ns, end_ns)
    buckets.count                      # how many days the window touches
    buckets.sql("start_ns")            # DuckDB SQL: a row's bucket number, from 0
    buckets.start_ns(3)                # when bucket 3 starts

Second to week have a fixed width (weeks start on Monday, as ISO 8601's do); months do not,
so a month's number is computed from the day with integer arithmetic only (the civil
calendar algorithm of Howard Hinnant's ``chrono`` date library), which both engines evaluate
the same way — no timestamp type or time zone is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

SECOND_NS: Final = 1_000_000_000
DAY_NS: Final = 86_400 * SECOND_NS
#: Granularity names, finest first, and their fixed widths (a month has none).
WIDTHS: Final[dict[str, int | None]] = {
    "second": SECOND_NS,
    "minute": 60 * SECOND_NS,
    "hour": 3_600 * SECOND_NS,
    "day": DAY_NS,
    "week": 7 * DAY_NS,
    "month": None,
}
GRANULARITIES: Final = tuple(WIDTHS)
#: 1970-01-01 was a Thursday: weeks (Monday to Sunday) are counted from Monday 1969-12-29.
_WEEK_ORIGIN_NS: Final = -3 * DAY_NS
#: The most buckets one measure may ask for.
MAX_BUCKETS: Final = 10_000


def month_number_sql(column: str) -> str:
    """DuckDB SQL for the month a nanosecond time falls in, as ``year * 12 + month - 1``.

    Days are shifted to a calendar whose year starts in March (the leap day comes last), in
    400-year eras; ``mp`` is the month from March. Valid for times from 1970 on."""
    day = f"(({column}) // {DAY_NS} + 719468)"
    era = f"({day} // 146097)"
    day_of_era = f"({day} % 146097)"
    year_of_era = (
        f"(({day_of_era} - {day_of_era} // 1460 + {day_of_era} // 36524 "
        f"- {day_of_era} // 146096) // 365)"
    )
    day_of_year = (
        f"({day_of_era} - (365 * {year_of_era} + {year_of_era} // 4 - {year_of_era} // 100))"
    )
    month_from_march = f"((5 * {day_of_year} + 2) // 153)"
    # March of the shifted year Y is month 12 * Y + 2; January (mp 10) is 12 * (Y + 1).
    return f"(12 * ({era} * 400 + {year_of_era}) + {month_from_march} + 2)"


def _month_number(ns: int) -> int:
    moment = datetime.fromtimestamp(ns // SECOND_NS, tz=UTC)
    return moment.year * 12 + moment.month - 1


def _month_start_ns(number: int) -> int:
    year, month = divmod(number, 12)
    return int(datetime(year, month + 1, 1, tzinfo=UTC).timestamp()) * SECOND_NS


@dataclass(frozen=True)
class Buckets:
    """The buckets of one granularity that the window [start_ns, end_ns) touches."""

    granularity: str
    #: The first bucket's start (fixed widths) or month number (months).
    origin: int
    count: int

    @classmethod
    def of(cls, granularity: str, start_ns: int, end_ns: int) -> Buckets:
        width = WIDTHS[granularity]
        if width is None:
            first = _month_number(start_ns)
            return cls(granularity, first, _month_number(end_ns - 1) - first + 1)
        base = _WEEK_ORIGIN_NS if granularity == "week" else 0
        origin = base + (start_ns - base) // width * width
        return cls(granularity, origin, -(-(end_ns - origin) // width))

    @property
    def parameters(self) -> dict[str, int]:
        """The ``$bucket_origin`` (and ``$bucket_width``) the SQL of ``sql()`` uses."""
        width = WIDTHS[self.granularity]
        if width is None:
            return {"bucket_origin": self.origin}
        return {"bucket_origin": self.origin, "bucket_width": width}

    def sql(self, column: str) -> str:
        """DuckDB SQL: the bucket number (0 to count - 1) of a time in the window."""
        if WIDTHS[self.granularity] is None:
            return f"({month_number_sql(column)} - $bucket_origin)"
        return f"((({column}) - $bucket_origin) // $bucket_width)"

    def start_ns(self, number: int) -> int:
        width = WIDTHS[self.granularity]
        if width is None:
            return _month_start_ns(self.origin + number)
        return self.origin + number * width
