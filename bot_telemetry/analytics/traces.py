"""Transactions: search traces, and one trace as a span tree with its events and logs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from ..store.database import KIND_NAMES, STATUS_ERROR
from ..store.engine import Engine
from ..store.rows import trace_key
from .json_values import load_json, load_object
from .query import Query
from .window import FIRST_STEP_NS, TimeWindow, latest_first

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_NAMES = {0: "unset", 1: "ok", 2: "error"}


def iso(nanoseconds: int) -> str:
    """An epoch time in nanoseconds as ISO 8601 UTC with milliseconds."""
    # In whole microseconds: a float of the seconds rounded a time 100 ns before midnight up
    # to midnight, showing it on the next day.
    moment = _EPOCH + timedelta(microseconds=nanoseconds // 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def valid_trace_id(text: str) -> str:
    """The trace id in lower-case hex, or ValueError saying what one looks like."""
    trace_id = text.strip().lower()
    if not _TRACE_ID.match(trace_id):
        raise ValueError(f"{text!r} is not a trace id (32 hex digits)")
    return trace_id


class TraceSummary(TypedDict):
    trace_id: str
    start: str
    start_ns: int
    duration_ms: float
    spans: int
    errors: int
    root_service: str
    root_name: str
    services: list[str]
    conversation_id: str | None


@dataclass(frozen=True)
class TraceQuery:
    """What to look for; every field narrows the search."""

    window: TimeWindow = field(default_factory=TimeWindow)
    conversation_id: str | None = None
    event_name: str | None = None
    service: str | None = None
    failed: bool | None = None
    limit: int = 50


# The services are sorted in Python, not by the SQL: for list(DISTINCT ... ORDER BY ...) DuckDB
# grouped the spans twice and joined the two (the query 5.4 -> 3.5 ms on a demo's store).
SUMMARIES = Query(
    "traces.summaries",
    f"""
SELECT trace_id, min(start_ns) AS first_ns, max(end_ns) - min(start_ns) AS length_ns,
       count(*) AS spans, count(*) FILTER (WHERE status_code = {STATUS_ERROR}) AS errors,
       first(service_name ORDER BY parent_span_id IS NOT NULL, start_ns, span_id)
           AS root_service,
       first(name ORDER BY parent_span_id IS NOT NULL, start_ns, span_id) AS root_name,
       list_distinct(list(service_name)) AS services,
       max(conversation_id) AS conversation
FROM spans WHERE trace_id IN (SELECT unnest($trace_ids)) AND start_ns >= $since
GROUP BY trace_id ORDER BY first_ns DESC, trace_id
""",
)


def summarize(engine: Engine, trace_ids: list[str], since_ns: int = -(2**63)) -> list[TraceSummary]:
    """One line per trace, most recent first. ``since_ns``: the traces have no span that
    started before it (so only the spans after it are read)."""
    if not trace_ids:
        return []
    return [
        TraceSummary(
            trace_id=trace_id,
            start=iso(start),
            start_ns=start,
            duration_ms=round(duration / 1e6, 3),
            spans=spans,
            errors=errors,
            root_service=root_service,
            root_name=root_name,
            services=sorted(services),
            conversation_id=conversation_id,
        )
        for (
            trace_id,
            start,
            duration,
            spans,
            errors,
            root_service,
            root_name,
            services,
            conversation_id,
        ) in SUMMARIES.run(engine, trace_ids=list(trace_ids), since=since_ns)
    ]


# Each criterion narrows the search only when given; one not given is NULL, and the compiler
# folds its condition away (and compiles each combination once).
SEARCH = Query(
    "traces.search",
    f"""
SELECT trace_id FROM spans
WHERE start_ns >= $start AND start_ns < $end
  AND ($service IS NULL OR trace_id IN (SELECT trace_id FROM spans WHERE service_name = $service))
  AND ($conversation IS NULL
       OR trace_id IN (SELECT trace_id FROM spans WHERE conversation_id = $conversation))
  AND ($event IS NULL OR trace_id IN (SELECT trace_id FROM logs WHERE event_name = $event))
