"""Custom events: log records carrying ``microsoft.custom_event.name`` (or an OTLP event name).

Span events with the same name are copies made for trace viewers; they are not listed here.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from ..contract import CUSTOM_EVENT_NAME
from ..store.engine import Engine
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
        properties = json.loads(attributes or "{}")
        properties.pop(CUSTOM_EVENT_NAME, None)
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
