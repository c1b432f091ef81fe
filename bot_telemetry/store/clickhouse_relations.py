"""The logical relations (``store.model``) as ClickHouse SELECTs over the tables the
OpenTelemetry Collector's ``clickhouseexporter`` (and rotel's) writes.

What the views smooth over:

* span kinds and status codes are strings in two spellings: ``Server``/``Error`` (the
  exporter since 2024, rotel) and ``SPAN_KIND_SERVER``/``STATUS_CODE_ERROR`` (older
  exporters); both become the OTLP numbers the DuckDB store keeps;
* ``Timestamp`` is ``DateTime64(9)``: times become nanoseconds; metric tables written by some
  exporter versions hold ``DateTime`` (seconds), read as whole seconds;
* missing text is ``''`` in the exporter's columns and maps: the views say NULL;
* span events are ``Nested`` columns of ``otel_traces``: ``span_events`` unrolls them;
* ``EventName`` exists only in newer ``otel_logs`` tables: the view reads it when it is there.

The tables' columns are read from the server (``system.columns``) when an engine connects,
as the exporter itself does, so which variant a database holds never has to be configured.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..contract import (
    ACTIVITY_TYPE,
    APPLICATION_ID,
    ARTICLE_FOUND,
    ATTR_ACTIVITY_ID,
    ATTR_ACTIVITY_NAME,
    ATTR_ACTIVITY_TYPE,
    ATTR_CHANNEL_ID,
    ATTR_ENDUSER_PSEUDO_ID,
    ATTR_LOCALE,
    ATTR_SERVICE_VERSION,
    ATTR_SESSION_ID,
    ATTR_TURN_PROACTIVE,
    CHANNEL_ID,
    CONVERSATION_ATTRIBUTES,
    CUSTOM_EVENT_NAME,
    DIALOG_ID,
    EVENT_NAME,
    FROM_ID,
    INSTANCE_ID,
    INTENT,
    INTENT_SCORE,
    LOCALE,
    PEER_ATTRIBUTES,
    RECOGNIZER,
    STEP_NAME,
    TURN_SPAN_NAME,
)
from . import vocabulary
from .compiler import Definition, translate_expression

# Tables lives with the location (no sqlglot there); named here too, where it always was.
from .location import Tables as Tables

#: The exporter's metric tables, by the kind of point they hold.
METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")

#: OTLP numbers of the exporter's strings, in both spellings.
_KINDS = {"Internal": 1, "Server": 2, "Client": 3, "Producer": 4, "Consumer": 5}
_STATUSES = {"Ok": 1, "Error": 2}


#: Each table's columns and their types, as the server describes them.
Columns = Mapping[str, Mapping[str, str]]


# Over the events view's own promoted columns (read from the map once).
_FALLBACK = translate_expression(
    vocabulary.fallback("name", "intent", "intent_score", "article_found"), "clickhouse"
)
_ESCALATION = translate_expression(vocabulary.escalation("name", "activity_type"), "clickhouse")


def _text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_PROACTIVE = f"SpanAttributes[{_text(ATTR_TURN_PROACTIVE)}] = 'true'"
# The map's value as read ('' when absent), not NULL: ClickHouse's NULL NOT IN (...) is
# false where DuckDB's is NULL, and a turn with no type is the user's on both.
_BY_USER = vocabulary.by_user(
    f"SpanAttributes[{_text(ATTR_ACTIVITY_TYPE)}]",
    f"SpanAttributes[{_text(ATTR_ACTIVITY_NAME)}]",
    _PROACTIVE,
)


def _attr(column: str, key: str) -> str:
    return f"nullIf({column}[{_text(key)}], '')"


def _first_attr(column: str, keys: tuple[str, ...]) -> str:
    return f"coalesce({', '.join(_attr(column, key) for key in keys)})"


def _enum(column: str, numbers: Mapping[str, int], prefix: str) -> str:
    arms = ", ".join(
        f"{column} IN ({_text(name)}, {_text(prefix + name.upper())}), {number}"
        for name, number in numbers.items()
    )
    return f"toInt32(multiIf({arms}, 0))"


def _nanoseconds(column: str, type_name: str) -> str:
    if type_name.startswith("DateTime64"):
        return f"toUnixTimestamp64Nano({column})"
    return f"toInt64(toUnixTimestamp({column})) * 1000000000"


def _trace_key(column: str) -> str:
    # The first 8 bytes, big-endian: the same integer the DuckDB store keeps.
    return f"reinterpretAsUInt64(reverse(unhex(substring({column}, 1, 16))))"


def _is_error(column: str) -> str:
    return f"{column} IN ('Error', 'STATUS_CODE_ERROR')"


_NO_POINT = "CAST(NULL AS Nullable({}))"
_NO_METRIC_POINTS = """SELECT CAST('' AS String) AS metric_name,
    CAST(NULL AS Nullable(String)) AS description, CAST(NULL AS Nullable(String)) AS unit,
    CAST('' AS String) AS kind, CAST(NULL AS Nullable(Int32)) AS temporality,
    CAST(NULL AS Nullable(Bool)) AS monotonic, CAST('' AS String) AS service_name,
    CAST(NULL AS Nullable(Int64)) AS start_ns, toInt64(0) AS time_ns,
    CAST(NULL AS Nullable(Float64)) AS value, CAST(NULL AS Nullable(Int64)) AS count,
    CAST(NULL AS Nullable(Float64)) AS min, CAST(NULL AS Nullable(Float64)) AS max,
    CAST([] AS Array(Float64)) AS bounds, CAST([] AS Array(Int64)) AS bucket_counts,
    CAST(map() AS Map(String, String)) AS attributes, CAST('' AS String) AS scope_name,
    CAST(map() AS Map(String, String)) AS resource_attributes, toUInt64(0) AS series_key
