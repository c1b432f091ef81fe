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

#: A duration's units as people write them, each the seconds it stands for: ``7d``, ``7D``
#: (pandas), ``7 days``, ``90min``, ``2 hrs``. ``M`` alone is refused: months or minutes?
_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
#: One part of a duration, ``1h`` or ``30 minutes``: a duration is one or more (``1h30m``).
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*,?")
#: ISO 8601's durations of fixed length (``PT30M``, ``P7D``, ``P1DT12H``): weeks to seconds.
_ISO_DURATION = re.compile(
    r"P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
#: A duration ago as journalctl and date take it (``-15m``), or said so (``15 minutes ago``).
_AGO = re.compile(r"^\s*-\s*(?=\d)(?P<minus>.*)$|^(?P<said>.*\S)\s+ago\s*$", re.IGNORECASE)
#: The forms a duration may take, as a refusal says them.
DURATION_FORMS = "30s, 15m, 2h, 7d, 1w, 1h30m, 90 minutes or PT1H30M"
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


def duration_seconds(text: str) -> float | None:
    """Seconds in a length of time written as ``DURATION_FORMS`` says (several parts are
    summed), or None when ``text`` is not one. The one reading of a duration: the HTTP API's
    and Python's ``window``/``startTime``, and every CLI option that takes one."""
    text = text.strip()
    iso = _ISO_DURATION.fullmatch(text)
    if iso and any(iso.groupdict().values()):
        return sum(float(n) * _UNITS[unit] for unit, n in iso.groupdict().items() if n)
    seconds, at = 0.0, 0
    while at < len(text):
        part = _PART.match(text, at)
        if part is None:
            return None
        number, unit = part.groups()
        if unit != "M":  # months or minutes: refused rather than guessed
            unit = unit.lower()
        if unit not in _UNITS:
            return None
        seconds += float(number) * _UNITS[unit]
        at = part.end()
    return seconds if text else None


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``2h``, ``7d``, ``1w``, ``1h30m``, ``90 minutes``,
    ``PT1H30M`` (``duration_seconds``); ValueError naming ``text`` for anything else."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration like {DURATION_FORMS}")
    return seconds


def duration_ago(text: str) -> float | None:
    """The seconds of a duration ago (``7d``, ``-7d``, ``7 days ago``), or None when ``text``
    is not one."""
    ago = _AGO.match(text)
    if ago:
        text = ago.group("minus") or ago.group("said")
    return duration_seconds(text)


def instant_ns(value: object, now_ns: int) -> int | None:
    """Nanoseconds since the epoch of a time as a request gives it: ISO 8601 text, epoch
    milliseconds (a number or its digits), a duration ago (``duration_ago``), ``now``, or
    from Python a ``datetime`` (naive: UTC) or a ``timedelta`` ago. None when it is none of
    these or not in ``TIME_RANGE``; each request's parser refuses it in its own words."""
    if isinstance(value, bool):
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
        return now_ns - int(value * 1e9) if value * 1e9 <= now_ns else None
    if isinstance(value, int | float | datetime):
        return request_time_ns(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() == "now":
        return now_ns
    if re.fullmatch(r"\d{10,}", text):  # epoch milliseconds as text (a query string's)
        return request_time_ns(int(text))
    seconds = duration_ago(text)
    if seconds is not None:
        ago = seconds * 1e9  # inf for 400 digits
        return now_ns - int(ago) if ago <= now_ns else None  # not before 1970
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return request_time_ns(moment)


#: The forms ``instant_ns`` takes, as a refusal says them.
INSTANT_FORMS = "an ISO 8601 time (2026-11-01T00:00:00Z), epoch milliseconds or a duration ago (7d)"


def parse_instant(text: str, now_ns: int) -> int:
    """Nanoseconds since the epoch for a duration ago (``15m``) or an ISO 8601 time
    (``instant_ns``); ValueError naming ``text`` for anything else."""
    found = instant_ns(text, now_ns)
    if found is None:
        raise ValueError(
            f"{text!r} is neither a duration ({DURATION_FORMS}) nor an ISO time "
            f"(2026-01-02T10:00Z), {TIME_RANGE}"
        )
    return found


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
