"""Custom events: log records named by ``microsoft.custom_event.name``, the OTLP
LogRecord ``event_name`` field or the ``event.name`` attribute.

Span events with the same name are copies made for trace viewers; they are not listed here.
"""

from __future__ import annotations

from typing import Any, TypedDict

import duckdb

from ..contract import CUSTOM_EVENT_NAME, EVENT_NAME, TURN_IDENTITY_KEYS, TURN_SPAN_NAME
from ..store.engine import Engine, embedded_store
from .json_values import load_object
from .query import Query
from .traces import iso
from .window import EVERYTHING, TimeWindow


class Event(TypedDict):
    time: str
    service: str
    name: str
    trace_id: str | None
    span_id: str | None
    conversation_id: str | None
    properties: dict[str, Any]


RECENT_EVENTS = Query(
    "events.recent",
    """SELECT time_ns, service_name, name, trace_id, span_id, conversation_id, attributes
       FROM events
       WHERE time_ns >= $start AND time_ns < $end AND ($name IS NULL OR name = $name)
       ORDER BY time_ns DESC, name, span_id LIMIT $limit""",
)


def list_events(
    engine: Engine,
    window: TimeWindow = EVERYTHING,
    name: str | None = None,
    limit: int = 100,
) -> list[Event]:
    """The most recent events in the window, newest first, optionally of one name."""
    rows = RECENT_EVENTS.run(engine, name=name or None, limit=max(0, limit), **window.bounds)
    events = []
    for time_ns, service, event, trace_id, span_id, conversation_id, attributes in rows:
        properties = load_object(attributes)
        # The name is the event's; the attribute that carried it is not a property.
        for key in (CUSTOM_EVENT_NAME, EVENT_NAME):
            if properties.get(key) == event:
                properties.pop(key)
        events.append(
            Event(
                time=iso(time_ns),
                service=service,
                name=event,
                trace_id=trace_id,
                span_id=span_id,
                conversation_id=conversation_id,
                properties=properties,
            )
        )
    return events


class StoredEvent(TypedDict):
    """A stored event as forwarders need it: its own id, ids, time, resource and the turn's
    user and session (for events stored before every event carried them)."""

    record_id: str
    time_ns: int
    trace_id: str | None
    span_id: str | None
    service: str
    service_version: str | None
    name: str
    attributes: dict[str, Any]
    turn: dict[str, Any]


class EventsPage(TypedDict):
    events: list[StoredEvent]
    #: Events in the window after the cursor, when asked for (``count=True``).
    remaining: int | None


def stored_events_page(
    engine: Engine,
    window: TimeWindow,
    after: tuple[int, str] | None = None,
    limit: int = 500,
    count: bool = False,
) -> EventsPage:
    """Events in the window after the cursor ``(time_ns, record_id)``, oldest first: one page
    of a resumable walk over stored history (the PostHog backfill). The embedded store only,
    for now: the cursor is its log records' ids."""
    with embedded_store(engine, "reading stored history").reader() as db:
        return _stored_events_page(db, window, after, limit, count)


def _stored_events_page(
    db: duckdb.DuckDBPyConnection,
    window: TimeWindow,
    after: tuple[int, str] | None,
    limit: int,
    count: bool,
) -> EventsPage:
    where = "l.event_name IS NOT NULL AND l.time_ns >= ? AND l.time_ns < ?"
    params: list[Any] = list(window.params)
    if after is not None:
        where += " AND (l.time_ns > ? OR (l.time_ns = ? AND l.record_id > ?))"
        params += [after[0], after[0], after[1]]
    remaining = None
    if count:
        found = db.execute(f"SELECT count(*) FROM logs l WHERE {where}", params).fetchone()
        remaining = int(found[0]) if found else 0
    rows = db.execute(
        f"""SELECT l.record_id, l.time_ns, l.trace_id, l.span_id, l.service_name, l.event_name,
                   l.attributes, r.attributes
            FROM logs l LEFT JOIN resources r ON r.resource_id = l.resource_id
            WHERE {where} ORDER BY l.time_ns, l.record_id LIMIT ?""",
        [*params, max(0, limit)],
    ).fetchall()
    traces = sorted({row[2] for row in rows if row[2]})
    turns: dict[str, dict[str, Any]] = {}
    if traces:
        for trace_id, attributes in db.execute(
            "SELECT trace_id, any_value(attributes) FROM spans "
            "WHERE name = ? AND trace_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY trace_id",
            [TURN_SPAN_NAME, traces],
        ).fetchall():
            turn = load_object(attributes)
            turns[trace_id] = {key: turn[key] for key in TURN_IDENTITY_KEYS if key in turn}
    events = []
    versions: dict[str | None, Any] = {}  # a page repeats a few resources
    for record_id, time_ns, trace_id, span_id, service, name, attributes, resource in rows:
        if resource not in versions:
            versions[resource] = load_object(resource).get("service.version")
        version = versions[resource]
        events.append(
            StoredEvent(
                record_id=record_id,
                time_ns=time_ns,
                trace_id=trace_id,
                span_id=span_id,
                service=service,
                service_version=str(version) if version else None,
                name=name,
                attributes=load_object(attributes),
                turn=turns.get(trace_id or "", {}),
            )
        )
    return EventsPage(events=events, remaining=remaining)