FROM system.one WHERE 0"""

# An exponential histogram's buckets as explicit bounds and counts, as the DuckDB store keeps
# them (rows._exponential_buckets): bucket i of scale s holds (base^i, base^(i+1)] with
# base = 2^(2^-s); negative buckets mirror it; the zero bucket ends at 0 (the exporter does
# not keep the zero threshold); an empty +inf bucket closes the list.
_EXPONENTIAL_BOUNDS = """arrayConcat(
        arrayMap(i -> -pow(2, (NegativeOffset + i - 1) * pow(2, -Scale)),
                 arrayReverse(arrayEnumerate(NegativeBucketCounts))),
        [toFloat64(0)],
        arrayMap(i -> pow(2, (PositiveOffset + i) * pow(2, -Scale)),
                 arrayEnumerate(PositiveBucketCounts)))"""
_EXPONENTIAL_COUNTS = """arrayMap(c -> toInt64(c), arrayConcat(arrayReverse(NegativeBucketCounts),
        [ZeroCount], PositiveBucketCounts, [toUInt64(0)]))"""


def _metric_select(tables: Tables, kind: str, columns: Mapping[str, str]) -> str:
    """One metric table's points as metric_points rows."""
    time_ns = _nanoseconds("TimeUnix", columns.get("TimeUnix", "DateTime64(9)"))
    start_ns = _nanoseconds("StartTimeUnix", columns.get("StartTimeUnix", "DateTime64(9)"))
    # FLAG_NO_RECORDED_VALUE: a staleness marker, no value (the store keeps NULL).
    no_value = "bitAnd(Flags, 1) = 1"
    temporality = monotonic = count = low = high = _NO_POINT
    bounds, counts = "CAST([] AS Array(Float64))", "CAST([] AS Array(Int64))"
    if kind in ("gauge", "sum"):
        value = f"if({no_value}, NULL, toFloat64(Value))"
    else:
        value = f"if({no_value}, NULL, toFloat64(Sum))"
        count = "CAST(toInt64(Count) AS Nullable(Int64))"
    if kind in ("sum", "histogram", "exponential_histogram"):
        temporality = "CAST(AggregationTemporality AS Nullable(Int32))"
    if kind == "sum":
        monotonic = "CAST(IsMonotonic AS Nullable(Bool))"
    if kind in ("histogram", "exponential_histogram"):
        low, high = "CAST(Min AS Nullable(Float64))", "CAST(Max AS Nullable(Float64))"
    if kind == "histogram":
        bounds = "CAST(ExplicitBounds AS Array(Float64))"
        counts = "arrayMap(c -> toInt64(c), BucketCounts)"
    elif kind == "exponential_histogram":
        bounds, counts = _EXPONENTIAL_BOUNDS, _EXPONENTIAL_COUNTS
    return f"""SELECT toString(MetricName) AS metric_name,
    nullIf(toString(MetricDescription), '') AS description,
    nullIf(toString(MetricUnit), '') AS unit, {_text(kind)} AS kind,
    {temporality.format("Int32")} AS temporality, {monotonic.format("Bool")} AS monotonic,
    toString(ServiceName) AS service_name, nullIf({start_ns}, 0) AS start_ns,
    {time_ns} AS time_ns, {value} AS value, {count.format("Int64")} AS count,
    {low.format("Float64")} AS min, {high.format("Float64")} AS max,
    {bounds} AS bounds, {counts} AS bucket_counts,
    CAST(Attributes AS Map(String, String)) AS attributes, ScopeName AS scope_name,
    CAST(ResourceAttributes AS Map(String, String)) AS resource_attributes,
    cityHash64(ServiceName, ResourceAttributes, Attributes) AS series_key
FROM {tables.qualified(tables.metrics(kind))}"""