GROUP BY trace_id
HAVING $failed IS NULL OR bool_or(status_code = {STATUS_ERROR}) = $failed
ORDER BY min(start_ns) DESC, trace_id LIMIT $limit
""",
)


# The window's first span too: a stretch that reaches back to it holds the whole window.
LATEST = Query(
    "traces.latest",
    """SELECT max(start_ns) AS latest_ns, min(start_ns) AS first_ns FROM spans
       WHERE start_ns >= $start AND start_ns < $end""",
)
# Whether any of the traces has a span before $before (in the window or not): the traces'
# keys are taken from their spans after $before (few rows), so the long scan compares
# integers, not ids. Another trace with the same key (the ids' first 8 bytes) only makes the
# answer "maybe": the search then reads further back, as it would for a real one.
EARLIER = Query(
    "traces.earlier",
    """SELECT count(*) AS spans FROM spans
       WHERE start_ns < $before
         AND trace_key IN (SELECT trace_key FROM spans WHERE start_ns >= $before
                           AND trace_id IN (SELECT unnest($trace_ids)))""",
)


def search_traces(
    engine: Engine, query: TraceQuery, *, step_ns: int = FIRST_STEP_NS
) -> list[TraceSummary]:
    """Traces that started in the window and match every given criterion, newest first.

    The search reads the window's last minute first, then longer stretches
    (``window.latest_first``), until one holds ``limit`` traces none of which has a span
    before it: a trace's start is its first span's, so no trace left out can be newer than
    those found, and each one found was read whole (and is summed from that stretch only).
    At 10M spans a search for the newest traces reads thousands of spans instead of grouping
    ten million by trace; one that matches little (one conversation's traces) reads the
    whole window after the first minute, as it always did.
    """
    limit = max(1, min(query.limit, 1000))
    criteria = {
        "service": query.service or None,
        "conversation": query.conversation_id or None,
        "event": query.event_name or None,
        "failed": query.failed,
        "limit": limit,
    }
    whole = query.window
    latest, first = LATEST.run(engine, **whole.bounds).rows[0]
    if latest is None:
        return []
    stretches = latest_first(whole, latest, step_ns)
    stretch = next(stretches)
    while True:
        found = [row[0] for row in SEARCH.run(engine, **criteria, **stretch.bounds)]
        # A stretch back to the window's first span read the window's spans, all of them
        # (a demo's store, a quiet bot's hour): its answer is the window's, with no proof
        # that its traces started in it (a scan of every older span) to make.
        if stretch == whole or stretch.start_ns <= first:
            return summarize(engine, found)
        if (
            len(found) == limit
            and not EARLIER.run(engine, before=stretch.start_ns, trace_ids=found).scalar()
        ):
            return summarize(engine, found, since_ns=stretch.start_ns)
        stretch = stretches.send(len(found) / limit)


class SpanEvent(TypedDict):
    name: str
    offset_ms: float
    attributes: dict[str, Any]


class SpanLink(TypedDict):
    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    #: Whether the linked trace is in the store (the UI makes it a link only then).
    stored: bool


class Scope(TypedDict):
    name: str
    version: str | None


class ResourceDetail(TypedDict):
    resource_id: str
    service: str
    attributes: dict[str, Any]


class SpanDetail(TypedDict):
    span_id: str
    parent_span_id: str | None
    depth: int
    service: str
    name: str
    kind: str
    start: str
    offset_ms: float
    duration_ms: float
    status: str
    status_message: str | None
    attributes: dict[str, Any]
    events: list[SpanEvent]
    links: list[SpanLink]
    scope: Scope | None
    resource_id: str | None


class LogEntry(TypedDict):
    time: str
    offset_ms: float
    service: str
    span_id: str | None
    event_name: str | None
    severity: str | None
    body: str | None
    attributes: dict[str, Any]


class TraceDetail(TypedDict):
    trace_id: str
    start: str
    duration_ms: float
    services: list[str]
    errors: int
    spans: list[SpanDetail]
    logs: list[LogEntry]
    #: The resources (service.version, host.name, ...) the trace's spans came from.
    resources: list[ResourceDetail]
    #: The conversation the trace's spans name (a turn's trace), else None.
    conversation_id: str | None


# One trace is read in two steps, so that a store of 10M spans is not read whole for it
# (spans are kept in arrival order, not by trace): when its spans start, from the trace_key
# column alone (one integer a row; the text trace_id is compared only where the integer
# matches), then its spans between those times, which DuckDB's zone maps (and ClickHouse's
# daily partitions and time-ordered key) narrow to the row groups (parts) of that stretch.
TRACE_TIMES = Query(
    "traces.times",
    """SELECT first_ns, last_ns FROM trace_times
       WHERE trace_key = $trace_key AND trace_id = $trace_id""",
)
# A trace ClickHouse's lookup table lacks (a database whose view feeding it was dropped, rows
# inserted before it existed) is looked for in the spans, as on DuckDB.
TRACE_TIMES_FROM_SPANS = Query(
    "traces.times_from_spans",
    """SELECT min(start_ns), max(start_ns) FROM spans
       WHERE trace_key = $trace_key AND trace_id = $trace_id""",
)
TRACE_SPANS = Query(
    "traces.spans",
    """SELECT span_id, parent_span_id, service_name, name, kind, start_ns, end_ns,
              duration_ns, status_code, status_message, attributes, links, scope_name,
              scope_version, resource_attributes, conversation_id
       FROM spans WHERE trace_id = $trace_id AND start_ns BETWEEN $first_ns AND $last_ns
       ORDER BY start_ns, span_id""",
)
STORED_TRACES = Query(
    "traces.stored",
    """SELECT DISTINCT trace_id FROM spans WHERE trace_id IN (SELECT unnest($trace_ids))
       ORDER BY trace_id""",
)
TRACE_SPAN_EVENTS = Query(
    "traces.span_events",
    """SELECT span_id, time_ns, name, attributes FROM span_events WHERE trace_id = $trace_id
       ORDER BY span_id, seq""",
)
# Log records by the integer key too, not by time: a record's clock (a browser's, another
# service's) need not agree with the spans'.
TRACE_LOGS = Query(
    "traces.logs",
    """SELECT time_ns, service_name, span_id, event_name, severity_text, body, attributes
       FROM logs WHERE trace_key = $trace_key AND trace_id = $trace_id
       ORDER BY time_ns, span_id, event_name, body""",
)


def get_trace(engine: Engine, trace_id: str) -> TraceDetail | None:
    """The whole trace in tree order (children after their parent), or None if unknown."""
    trace_id = valid_trace_id(trace_id)
    key = trace_key(trace_id)
    times = TRACE_TIMES.run(engine, trace_key=key, trace_id=trace_id).rows
    if not times:
        times = TRACE_TIMES_FROM_SPANS.run(engine, trace_key=key, trace_id=trace_id).rows
    if not times or times[0][0] is None:
        return None
    first_ns, last_ns = times[0]
    rows = TRACE_SPANS.run(engine, trace_id=trace_id, first_ns=first_ns, last_ns=last_ns).rows
    if not rows:
        return None
    links = {row[0]: _links(row[11]) for row in rows if row[11]}
    linked = sorted({link["trace_id"] for found in links.values() for link in found})
    stored = {row[0] for row in STORED_TRACES.run(engine, trace_ids=linked)} if linked else set()
    for found in links.values():
        for link in found:
            link["stored"] = link["trace_id"] in stored
    start = min(row[5] for row in rows)
    end = max(row[6] for row in rows)
    events: dict[str, list[SpanEvent]] = {}
    for span_id, time_ns, name, attributes in TRACE_SPAN_EVENTS.run(engine, trace_id=trace_id):
        events.setdefault(span_id, []).append(
            SpanEvent(name=name, offset_ms=_offset(time_ns, start), attributes=_load(attributes))
        )
    # A resource is identified by its attributes: the id is theirs, the same on every engine.
    resources: dict[str, ResourceDetail] = {}
    resource_of: dict[str, str] = {}
    for row in rows:
        attributes = _load(row[14])
        if attributes:
            resource_id = _resource_id(attributes)
            resource_of[row[0]] = resource_id
            resources.setdefault(
                resource_id,
                ResourceDetail(resource_id=resource_id, service=row[2], attributes=attributes),
            )
    by_id = {row[0]: row for row in rows}
    children: dict[str | None, list[str]] = {}
    for row in rows:
        parent = row[1] if row[1] in by_id else None
        children.setdefault(parent, []).append(row[0])
    spans: list[SpanDetail] = []
    # Depth-first without recursion: a trace may be deeper than Python's recursion limit.
    stack = [(root, 0) for root in reversed(children.get(None, []))]
    while stack:
        span_id, depth = stack.pop()
        (
            _,
            parent,
            service,
            name,
            kind,
            span_start,
            _,
            duration,
            status,
            message,
            attributes,
            _,
            scope_name,
            scope_version,
            _,
            _,
        ) = by_id[span_id]
        spans.append(
            SpanDetail(
                span_id=span_id,
                parent_span_id=parent,
                depth=depth,
                service=service,
                name=name,
                kind=KIND_NAMES.get(kind, str(kind)),
                start=iso(span_start),
                offset_ms=_offset(span_start, start),
                duration_ms=round(duration / 1e6, 3),
                status=STATUS_NAMES.get(status, str(status)),
                status_message=message,
                attributes=_load(attributes),
                events=events.get(span_id, []),
                links=links.get(span_id, []),
                scope=Scope(name=scope_name or "", version=scope_version)
                if scope_name or scope_version
                else None,
                resource_id=resource_of.get(span_id),
            )
        )
        stack.extend((child, depth + 1) for child in reversed(children.get(span_id, [])))
    logs = [
        LogEntry(
            time=iso(time_ns),
            offset_ms=_offset(time_ns, start),
            service=service,
            span_id=span_id,
            event_name=event_name,
            severity=severity,
            body=body,
            attributes=_load(attributes),
        )
        for time_ns, service, span_id, event_name, severity, body, attributes in TRACE_LOGS.run(
            engine, trace_key=key, trace_id=trace_id
        )
    ]
    return TraceDetail(
        trace_id=trace_id,
        start=iso(start),
        duration_ms=round((end - start) / 1e6, 3),
        services=sorted({row[2] for row in rows}),
        errors=sum(1 for row in rows if row[8] == STATUS_ERROR),
        spans=spans,
        logs=logs,
        resources=sorted(resources.values(), key=lambda r: (r["service"], r["resource_id"])),
        conversation_id=max((row[15] for row in rows if row[15]), default=None),
    )


def _links(stored: str) -> list[SpanLink]:
    found = load_json(stored)
    return [
        SpanLink(
            trace_id=str(link.get("trace_id", "")),
            span_id=str(link.get("span_id", "")),
            attributes=link.get("attributes") or {},
            stored=False,
        )
        for link in (found if isinstance(found, list) else [])
        if isinstance(link, dict)
    ]


def _resource_id(attributes: dict[str, Any]) -> str:
    text = json.dumps(attributes, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _offset(time_ns: int, start_ns: int) -> float:
    return round((time_ns - start_ns) / 1e6, 3)


def _load(attributes: str | None) -> dict[str, Any]:
    return load_object(attributes)
