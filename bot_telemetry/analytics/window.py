"""Time windows for queries: ``--since 15m``, ``--until 2026-01-02T10:00:00Z``.

TimeWindow.parse(since="1h")  # the last hour
TimeWindow.parse()            # everything stored
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
#: The last time the store can hold: nanoseconds since 1970 in a signed 64-bit integer
#: (2262-04-11T23:47:16.854775807Z).
_MAX_NS = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The times a request may name (the measures' and the journeys' alike), as their refusals
#: say it: the times the store can hold, ``[0, _MAX_NS]`` nanoseconds.
TIME_RANGE = "from 1970-01-01 to 2262-04-11"
#: The longest duration a request's number of seconds may give (a funnel's window, a slow
#: reply, a session gap, a dialog's abandonment): 366 days, which keeps every time computed
#: with it within a 64-bit integer of nanoseconds.
MAX_DURATION_SECONDS = 366 * 86400


def request_time_ns(value: float | datetime) -> int | None:
    """Nanoseconds since the epoch of epoch milliseconds or a datetime (naive: UTC), exactly
    (to the microsecond); None when it is not a time in ``TIME_RANGE`` (not finite, before
    1970 or after 2262-04-11), so that each request's parser refuses it in its own words."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1000
    elif isinstance(value, int):  # any size: JSON's 400-digit number too
        ns = value * 1_000_000
    elif not math.isfinite(value):
        return None
    else:
        whole = int(value)
        ns = whole * 1_000_000 + round((value - whole) * 1_000_000)
    return ns if 0 <= ns <= _MAX_NS else None


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``2h``, ``7d`` or ``1w``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 2h, 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_instant(text: str, now_ns: int) -> int:
    """Nanoseconds since the epoch for a duration ago (``15m``) or an ISO 8601 time."""
    if _DURATION.match(text):
        return now_ns - int(parse_duration(text) * 1e9)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"{text!r} is neither a duration (15m, 2h, 7d) nor an ISO time (2026-01-02T10:00Z)"
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Exactly, as request_time_ns: a float of the seconds times 1e9 is off by up to 256 ns.
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True)
class TimeWindow:
    """Telemetry that started in [start_ns, end_ns)."""

    start_ns: int = 0
    end_ns: int = _MAX_NS

    @classmethod
    def parse(cls, since: str | None = None, until: str | None = None) -> TimeWindow:
        now = time.time_ns()
        start = parse_instant(since, now) if since else 0
        end = parse_instant(until, now) if until else _MAX_NS
        if end <= start:
            raise ValueError("the time window is empty: --until must be after --since")
        return cls(start, end)

    @property
    def params(self) -> list[int]:
        return [self.start_ns, self.end_ns]

    @property
    def bounds(self) -> dict[str, int]:
        """The window as a query's ``$start`` and ``$end`` parameters."""
        return {"start": self.start_ns, "end": self.end_ns}


#: The window of everything stored.
EVERYTHING = TimeWindow()

#: The first stretch ``latest_first`` reads: the last minute before the latest row.
FIRST_STEP_NS = 60 * 10**9
_GROWTH = 16


def latest_first(
    window: TimeWindow, latest_ns: int, step_ns: int = FIRST_STEP_NS
) -> Generator[TimeWindow, float | None, None]:
    """Ever longer stretches of ``window`` ending where it does, the first the last
    ``step_ns`` up to ``latest_ns`` (the latest row in ``window``), the last ``window``
    itself.

    A list of the most recent things needs only the rows of its last minutes when they hold
    enough of them: 100 conversations of 10,000, 50 traces of a million. The caller asks
    each stretch in turn and stops at the first whose answer it can prove whole. It may
    send each stretch's share of what it wants (``stretches.send(found / wanted)``): the
    next stretch is then long enough to hold it all at the same density (twice over), and
    after a stretch with nothing the next is the whole window. Without a share, each
    stretch is 16 times longer than the one before.
    """
    length = max(step_ns, 1)
    while latest_ns + 1 - length > window.start_ns:
        share = yield TimeWindow(latest_ns + 1 - length, window.end_ns)
        if share is not None and share <= 0:
            break
        growth = _GROWTH if share is None else max(_GROWTH, 2 * math.ceil(1 / share))
        length *= growth
    yield window
