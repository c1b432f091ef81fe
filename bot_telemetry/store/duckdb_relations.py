"""The logical relations (``store.model``) as DuckDB SELECTs over the store's own tables.

The store already keeps times in nanoseconds, kinds and status codes as OTLP numbers, NULL for
what is missing, and promotes the attributes the hot queries read (``peer``,
``conversation_id``, ``event_name``; a turn's and an event's vocabulary: user, session,
channel, activity type, intent, ...; the trace as an integer ``trace_key``) to columns at
ingest; so most relations are the tables themselves. Attributes are JSON text. Resource
attributes live once per resource in ``resources``: that join is made only for queries that
name a column needing it (DuckDB does not drop an unused LEFT JOIN by itself).
"""

from __future__ import annotations

from ..contract import (
    ATTR_ACTIVITY_NAME,
    ATTR_SERVICE_VERSION,
    ATTR_TURN_PROACTIVE,
    TURN_SPAN_NAME,
)
from . import vocabulary
from .compiler import Definition, translate_expression
from .database import STATUS_ERROR

# Over the promoted columns: no JSON is parsed.
_FALLBACK = translate_expression(
    vocabulary.fallback("l.event_name", "l.intent", "l.intent_score", "l.article_found"), "duckdb"
)
_ESCALATION = translate_expression(
    vocabulary.escalation("l.event_name", "l.activity_type"), "duckdb"
)


def _attr(column: str, key: str) -> str:
    return f"""nullif(json_extract_string({column}, '$."{key}"'), '')"""


def _first_of(column: str, *keys: str) -> str:
    """The first of ``keys`` the JSON holds: one parse for all of them (DuckDB parses the
    document again for each json_extract_string, and that is most of reading a key)."""
    paths = ", ".join(f"""'$."{key}"'""" for key in keys)
    return (
        "coalesce("
        + ", ".join(
            f"nullif(json_extract_string({column}, [{paths}])[{i}], '')"
            for i in range(1, len(keys) + 1)
        )
        + ")"
    )


def _needs(mentioned: frozenset[str] | None, *columns: str) -> bool:
    return mentioned is None or any(column in mentioned for column in columns)


def _resources(mentioned: frozenset[str] | None, table: str, *columns: str) -> tuple[str, str]:
    """The resource attributes expression and the join it needs (or NULL and no join)."""
    if _needs(mentioned, *columns):
        return "r.attributes", f"LEFT JOIN resources r ON r.resource_id = {table}.resource_id"
    return "CAST(NULL AS VARCHAR)", ""


def spans(mentioned: frozenset[str] | None) -> str:
    resource, join = _resources(mentioned, "s", "resource_attributes")
    return f"""SELECT s.trace_id, s.span_id, s.parent_span_id, s.service_name, s.name, s.kind,
    s.start_ns, s.end_ns, s.duration_ns, s.status_code, s.status_message, s.peer,
    s.conversation_id, s.attributes, s.scope_name, s.scope_version, s.links,
    {resource} AS resource_attributes,
    hash(s.trace_key, s.span_number) AS span_key,
    hash(s.trace_key, s.parent_number) AS parent_key, s.trace_key
FROM main.spans s {join}"""


def span_events(mentioned: frozenset[str] | None) -> str:
    return "SELECT trace_id, span_id, seq, time_ns, name, attributes FROM main.span_events"


def logs(mentioned: frozenset[str] | None) -> str:
    resource, join = _resources(mentioned, "l", "resource_attributes")
    return f"""SELECT l.time_ns, l.trace_id, l.span_id, l.service_name, l.severity_number,
    l.severity_text, l.body, l.event_name, l.conversation_id, l.attributes, l.scope_name,
    {resource} AS resource_attributes, l.trace_key
FROM main.logs l {join}"""


def events(mentioned: frozenset[str] | None) -> str:
    resource, join = _resources(mentioned, "l", "service_version")
    return f"""SELECT l.time_ns, l.service_name,
    {_attr(resource, ATTR_SERVICE_VERSION)} AS service_version,
    l.event_name AS name, l.trace_id, l.span_id, l.conversation_id, l.user_id, l.session_id,
    l.channel_id, l.dialog_id, l.activity_type, l.locale, l.intent, l.intent_score,
    l.article_found, l.instance_id, l.step_name, l.recognizer, l.attributes, l.scope_name,
    l.trace_key, l.record_id AS event_id,
    {_FALLBACK} AS fallback,
    {_ESCALATION} AS escalation
FROM main.logs l {join}
WHERE l.event_name IS NOT NULL"""


# A proactive turn's activity is always an event: only those few turns parse their JSON
# (CASE evaluates a branch for the rows that take it), so the turn queries stay column reads.
_PROACTIVE = f"""CASE WHEN s.activity_type = 'event'
    THEN coalesce({_attr("s.attributes", ATTR_TURN_PROACTIVE)} = 'true', false)
    ELSE false END"""
_BY_USER = vocabulary.by_user(
    "s.activity_type", _attr("s.attributes", ATTR_ACTIVITY_NAME), _PROACTIVE
)


def turns(mentioned: frozenset[str] | None) -> str:
    resource, join = _resources(mentioned, "s", "service_version")
    return f"""SELECT s.trace_id, s.span_id, s.start_ns, s.end_ns, s.duration_ns,
    s.status_code = {STATUS_ERROR} AS failed, s.conversation_id, s.user_id, s.session_id,
    s.channel_id, s.activity_id, s.activity_type, {_PROACTIVE} AS proactive,
    {_BY_USER} AS by_user, s.locale,
    s.service_name, {_attr(resource, ATTR_SERVICE_VERSION)} AS service_version, s.trace_key
FROM main.spans s {join}
WHERE s.name = '{TURN_SPAN_NAME}'"""


def metric_points(mentioned: frozenset[str] | None) -> str:
    resource, join = _resources(mentioned, "p", "resource_attributes")
    return f"""SELECT p.metric_name, p.description, p.unit, p.kind, p.temporality, p.monotonic,
    p.service_name, p.start_ns, p.time_ns, p.value, p.count, p.min, p.max, p.bounds,
    p.bucket_counts, p.attributes, p.scope_name, {resource} AS resource_attributes,
    hash(p.service_name, p.resource_id, p.attributes) AS series_key
FROM main.metric_points p {join}"""


def trace_times(mentioned: frozenset[str] | None) -> str:
    # The spans themselves: DuckDB has no index a trace id could be looked up in (the
    # primary key's ART index serves no scan), so its integer key is the cheapest read.
    # A filter on the trace is pushed below the grouping: only its spans are grouped.
    return """SELECT trace_id, trace_key, min(start_ns) AS first_ns, max(start_ns) AS last_ns
FROM main.spans GROUP BY trace_id, trace_key"""


DEFINITIONS: dict[str, Definition] = {
    "spans": spans,
    "span_events": span_events,
    "logs": logs,
    "events": events,
    "turns": turns,
    "metric_points": metric_points,
    "trace_times": trace_times,
}
