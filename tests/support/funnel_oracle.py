"""Funnels as docs/journeys.md defines them, computed the plain way in Python (every attempt
walked one event at a time), to check the SQL against on generated streams.

    expected = oracle_funnel(stream.records, request)
    expected.counts        # entities reaching each step
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from bot_telemetry.analytics.journeys.requests import EventMatch, FunnelRequest
from bot_telemetry.contract import SESSION_GAP_SECONDS
from tests.support.journeys import Record

_COLUMNS = {
    "channel_id": "channelId",
    "dialog_id": "DialogId",
}


def matches(match: EventMatch, record: Record) -> bool:
    prefix = match.prefix
    if prefix is None and record.name != match.event:
        return False
    if prefix is not None and not record.name.startswith(prefix):
        return False
    return all(record.properties.get(key) in values for key, values in match.where)


def _dimension(record: Record, column: str) -> str | None:
    if column == "conversation_id":
        return record.conversation
    if column == "user_id":
        return record.user
    if column == "service_name":
        return "bot"
    return record.properties.get(_COLUMNS.get(column, column))


def entities(records: list[Record], count_by: str) -> dict[str, list[Record]]:
    """Each counted entity's records, in time order."""
    found: dict[str, list[Record]] = defaultdict(list)
    if count_by in ("conversation", "user"):
        for record in records:
            key = record.conversation if count_by == "conversation" else record.user
            found[key].append(record)
        return found
    by_user: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_user[record.user].append(record)
    for user, own in by_user.items():
        own.sort(key=lambda r: r.time_ns)
        began = own[0].time_ns
        previous = began
        for record in own:
            if record.time_ns - previous > SESSION_GAP_SECONDS * 10**9:
                began = record.time_ns
            previous = record.time_ns
            found[f"{user}@{began}"].append(record)
    return found


@dataclass
class Counted:
    level: int
    times: list[int]
    breakdown: str | None
    last: Record


@dataclass
class Expected:
    counted: dict[str, Counted] = field(default_factory=dict)
    excluded: set[str] = field(default_factory=set)

    def counts(self, group: object = ..., n: int = 0) -> list[int]:
        chosen = [c for c in self.counted.values() if group is ... or c.breakdown == group]
        return [sum(1 for c in chosen if c.level > k) for k in range(n)]

    def seconds(self, k: int, q: float, group: object = ...) -> float | None:
        """quantile_cont of step k's time to convert, in seconds."""
        values = sorted(
            c.times[k] - c.times[k - 1]
            for c in self.counted.values()
            if c.level > k and (group is ... or c.breakdown == group)
        )
        if not values:
            return None
        position = (len(values) - 1) * q
        low = math.floor(position)
        high = min(low + 1, len(values) - 1)
        value = values[low] + (values[high] - values[low]) * (position - low)
        return round(value / 1e9, 6)


def oracle_funnel(records: list[Record], request: FunnelRequest) -> Expected:
    window = request.window_ns
    start, end = request.range.start_ns, request.range.end_ns
    scoped = [
        r
        for r in records
        if start <= r.time_ns < end + window
        and all(_dimension(r, column) in values for column, values in request.context)
    ]
    steps = request.steps
    n = len(steps)
    expected = Expected()
    for entity, own in entities(scoped, request.count_by).items():
        flagged = []
        for record in own:
            hits = [matches(step, record) for step in steps]
            if request.order != "unordered":
                hits[0] = hits[0] and record.time_ns < end
            outs = [matches(e.match, record) for e in request.exclusions]
            if request.order != "strict" and not (any(hits) or any(outs)):
                continue
            first = next((k for k, hit in enumerate(hits) if hit), n)
            last = next((k for k in reversed(range(n)) if hits[k]), n)
            flagged.append((record, hits, outs, first, last))
        flagged.sort(
            key=lambda f: (
                f[0].time_ns,
                f[3],
                f[4],
                f[0].name,
            )
        )
        attempts = _attempts(flagged, request, n, window, end)
        if not attempts:
            continue
        valid = [a for a in attempts if not a[3]]
        if not valid:
            expected.excluded.add(entity)
            continue
        level, s, positions, _ = max(valid, key=lambda a: (a[0], -a[1]))
        times = [flagged[p][0].time_ns for p in positions]
        if request.order == "unordered":
            times = sorted(times)
        start_record = flagged[s][0]
        breakdown = None
        if request.breakdown is not None:
            column = {
                "channelId": "channel_id",
                "conversationId": "conversation_id",
                "userId": "user_id",
                "dialogId": "dialog_id",
                "serviceName": "service_name",
            }.get(request.breakdown)
            breakdown = (
                _dimension(start_record, column)
                if column
                else start_record.properties.get(request.breakdown)
            )
        last = (
            flagged[max(positions)][0]
            if request.order == "unordered"
            else (flagged[positions[-1]][0])
        )
        expected.counted[entity] = Counted(level, times, breakdown, last)
    return expected


def _attempts(
    flagged: list[tuple[Record, list[bool], list[bool], int, int]],
    request: FunnelRequest,
    n: int,
    window: int,
    end: int,
) -> list[tuple[int, int, list[int], bool]]:
    """(level, start position, positions of the steps reached, disqualified) per attempt."""
    found = []
    for s, (record, hits, _, _, _) in enumerate(flagged):
        deadline = record.time_ns + window
        if request.order == "unordered":
            if not (any(hits) and record.time_ns < end):
                continue
            positions = []
            for k in range(n):
                p = next(
                    (
                        i
                        for i in range(s, len(flagged))
                        if flagged[i][1][k] and flagged[i][0].time_ns <= deadline
                    ),
                    None,
                )
                if p is not None:
                    positions.append(p)
            found.append((len(positions), s, positions, False))
            continue
        if not hits[0]:
            continue
        positions = [s]
        for k in range(1, n):
            if request.order == "strict":
                p = positions[-1] + 1
                ok = p < len(flagged) and flagged[p][1][k]
            else:
                p = next(
                    (i for i in range(positions[-1] + 1, len(flagged)) if flagged[i][1][k]),
                    None,
                )
                ok = p is not None
            if not ok or flagged[p][0].time_ns > deadline:  # type: ignore[index]
                break
            positions.append(p)  # type: ignore[arg-type]
        if request.order == "ordered" and n > 1:
            # Not an attempt when another first step comes before its second step.
            second = next((i for i in range(s + 1, len(flagged)) if flagged[i][1][1]), None)
            later_start = next((i for i in range(s + 1, len(flagged)) if flagged[i][1][0]), None)
            if later_start is not None and (second is None or later_start < second):
                continue
        if request.order == "ordered" and n == 1:
            if any(flagged[i][1][0] for i in range(s + 1, len(flagged))):
                continue
        level = len(positions)
        disqualified = False
        for j, exclusion in enumerate(request.exclusions):
            a, b = exclusion.from_step, exclusion.to_step
            if level <= a:
                continue
            x = next((i for i in range(positions[a] + 1, len(flagged)) if flagged[i][2][j]), None)
            if x is None:
                continue
            if level > b:
                disqualified |= x < positions[b]
            else:
                disqualified |= flagged[x][0].time_ns <= deadline
        found.append((level, s, positions, disqualified))
    return found
