"""Custom events: log records named by ``microsoft.custom_event.name``, the OTLP
LogRecord ``event_name`` field or the ``event.name`` attribute.

Span events with the same name are copies made for trace viewers; they are not listed here.
"""

from __future__ import annotations

from typing import Any, TypedDict

import duckdb

from ..contract import CUSTOM_EVENT_NAME, EVENT_NAME
from .json_values import load_object
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


def list_events(
    db: duckdb.DuckDBPyConnection,
    window: TimeWindow = EVERYTHING,
    name: str | None = None,
    limit: int = 100,
) -> list[Event]:
    """The most recent events in the window, newest first, optionally of one name."""
    where = "event_name IS NOT NULL AND time_ns >= ? AND time_ns < ?"
    params: list[Any] = list(window.params)
    if name:
        where += " AND event_name = ?"
        params.append(name)
    rows = db.execute(
        f"""SELECT time_ns, service_name, event_name, trace_id, span_id, conversation_id,
                   attributes
            FROM logs WHERE {where} ORDER BY time_ns DESC LIMIT ?""",
        [*params, max(0, limit)],
    ).fetchall()
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
