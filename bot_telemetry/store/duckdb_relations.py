"""The logical relations (``store.model``) as DuckDB SELECTs over the store's own tables.

The store already keeps times in nanoseconds, kinds and status codes as OTLP numbers, NULL for
what is missing, and promotes the attributes the hot queries read (``peer``,
``conversation_id``, ``event_name``; a turn's and an event's vocabulary: user, session,
channel, activity type, intent, ...) to columns at ingest; so most relations are the tables
themselves. Attributes are JSON text. Resource attributes live once per resource in
``resources``: that join is made only for queries that name a column needing it (DuckDB does
not drop an unused LEFT JOIN by itself). A store written before the promoted columns, opened
read-only, is read through ``definitions(promoted=False)``: the same columns from the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..contract import (
    ATTR_SERVICE_VERSION,
    PROMOTED_EVENT_PROPERTIES,
    PROMOTED_SPAN_ATTRIBUTES,
    TURN_SPAN_NAME,
)
from .compiler import Definition
from .database import STATUS_ERROR, promoted_sql, trace_key_sql


def _attr(column: str, key: str) -> str:
    return f"""nullif(json_extract_string({column}, '$."{key}"'), '')"""


def _needs(mentioned: frozenset[str] | None, *columns: str) -> bool:
    return mentioned is None or any(column in mentioned for column in columns)


def _resources(mentioned: frozenset[str] | None, table: str, *columns: str) -> tuple[str, str]:
    """The resource attributes expression and the join it needs (or NULL and no join)."""
    if _needs(mentioned, *columns):
        return "r.attributes", f"LEFT JOIN resources r ON r.resource_id = {table}.resource_id"
    return "CAST(NULL AS VARCHAR)", ""


def _key(table: str, stored: bool) -> str:
    return f"{table}.trace_key" if stored else trace_key_sql(f"{table}.trace_id")


def _spans(stored: bool) -> Definition:
    def spans(mentioned: frozenset[str] | None) -> str:
        resource, join = _resources(mentioned, "s", "resource_attributes")
        return f"""SELECT s.trace_id, s.span_id, s.parent_span_id, s.service_name, s.name, s.kind,
    s.start_ns, s.end_ns, s.duration_ns, s.status_code, s.status_message, s.peer,
    s.conversation_id, s.attributes, s.scope_name, {resource} AS resource_attributes,
    hash(s.trace_id, s.span_id) AS span_key, hash(s.trace_id, s.parent_span_id) AS parent_key,
    {_key("s", stored)} AS trace_key
FROM main.spans s {join}"""

    return spans


def span_events(mentioned: frozenset[str] | None) -> str:
    return "SELECT trace_id, span_id, seq, time_ns, name, attributes FROM main.span_events"


def logs(mentioned: frozenset[str] | None) -> str:
    resource, join = _resources(mentioned, "l", "resource_attributes")
    return f"""SELECT l.time_ns, l.trace_id, l.span_id, l.service_name, l.severity_number,
    l.severity_text, l.body, l.event_name, l.conversation_id, l.attributes, l.scope_name,
    {resource} AS resource_attributes
FROM main.logs l {join}"""


def _promoted(table: str, promoted: Mapping[str, tuple[str, ...]], stored: bool) -> dict[str, str]:
    """Each promoted column: the table's column, or (an older store) computed from the JSON."""
    return {
        name: f"{table}.{name}" if stored else promoted_sql(name, keys, f"{table}.attributes")
        for name, keys in promoted.items()
    }


def _events(stored: bool) -> Definition:
    def events(mentioned: frozenset[str] | None) -> str:
        resource, join = _resources(mentioned, "l", "service_version")
        c = _promoted("l", PROMOTED_EVENT_PROPERTIES, stored)
        return f"""SELECT l.time_ns, l.service_name,
    {_attr(resource, ATTR_SERVICE_VERSION)} AS service_version,
    l.event_name AS name, l.trace_id, l.span_id, l.conversation_id,
    {c["user_id"]} AS user_id, {c["session_id"]} AS session_id,
    {c["channel_id"]} AS channel_id, {c["dialog_id"]} AS dialog_id,
    {c["activity_type"]} AS activity_type, {c["locale"]} AS locale, {c["intent"]} AS intent,
    {c["intent_score"]} AS intent_score, {c["article_found"]} AS article_found,
    {c["instance_id"]} AS instance_id, {c["step_name"]} AS step_name,
    l.attributes, l.scope_name, {_key("l", stored)} AS trace_key
FROM main.logs l {join}
WHERE l.event_name IS NOT NULL"""

    return events


def _turns(stored: bool) -> Definition:
    def turns(mentioned: frozenset[str] | None) -> str:
        resource, join = _resources(mentioned, "s", "service_version")
        c = _promoted("s", PROMOTED_SPAN_ATTRIBUTES, stored)
        return f"""SELECT s.trace_id, s.span_id, s.start_ns, s.end_ns, s.duration_ns,
    s.status_code = {STATUS_ERROR} AS failed, s.conversation_id,
    {c["user_id"]} AS user_id, {c["session_id"]} AS session_id,
    {c["channel_id"]} AS channel_id, {c["activity_id"]} AS activity_id,
    {c["activity_type"]} AS activity_type, {c["locale"]} AS locale,
    s.service_name, {_attr(resource, ATTR_SERVICE_VERSION)} AS service_version,
    {_key("s", stored)} AS trace_key
FROM main.spans s {join}
WHERE s.name = '{TURN_SPAN_NAME}'"""

    return turns


def metric_points(mentioned: frozenset[str] | None) -> str:
    return """SELECT metric_name, unit, service_name, time_ns, value, count, attributes
FROM main.metric_points"""


def definitions(promoted: bool = True) -> dict[str, Definition]:
    """The relations over a store with (or, written by an older version, without) the
    promoted columns."""
    return {
        "spans": _spans(promoted),
        "span_events": span_events,
        "logs": logs,
        "events": _events(promoted),
        "turns": _turns(promoted),
        "metric_points": metric_points,
    }


DEFINITIONS: dict[str, Definition] = definitions()
#: For a store written before the promoted columns (opened read-only).
JSON_DEFINITIONS: dict[str, Definition] = definitions(promoted=False)
