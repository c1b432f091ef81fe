"""The logical model: the relations every query is written against, on every engine.

A relation has the same columns, in the same order, with the same meaning on DuckDB (views
over the store's tables, ``duckdb_relations``) and on ClickHouse (views over the tables the
OpenTelemetry Collector's ``clickhouseexporter`` writes, ``clickhouse_relations``). Queries
name only these relations and columns; the compiler (``compiler``) puts each engine's
definition in their place.

Conventions every relation keeps:

* times are ``BIGINT`` nanoseconds since the epoch (``*_ns``), never timestamps, so both
  engines return the same Python ``int``;
* a missing or empty text value is NULL (ClickHouse stores ``''``; its views say NULL);
* span kinds and status codes are the OTLP enum numbers (``store.database.KIND_*``);
* ``attributes`` columns are attribute maps: read one key with ``attr(attributes, 'key')``;
  selected whole they come back as JSON text (on ClickHouse every value is text, as the
  exporter's ``Map(String, String)`` stores it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    #: The values differ between engines (hash keys, ids): for joins, grouping and cursors
    #: only, never to compare or show.
    per_engine: bool = False


@dataclass(frozen=True)
class Relation:
    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


_ATTRIBUTES = "attribute map (JSON text when selected; read keys with attr())"

SPANS = Relation(
    "spans",
    "One row per span.",
    (
        Column("trace_id", "VARCHAR", "32 lower-case hex digits"),
        Column("span_id", "VARCHAR", "16 lower-case hex digits"),
        Column("parent_span_id", "VARCHAR", "the parent's span id; NULL for a root span"),
        Column("service_name", "VARCHAR", "the resource's service.name"),
        Column("name", "VARCHAR", "the span name"),
        Column("kind", "INTEGER", "OTLP SpanKind: 1 internal, 2 server, 3 client, ..."),
        Column("start_ns", "BIGINT", "start time"),
        Column("end_ns", "BIGINT", "end time"),
        Column("duration_ns", "BIGINT", "end_ns - start_ns"),
        Column("status_code", "INTEGER", "OTLP status: 0 unset, 1 ok, 2 error"),
        Column("status_message", "VARCHAR", "the status description, NULL if none"),
        Column(
            "peer",
            "VARCHAR",
            "the dependency a CLIENT/PRODUCER span calls: the first of "
            "contract.PEER_ATTRIBUTES it carries",
        ),
        Column(
            "conversation_id",
            "VARCHAR",
            "the first of contract.CONVERSATION_ATTRIBUTES the span carries",
        ),
        Column("attributes", "ATTRIBUTES", "the span's attributes: " + _ATTRIBUTES),
        Column("scope_name", "VARCHAR", "the instrumentation scope"),
        Column("scope_version", "VARCHAR", "the instrumentation scope's version, NULL if none"),
        Column(
            "links",
            "VARCHAR",
            "the span's links as JSON text: a list of {trace_id, span_id, attributes}; "
            "NULL or [] when it has none",
        ),
        Column("resource_attributes", "ATTRIBUTES", "the resource's attributes"),
        Column(
            "span_key",
            "UBIGINT",
            "a 64-bit hash of (trace_id, span_id), for joins only: ClickHouse joins one "
            "integer several times faster than two strings; the values differ by engine",
            per_engine=True,
        ),
        Column(
            "parent_key",
            "UBIGINT",
            "the same hash of (trace_id, parent_span_id); join a child's parent_key to its "
            "parent's span_key (a root's matches no span)",
            per_engine=True,
        ),
        Column(
            "trace_key",
            "UBIGINT",
            "the trace id's first 8 bytes as an integer, for joins only (turns to their "
            "events and calls): one integer joins several times faster than the 32-digit "
            "text; NULL without a trace",
        ),
    ),
)

SPAN_EVENTS = Relation(
    "span_events",
    "One row per span event (OTLP Span.events).",
    (
        Column("trace_id", "VARCHAR", "the span's trace"),
        Column("span_id", "VARCHAR", "the span the event belongs to"),
        Column("seq", "INTEGER", "the event's position in its span, from 0"),
        Column("time_ns", "BIGINT", "when it happened"),
        Column("name", "VARCHAR", "the event name"),
        Column("attributes", "ATTRIBUTES", "the event's attributes"),
    ),
)

LOGS = Relation(
    "logs",
    "One row per log record (custom events included).",
    (
        Column("time_ns", "BIGINT", "the record's time (its observed time if it has none)"),
        Column("trace_id", "VARCHAR", "the trace it was recorded in, NULL if none"),
        Column("span_id", "VARCHAR", "the span it was recorded in, NULL if none"),
        Column("service_name", "VARCHAR", "the resource's service.name"),
        Column("severity_number", "INTEGER", "OTLP severity number, 0 if unspecified"),
        Column("severity_text", "VARCHAR", "severity text, NULL if none"),
        Column("body", "VARCHAR", "the body as text (JSON for structured bodies), NULL if none"),
        Column(
            "event_name",
            "VARCHAR",
            "microsoft.custom_event.name, else the record's event_name, else NULL",
        ),
        Column("conversation_id", "VARCHAR", "as on spans"),
        Column("attributes", "ATTRIBUTES", "the record's attributes"),
        Column("scope_name", "VARCHAR", "the instrumentation scope"),
        Column("resource_attributes", "ATTRIBUTES", "the resource's attributes"),
        Column("trace_key", "UBIGINT", "as on spans"),
    ),
)

EVENTS = Relation(
    "events",
    "Custom events, client events and every log record with an event name.",
    (
        Column("time_ns", "BIGINT", "when it happened"),
        Column("service_name", "VARCHAR", "the resource's service.name"),
        Column("service_version", "VARCHAR", "the resource's service.version, NULL if none"),
        Column("name", "VARCHAR", "the event name (logs.event_name)"),
        Column("trace_id", "VARCHAR", "the trace (turn) it was recorded in, NULL if none"),
        Column("span_id", "VARCHAR", "the span it was recorded in, NULL if none"),
        Column("conversation_id", "VARCHAR", "as on spans"),
        Column(
            "user_id",
            "VARCHAR",
            "the pseudonymous user: enduser.pseudo.id, else fromId (already pseudonymised "
            "by the bot's privacy policy)",
        ),
        Column("session_id", "VARCHAR", "session.id, NULL if none"),
        Column("channel_id", "VARCHAR", "channelId, NULL if none"),
        Column("dialog_id", "VARCHAR", "DialogId (botbuilder's waterfall events), NULL if none"),
        Column("activity_type", "VARCHAR", "activityType (BotMessage* events), NULL if none"),
        Column("locale", "VARCHAR", "locale (BotMessage* events), NULL if none"),
        Column("intent", "VARCHAR", "intent (a recognizer's result), NULL if none"),
        Column(
            "intent_score",
            "DOUBLE",
            "intentScore as a number (a recognizer's result), NULL if none or not a number",
        ),
        Column(
            "article_found",
            "BOOLEAN",
            "articleFound (a Q&A result): true or false, NULL if none",
        ),
        Column("instance_id", "VARCHAR", "InstanceId (a waterfall dialog's run), NULL if none"),
        Column("step_name", "VARCHAR", "StepName (a waterfall step), NULL if none"),
        Column(
            "recognizer",
            "VARCHAR",
            "a recognizer result's recognizer: recognizer (TelemetryRecognizer's name), else "
            "applicationId (botbuilder-ai's LuisResult), NULL if none",
        ),
        Column("attributes", "ATTRIBUTES", "the event's properties and measurements"),
        Column(
            "scope_name",
            "VARCHAR",
            "the instrumentation scope (client events: contract.CLIENT_EVENT_SCOPE)",
        ),
        Column("trace_key", "UBIGINT", "as on spans"),
        Column(
            "event_id",
            "VARCHAR",
            "the record's id, unique per event, for cursors (the store's record id; on "
            "ClickHouse a hash of the row); the values differ by engine",
            per_engine=True,
        ),
        Column(
            "fallback",
            "BOOLEAN",
            "the event reports a fallback (contract.analytics): a recognizer result "
            "(LuisIntent.*, LuisResult) whose intent is None or scores below FALLBACK_SCORE, "
            "or a Q&A result (QnAMessage, QnaMessage) with articleFound false",
        ),
        Column(
            "escalation",
            "BOOLEAN",
            "the event is about a handoff activity (activityType HANDOFF_ACTIVITY_TYPE)",
        ),
    ),
)

TURNS = Relation(
    "turns",
    "One row per turn: a bot.turn span.",
    (
        Column("trace_id", "VARCHAR", "the turn's trace"),
        Column("span_id", "VARCHAR", "the bot.turn span"),
        Column("start_ns", "BIGINT", "start time"),
        Column("end_ns", "BIGINT", "end time"),
        Column("duration_ns", "BIGINT", "end_ns - start_ns"),
        Column("failed", "BOOLEAN", "the turn span's own status is ERROR"),
        Column("conversation_id", "VARCHAR", "as on spans"),
        Column("user_id", "VARCHAR", "enduser.pseudo.id, NULL if none"),
        Column("session_id", "VARCHAR", "session.id, NULL if none"),
        Column("channel_id", "VARCHAR", "activity.channel_id, NULL if none"),
        Column("activity_id", "VARCHAR", "activity.id, NULL if none"),
        Column("activity_type", "VARCHAR", "activity.type, NULL if none"),
        Column(
            "proactive",
            "BOOLEAN",
            "the bot started the turn itself (bot.turn.proactive: continue_conversation)",
        ),
        Column(
            "by_user",
            "BOOLEAN",
            "the turn is the user's doing (contract.analytics): not proactive, and its activity "
            "is not one the channel sends on its own (CHANNEL_ACTIVITY_TYPES: "
            "conversationUpdate, installationUpdate, typing, ...) nor an event the page sends "
            "on its own (CLIENT_HOUSEKEEPING_EVENTS: webchat/join, startConversation)",
        ),
        Column("locale", "VARCHAR", "activity.locale, NULL if none"),
        Column("service_name", "VARCHAR", "the bot's service.name"),
        Column("service_version", "VARCHAR", "the bot's service.version, NULL if none"),
        Column("trace_key", "UBIGINT", "as on spans"),
    ),
)

METRIC_POINTS = Relation(
    "metric_points",
    "One row per metric data point.",
    (
        Column("metric_name", "VARCHAR", "the instrument's name"),
        Column("description", "VARCHAR", "the instrument's description, NULL if none"),
        Column("unit", "VARCHAR", "its unit, NULL if none"),
        Column(
            "kind",
            "VARCHAR",
            "gauge, sum, histogram, exponential_histogram or summary",
        ),
        Column(
            "temporality",
            "INTEGER",
            "sums and histograms: 1 delta, 2 cumulative; NULL for the others",
        ),
        Column("monotonic", "BOOLEAN", "sums: whether it only grows; NULL for the others"),
        Column("service_name", "VARCHAR", "the resource's service.name"),
        Column("start_ns", "BIGINT", "the start of the point's interval, NULL if none"),
        Column("time_ns", "BIGINT", "the point's time"),
        Column(
            "value",
            "DOUBLE",
            "gauge/sum: the value; histogram/summary: the sum; NULL for a point with no "
            "recorded value",
        ),
        Column("count", "BIGINT", "histogram/summary: the count; NULL for gauge/sum"),
        Column("min", "DOUBLE", "histograms: the smallest value recorded, else NULL"),
        Column("max", "DOUBLE", "histograms: the largest value recorded, else NULL"),
        Column(
            "bounds",
            "DOUBLE[]",
            "histograms: the buckets' upper bounds (an exponential histogram's converted to "
            "explicit ones); NULL or [] for the others",
        ),
        Column(
            "bucket_counts",
            "BIGINT[]",
            "histograms: the count in each bucket, one more than bounds; NULL or [] otherwise",
        ),
        Column("attributes", "ATTRIBUTES", "the point's attributes"),
        Column("scope_name", "VARCHAR", "the instrumentation scope"),
        Column("resource_attributes", "ATTRIBUTES", "the resource's attributes"),
        Column(
            "series_key",
            "UBIGINT",
            "a 64-bit hash of (service, resource, attributes): one series of the metric, for "
            "grouping and joins only; the values differ by engine",
            per_engine=True,
        ),
    ),
)

TRACE_TIMES = Relation(
    "trace_times",
    "Where a trace's spans start, to find one trace without reading every span: on "
    "ClickHouse the exporter's lookup table (otel_traces_trace_id_ts, ordered by TraceId) "
    "when the database has it, else the spans; on DuckDB the spans. One row per trace: its "
    "spans start between first_ns and last_ns.",
    (
        Column("trace_id", "VARCHAR", "the trace"),
        Column("trace_key", "UBIGINT", "as on spans"),
        Column(
            "first_ns",
            "BIGINT",
            "no span of the trace starts before it (the lookup table keeps whole seconds); for "
            "bounds only",
            per_engine=True,
        ),
        Column(
            "last_ns",
            "BIGINT",
            "no span of the trace starts after it (the lookup table keeps whole seconds); for "
            "bounds only",
            per_engine=True,
        ),
    ),
)

#: Every logical relation, by name.
RELATIONS: dict[str, Relation] = {
    relation.name: relation
    for relation in (SPANS, SPAN_EVENTS, LOGS, EVENTS, TURNS, METRIC_POINTS, TRACE_TIMES)
}
