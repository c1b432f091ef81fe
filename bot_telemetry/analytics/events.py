"""Custom events: log records named by ``microsoft.custom_event.name``, the OTLP
LogRecord ``event_name`` field or the ``event.name`` attribute.

Span events with the same name are copies made for trace viewers; they are not listed here.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ..contract import CUSTOM_EVENT_NAME, EVENT_NAME, TURN_IDENTITY_KEYS
from ..store.engine import Engine
from .journeys.requests import EventMatch
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
         AND ($prefix IS NULL OR starts_with(name, $prefix))
       ORDER BY time_ns DESC, name, span_id LIMIT $limit""",
)


def list_events(
    engine: Engine,
    window: TimeWindow = EVERYTHING,
    name: str | None = None,
    limit: int = 100,
) -> list[Event]:
    """The most recent events in the window, newest first, optionally of one name: a whole
    name, or a pattern ending in ``*`` as a funnel's steps take it (``LuisIntent.*``: every
    name that starts ``LuisIntent.``; ``*``: any). A ``*`` elsewhere (or a ``|``) is a
    ``RequestError`` naming ``name``."""
    exact = prefix = None
    if name:
        match = EventMatch.parse(name, "name")
        exact, prefix = (match.event, None) if match.prefix is None else (None, match.prefix)
    rows = RECENT_EVENTS.run(
        engine, name=exact, prefix=prefix, limit=max(0, limit), **window.bounds
    )
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


STORED_PAGE = Query(
    "events.stored_page",
    """SELECT event_id, time_ns, trace_id, span_id, service_name, name, attributes,
              service_version
       FROM events
       WHERE time_ns >= $start AND time_ns < $end
         AND ($after_ns IS NULL OR time_ns > $after_ns
              OR (time_ns = $after_ns AND event_id > $after_id))
       ORDER BY time_ns, event_id LIMIT $limit""",
)
STORED_COUNT = Query(
    "events.stored_count",
    """SELECT count(*) AS remaining FROM events
       WHERE time_ns >= $start AND time_ns < $end
         AND ($after_ns IS NULL OR time_ns > $after_ns
              OR (time_ns = $after_ns AND event_id > $after_id))""",
)
TURN_IDENTITIES = Query(
    "events.turn_identities",
    """SELECT trace_id, min(user_id) AS user, min(session_id) AS session FROM turns
       WHERE trace_id IN (SELECT unnest($trace_ids)) GROUP BY trace_id""",
)


def stored_events_page(
    engine: Engine,
    window: TimeWindow,
    after: tuple[int, str] | None = None,
    limit: int = 500,
    count: bool = False,
) -> EventsPage:
    """Events in the window after the cursor ``(time_ns, record_id)``, oldest first: one page
    of a resumable walk over stored history (the PostHog backfill). ``record_id`` is the
    model's ``event_id``: a cursor from one engine means nothing on another."""
    cursor = {
        "after_ns": after[0] if after else None,
        "after_id": after[1] if after else None,
        **window.bounds,
    }
    remaining = int(STORED_COUNT.run(engine, **cursor).scalar() or 0) if count else None
    rows = STORED_PAGE.run(engine, limit=max(0, limit), **cursor).rows
    traces = sorted({row[2] for row in rows if row[2]})
    turns: dict[str, dict[str, Any]] = {}
    if traces:
        for trace_id, user, session in TURN_IDENTITIES.run(engine, trace_ids=traces):
            values = dict(zip(TURN_IDENTITY_KEYS, (user, session), strict=True))
            turns[trace_id] = {key: value for key, value in values.items() if value is not None}
    events = [
        StoredEvent(
            record_id=record_id,
            time_ns=time_ns,
            trace_id=trace_id,
            span_id=span_id,
            service=service,
            service_version=version,
            name=name,
            attributes=load_object(attributes),
            turn=turns.get(trace_id or "", {}),
        )
        for record_id, time_ns, trace_id, span_id, service, name, attributes, version in rows
    ]
    return EventsPage(events=events, remaining=remaining)
