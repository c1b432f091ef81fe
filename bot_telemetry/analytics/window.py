"""Time windows for queries: ``--since 15m``, ``--until 2026-01-02T10:00:00Z``.

TimeWindow.parse(since="1h")  # the last hour
TimeWindow.parse()            # everything stored
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_MAX_NS = 2**63 - 1


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
    return int(moment.timestamp() * 1e9)


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
