"""Client events (Sunbird v3, from a web page or app): the stored ones, the failed set, and a
conversation's client events placed in its transcript.

Stored client events are log records of scope ``CLIENT_EVENT_SCOPE`` named by their eid; the
failed set is records of scope ``CLIENT_FAILED_SCOPE`` with the reason in their attributes and
the event as sent (ids pseudonymised) in their body.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from .. import contract
from ..store.engine import Engine
from .json_values import attribute_number
from .query import Query
from .traces import iso
from .window import EVERYTHING, TimeWindow

_EDATA = contract.SUNBIRD_EDATA_PREFIX


class ClientEvent(TypedDict):
    time: str
    eid: str
    service: str
    conversation_id: str | None
    trace_id: str | None
    session_id: str | None
    actor: str | None
    label: str
    properties: dict[str, Any]


class FailedEvent(TypedDict):
    received: str
    service: str
    eid: str | None
    mid: str | None
    field: str | None
    expected: str | None
    reason: str | None
    event: Any


class ClientEventNote(TypedDict):
    """A client event as the transcript shows it."""

    time: str
    eid: str
    label: str
    trace_id: str | None
    before_turn: int


def label(eid: str, properties: dict[str, Any]) -> str:
    """A short line saying what the event records, e.g. ``INTERACT CLICK suggested-action``."""
    edata = {
        key[len(_EDATA) :]: value for key, value in properties.items() if key.startswith(_EDATA)
    }
    parts = [eid]
    if eid == "FEEDBACK":
        rating = attribute_number(edata.get("rating"))
        if rating is not None:
            parts.append(f"rating {rating:g}")
        rated = properties.get(contract.SUNBIRD_OBJECT_PREFIX + "id")
        if rated:
            parts.append(f"on {rated}")
    else:
        for name in ("type", "subtype", "id", "pageid"):
            value = edata.get(name)
            if isinstance(value, str) and value and value not in parts:
                parts.append(value)
        duration = attribute_number(edata.get("duration"))
        if eid == "END" and duration is not None:
            parts.append(f"after {duration:g} s")
    return " ".join(part for part in parts if part)


CLIENT_EVENTS = Query(
    "client_events.list",
    """SELECT time_ns, event_name, service_name, conversation_id, trace_id, attributes
       FROM logs
       WHERE scope_name = $scope AND time_ns >= $start AND time_ns < $end
         AND ($eid IS NULL OR event_name = $eid)
         AND ($conversation IS NULL OR conversation_id = $conversation)
       ORDER BY time_ns DESC, event_name, trace_id LIMIT $limit""",
)
FAILED = Query(
    "client_events.failed",
    """SELECT time_ns, service_name, attributes, body FROM logs
       WHERE scope_name = $scope AND time_ns >= $start AND time_ns < $end
       ORDER BY time_ns DESC, body LIMIT $limit""",
)
COUNTS = Query(
    "client_events.counts",
    """SELECT event_name, count(*) AS events FROM logs
       WHERE scope_name = $scope AND time_ns >= $start AND time_ns < $end
       GROUP BY event_name ORDER BY event_name""",
)
FAILED_COUNT = Query(
    "client_events.failed_count",
    """SELECT count(*) AS failed FROM logs
       WHERE scope_name = $scope AND time_ns >= $start AND time_ns < $end""",
)
NOTES = Query(
    "client_events.notes",
    """SELECT time_ns, event_name, trace_id, attributes FROM logs
       WHERE scope_name = $scope
         AND (conversation_id = $conversation OR trace_id IN (SELECT unnest($trace_ids)))
       ORDER BY time_ns, event_name, trace_id""",
)


def list_client_events(
    engine: Engine,
    window: TimeWindow = EVERYTHING,
    eid: str | None = None,
    conversation_id: str | None = None,
    limit: int = 100,
) -> list[ClientEvent]:
    """Stored client events in the window, newest first."""
    rows = CLIENT_EVENTS.run(
        engine,
        scope=contract.CLIENT_EVENT_SCOPE,
        eid=eid or None,
        conversation=conversation_id or None,
        limit=max(0, limit),
        **window.bounds,
    )
    found: list[ClientEvent] = []
    for time_ns, eid_, service, conversation, trace_id, attributes in rows:
        properties = json.loads(attributes or "{}")
        found.append(
            ClientEvent(
                time=iso(time_ns),
                eid=eid_,
                service=service,
                conversation_id=conversation,
                trace_id=trace_id,
                session_id=properties.get(contract.ATTR_SESSION_ID),
                actor=properties.get(contract.ATTR_SUNBIRD_ACTOR_ID),
                label=label(eid_, properties),
                properties=properties,
            )
        )
    return found


def list_failed(
    engine: Engine, window: TimeWindow = EVERYTHING, limit: int = 100
) -> list[FailedEvent]:
    """The failed set: invalid events received in the window, newest first, with the reason."""
    rows = FAILED.run(
        engine, scope=contract.CLIENT_FAILED_SCOPE, limit=max(0, limit), **window.bounds
    )
    failed: list[FailedEvent] = []
    for time_ns, service, attributes, body in rows:
        properties = json.loads(attributes or "{}")
        try:
            event = json.loads(body) if body else None
        except ValueError:
            event = body  # cut short when it was too long to keep whole
        failed.append(
            FailedEvent(
                received=iso(time_ns),
                service=service,
                eid=properties.get(contract.ATTR_SUNBIRD_EID),
                mid=properties.get(contract.ATTR_SUNBIRD_MID),
                field=properties.get(contract.ATTR_SUNBIRD_FAILURE_FIELD),
                expected=properties.get(contract.ATTR_SUNBIRD_FAILURE_EXPECTED),
                reason=properties.get(contract.ATTR_SUNBIRD_FAILURE_REASON),
                event=event,
            )
        )
    return failed


def counts(engine: Engine, window: TimeWindow = EVERYTHING) -> dict[str, Any]:
    """Stored client events per eid, and the size of the failed set, in the window."""
    by_eid = dict(COUNTS.run(engine, scope=contract.CLIENT_EVENT_SCOPE, **window.bounds).rows)
    failed = FAILED_COUNT.run(engine, scope=contract.CLIENT_FAILED_SCOPE, **window.bounds)
    return {"stored": by_eid, "failed": int(failed.scalar() or 0)}


def conversation_notes(
    engine: Engine,
    conversation_id: str,
    trace_ids: list[str],
    turn_starts_ns: list[int],
) -> list[ClientEventNote]:
    """The client events of one conversation (by its id in cdata, or by a trace of its turns),
    in time order, each with the index of the first turn that started after it."""
    rows = NOTES.run(
        engine,
        scope=contract.CLIENT_EVENT_SCOPE,
        conversation=conversation_id,
        trace_ids=list(trace_ids),
    )
    notes: list[ClientEventNote] = []
    for time_ns, eid, trace_id, attributes in rows:
        before = sum(1 for start in turn_starts_ns if start <= time_ns)
        notes.append(
            ClientEventNote(
                time=iso(time_ns),
                eid=eid,
                label=label(eid, json.loads(attributes or "{}")),
                trace_id=trace_id,
                before_turn=before,
            )
        )
    return notes