def definitions(tables: Tables, columns: Columns) -> dict[str, Definition]:
    """The definitions for a database whose tables have ``columns``."""
    traces = tables.qualified(tables.traces)
    logs_table = tables.qualified(tables.logs)
    start = _nanoseconds("Timestamp", columns[tables.traces].get("Timestamp", "DateTime64(9)"))
    duration = "toInt64(Duration)"

    def spans(mentioned: frozenset[str] | None) -> str:
        return f"""SELECT TraceId AS trace_id, SpanId AS span_id,
    nullIf(ParentSpanId, '') AS parent_span_id, ServiceName AS service_name, SpanName AS name,
    {_enum("SpanKind", _KINDS, "SPAN_KIND_")} AS kind,
    {start} AS start_ns, {start} + {duration} AS end_ns, {duration} AS duration_ns,
    {_enum("StatusCode", _STATUSES, "STATUS_CODE_")} AS status_code,
    nullIf(StatusMessage, '') AS status_message,
    {_first_attr("SpanAttributes", PEER_ATTRIBUTES)} AS peer,
    {_first_attr("SpanAttributes", CONVERSATION_ATTRIBUTES)} AS conversation_id,
    SpanAttributes AS attributes, ScopeName AS scope_name,
    nullIf(ScopeVersion, '') AS scope_version,
    nullIf(toJSONString(arrayMap((t, s, a) -> CAST((t, s, a),
        'Tuple(trace_id String, span_id String, attributes Map(String, String))'),
        `Links.TraceId`, `Links.SpanId`, `Links.Attributes`)), '[]') AS links,
    ResourceAttributes AS resource_attributes,
    cityHash64(TraceId, SpanId) AS span_key, cityHash64(TraceId, ParentSpanId) AS parent_key,
    {_trace_key("TraceId")} AS trace_key
FROM {traces}"""

    def span_events(mentioned: frozenset[str] | None) -> str:
        event_time = _nanoseconds("event.1", "DateTime64(9)")
        return f"""SELECT TraceId AS trace_id, SpanId AS span_id, toInt32(position - 1) AS seq,
    {event_time} AS time_ns, event.2 AS name, event.3 AS attributes
FROM {traces}
ARRAY JOIN arrayZip(`Events.Timestamp`, `Events.Name`, `Events.Attributes`) AS event,
    arrayEnumerate(`Events.Name`) AS position"""

    log_columns = columns[tables.logs]
    log_time = _nanoseconds("Timestamp", log_columns.get("Timestamp", "DateTime64(9)"))
    # The store's order: microsoft.custom_event.name, then the record's event_name.
    names = [_attr("LogAttributes", CUSTOM_EVENT_NAME)]
    if "EventName" in log_columns:
        names.append("nullIf(EventName, '')")
    names.append(_attr("LogAttributes", EVENT_NAME))
    event_name = f"coalesce({', '.join(names)})"

    def logs(mentioned: frozenset[str] | None) -> str:
        return f"""SELECT {log_time} AS time_ns, nullIf(TraceId, '') AS trace_id,
    nullIf(SpanId, '') AS span_id, ServiceName AS service_name,
    toInt32(SeverityNumber) AS severity_number, nullIf(SeverityText, '') AS severity_text,
    nullIf(Body, '') AS body, {event_name} AS event_name,
    {_first_attr("LogAttributes", CONVERSATION_ATTRIBUTES)} AS conversation_id,
    LogAttributes AS attributes, ScopeName AS scope_name,
    ResourceAttributes AS resource_attributes,
    if(TraceId = '', NULL, {_trace_key("TraceId")}) AS trace_key
FROM {logs_table}"""

    def events(mentioned: frozenset[str] | None) -> str:
        found = f"lower(LogAttributes[{_text(ARTICLE_FOUND)}])"
        return f"""SELECT time_ns, service_name, service_version, name, trace_id, span_id,
    conversation_id, user_id, session_id, channel_id, dialog_id, activity_type, locale, intent,
    intent_score, article_found, instance_id, step_name, recognizer, attributes, scope_name,
    trace_key, event_id,
    {_FALLBACK} AS fallback,
    {_ESCALATION} AS escalation
FROM (SELECT {log_time} AS time_ns, ServiceName AS service_name,
    {_attr("ResourceAttributes", ATTR_SERVICE_VERSION)} AS service_version,
    {event_name} AS name, nullIf(TraceId, '') AS trace_id, nullIf(SpanId, '') AS span_id,
    {_first_attr("LogAttributes", CONVERSATION_ATTRIBUTES)} AS conversation_id,
    {_first_attr("LogAttributes", (ATTR_ENDUSER_PSEUDO_ID, FROM_ID))} AS user_id,
    {_attr("LogAttributes", ATTR_SESSION_ID)} AS session_id,
    {_attr("LogAttributes", CHANNEL_ID)} AS channel_id,
    {_attr("LogAttributes", DIALOG_ID)} AS dialog_id,
    {_attr("LogAttributes", ACTIVITY_TYPE)} AS activity_type,
    {_attr("LogAttributes", LOCALE)} AS locale,
    {_attr("LogAttributes", INTENT)} AS intent,
    toFloat64OrNull(LogAttributes[{_text(INTENT_SCORE)}]) AS intent_score,
    multiIf({found} = 'true', true, {found} = 'false', false, NULL) AS article_found,
    {_attr("LogAttributes", INSTANCE_ID)} AS instance_id,
    {_attr("LogAttributes", STEP_NAME)} AS step_name,
    {_first_attr("LogAttributes", (RECOGNIZER, APPLICATION_ID))} AS recognizer,
    LogAttributes AS attributes, ScopeName AS scope_name,
    if(TraceId = '', NULL, {_trace_key("TraceId")}) AS trace_key,
    lower(hex(sipHash128(Timestamp, TraceId, SpanId, ServiceName, Body, LogAttributes,
                         ResourceAttributes))) AS event_id
  FROM {logs_table})
WHERE name IS NOT NULL"""

    def turns(mentioned: frozenset[str] | None) -> str:
        return f"""SELECT TraceId AS trace_id, SpanId AS span_id, {start} AS start_ns,
    {start} + {duration} AS end_ns, {duration} AS duration_ns,
    {_is_error("StatusCode")} AS failed,
    {_first_attr("SpanAttributes", CONVERSATION_ATTRIBUTES)} AS conversation_id,
    {_attr("SpanAttributes", ATTR_ENDUSER_PSEUDO_ID)} AS user_id,
    {_attr("SpanAttributes", ATTR_SESSION_ID)} AS session_id,
    {_attr("SpanAttributes", ATTR_CHANNEL_ID)} AS channel_id,
    {_attr("SpanAttributes", ATTR_ACTIVITY_ID)} AS activity_id,
    {_attr("SpanAttributes", ATTR_ACTIVITY_TYPE)} AS activity_type,
    {_PROACTIVE} AS proactive,
    {_BY_USER} AS by_user,
    {_attr("SpanAttributes", ATTR_LOCALE)} AS locale,
    ServiceName AS service_name,
    {_attr("ResourceAttributes", ATTR_SERVICE_VERSION)} AS service_version,
    {_trace_key("TraceId")} AS trace_key
FROM {traces}
WHERE SpanName = {_text(TURN_SPAN_NAME)}"""

    def metric_points(mentioned: frozenset[str] | None) -> str:
        parts = [
            _metric_select(tables, kind, columns[tables.metrics(kind)])
            for kind in METRIC_KINDS
            if tables.metrics(kind) in columns
        ]
        if not parts:
            return _NO_METRIC_POINTS
        return "\nUNION ALL\n".join(parts)

    lookup = f"{tables.traces}_trace_id_ts"

    def trace_times(mentioned: frozenset[str] | None) -> str:
        if lookup in columns:
            # The exporter's lookup, ordered by TraceId: a trace is found by its primary key
            # (the spans' bloom filter made every part's index be read). Whole seconds, so
            # the bounds are widened to the seconds they fall in.
            return f"""SELECT TraceId AS trace_id, {_trace_key("TraceId")} AS trace_key,
    toInt64(toUnixTimestamp(min(Start))) * 1000000000 AS first_ns,
    (toInt64(toUnixTimestamp(max(End))) + 1) * 1000000000 - 1 AS last_ns
FROM {tables.qualified(lookup)} GROUP BY TraceId"""
        return f"""SELECT TraceId AS trace_id, {_trace_key("TraceId")} AS trace_key,
    min({start}) AS first_ns, max({start}) AS last_ns
FROM {traces} GROUP BY TraceId"""

    return {
        "spans": spans,
        "span_events": span_events,
        "logs": logs,
        "events": events,
        "turns": turns,
        "metric_points": metric_points,
        "trace_times": trace_times,
    }
