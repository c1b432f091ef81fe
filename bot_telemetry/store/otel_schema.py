"""The tables the OpenTelemetry Collector's ``clickhouseexporter`` creates, as our own DDL.

Written from the exporter's column lists (contrib ``exporter/clickhouseexporter/internal/
sqltemplates``): the same column names, types and order (rotel's RowBinary rows follow that
order too), the same engine, partitioning, ordering, codecs and skip indexes, and the
``trace_id_ts`` lookup table with its materialized view. Nothing reads the index names.
Differences from the contrib templates, all harmless to readers:

* the bloom-filter index variant only (the newer optional full-text ``text`` indexes and
  their ALIAS columns are left out);
* metric times are ``DateTime64(9)`` (some exporter versions use ``DateTime``; the relations
  read either);
* no ``ON CLUSTER``/Replicated engines: pass ``engine`` for those (docs/deploy.md).

Tests and ``serve --store clickhouse://...`` (when it ingests itself) use it;
``bot-telemetry clickhouse-schema`` prints it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .clickhouse_relations import METRIC_KINDS, Tables

_ATTRIBUTES = "Map(LowCardinality(String), String)"
_ZSTD = "CODEC(ZSTD(1))"

#: (name, type, codec) in the exporter's order.
TRACE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Timestamp", "DateTime64(9)", "CODEC(Delta(8), ZSTD(1))"),
    ("TraceId", "String", _ZSTD),
    ("SpanId", "String", _ZSTD),
    ("ParentSpanId", "String", _ZSTD),
    ("TraceState", "String", _ZSTD),
    ("SpanName", "LowCardinality(String)", _ZSTD),
    ("SpanKind", "LowCardinality(String)", _ZSTD),
    ("ServiceName", "LowCardinality(String)", _ZSTD),
    ("ResourceAttributes", _ATTRIBUTES, _ZSTD),
    ("ScopeName", "String", _ZSTD),
    ("ScopeVersion", "String", _ZSTD),
    ("SpanAttributes", _ATTRIBUTES, _ZSTD),
    ("Duration", "UInt64", "CODEC(T64, ZSTD(1))"),
    ("StatusCode", "LowCardinality(String)", _ZSTD),
    ("StatusMessage", "String", _ZSTD),
    (
        "Events",
        f"Nested(Timestamp DateTime64(9), Name LowCardinality(String), Attributes {_ATTRIBUTES})",
        _ZSTD,
    ),
    (
        "Links",
        f"Nested(TraceId String, SpanId String, TraceState String, Attributes {_ATTRIBUTES})",
        _ZSTD,
    ),
)

LOG_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Timestamp", "DateTime64(9)", "CODEC(Delta(8), ZSTD(1))"),
    ("TimestampTime", "DateTime DEFAULT toDateTime(Timestamp)", ""),
    ("TraceId", "String", _ZSTD),
    ("SpanId", "String", _ZSTD),
    ("TraceFlags", "UInt8", ""),
    ("SeverityText", "LowCardinality(String)", _ZSTD),
    ("SeverityNumber", "UInt8", ""),
    ("ServiceName", "LowCardinality(String)", _ZSTD),
    ("Body", "String", _ZSTD),
    ("ResourceSchemaUrl", "LowCardinality(String)", _ZSTD),
    ("ResourceAttributes", _ATTRIBUTES, _ZSTD),
    ("ScopeSchemaUrl", "LowCardinality(String)", _ZSTD),
    ("ScopeName", "String", _ZSTD),
    ("ScopeVersion", "LowCardinality(String)", _ZSTD),
    ("ScopeAttributes", _ATTRIBUTES, _ZSTD),
    ("LogAttributes", _ATTRIBUTES, _ZSTD),
    ("EventName", "String", _ZSTD),  # newer exporters only
)

_METRIC_HEAD: tuple[tuple[str, str, str], ...] = (
    ("ResourceAttributes", _ATTRIBUTES, _ZSTD),
    ("ResourceSchemaUrl", "String", _ZSTD),
    ("ScopeName", "String", _ZSTD),
    ("ScopeVersion", "String", _ZSTD),
    ("ScopeAttributes", _ATTRIBUTES, _ZSTD),
    ("ScopeDroppedAttrCount", "UInt32", _ZSTD),
    ("ScopeSchemaUrl", "String", _ZSTD),
    ("ServiceName", "LowCardinality(String)", _ZSTD),
    ("MetricName", "String", _ZSTD),
    ("MetricDescription", "String", _ZSTD),
    ("MetricUnit", "String", _ZSTD),
    ("Attributes", _ATTRIBUTES, _ZSTD),
    ("StartTimeUnix", "DateTime64(9)", "CODEC(Delta, ZSTD(1))"),
    ("TimeUnix", "DateTime64(9)", "CODEC(Delta, ZSTD(1))"),
)
_EXEMPLARS = (
    "Exemplars",
    f"Nested(FilteredAttributes {_ATTRIBUTES}, TimeUnix DateTime64(9), Value Float64, "
    "SpanId String, TraceId String)",
    _ZSTD,
)
_STATS = (
    ("Count", "UInt64", "CODEC(Delta, ZSTD(1))"),
    ("Sum", "Float64", _ZSTD),
)
_TAIL = (
    _EXEMPLARS,
    ("Flags", "UInt32", _ZSTD),
    ("Min", "Float64", _ZSTD),
    ("Max", "Float64", _ZSTD),
    ("AggregationTemporality", "Int32", _ZSTD),
)

METRIC_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "gauge": (*_METRIC_HEAD, ("Value", "Float64", _ZSTD), ("Flags", "UInt32", _ZSTD), _EXEMPLARS),
    "sum": (
        *_METRIC_HEAD,
        ("Value", "Float64", _ZSTD),
        ("Flags", "UInt32", _ZSTD),
        _EXEMPLARS,
        ("AggregationTemporality", "Int32", _ZSTD),
        ("IsMonotonic", "Boolean", "CODEC(Delta, ZSTD(1))"),
    ),
    "histogram": (
        *_METRIC_HEAD,
        *_STATS,
        ("BucketCounts", "Array(UInt64)", _ZSTD),
        ("ExplicitBounds", "Array(Float64)", _ZSTD),
        *_TAIL,
    ),
    "exponential_histogram": (
        *_METRIC_HEAD,
        *_STATS,
        ("Scale", "Int32", _ZSTD),
        ("ZeroCount", "UInt64", _ZSTD),
        ("PositiveOffset", "Int32", _ZSTD),
        ("PositiveBucketCounts", "Array(UInt64)", _ZSTD),
        ("NegativeOffset", "Int32", _ZSTD),
        ("NegativeBucketCounts", "Array(UInt64)", _ZSTD),
        *_TAIL,
    ),
    "summary": (
        *_METRIC_HEAD,
        *_STATS,
        ("ValueAtQuantiles", "Nested(Quantile Float64, Value Float64)", _ZSTD),
        ("Flags", "UInt32", _ZSTD),
    ),
}


def _bloom(name: str, expression: str, rate: str = "0.01") -> str:
    return f"INDEX {name} {expression} TYPE bloom_filter({rate}) GRANULARITY 1"


def _map_indexes(prefix: str, column: str) -> list[str]:
    return [
        _bloom(f"idx_{prefix}_key", f"mapKeys({column})"),
        _bloom(f"idx_{prefix}_value", f"mapValues({column})"),
    ]


def _columns(columns: tuple[tuple[str, str, str], ...]) -> list[str]:
    return [f"`{name}` {kind} {codec}".rstrip() for name, kind, codec in columns]


#: ClickHouse's interval functions, largest first, with their length in seconds.
_TTL_UNITS = (("Day", 86400), ("Hour", 3600), ("Minute", 60), ("Second", 1))


def ttl_interval(ttl_seconds: int) -> str:
    """``toIntervalDay(30)``, or the largest unit that divides the TTL, as the exporter's
    ``ttl`` becomes (720h: 30 days; 12h: 12 hours, not 0 days)."""
    for unit, length in _TTL_UNITS:
        if ttl_seconds % length == 0:
            return f"toInterval{unit}({ttl_seconds // length})"
    raise AssertionError("every whole number of seconds divides by 1")


def _ttl(column: str, ttl_seconds: int) -> str:
    return f"\nTTL {column} + {ttl_interval(ttl_seconds)}" if ttl_seconds > 0 else ""


# The time each table's TTL counts from, as the exporter writes it.
_TRACES_TTL, _LOOKUP_TTL, _LOGS_TTL, _METRICS_TTL = (
    "toDateTime(Timestamp)",
    "Start",
    "TimestampTime",
    "toDateTime(TimeUnix)",
)
# A TTL as system.tables' engine_full shows it: between "TTL" and SETTINGS (or the end).
_TTL_CLAUSE = re.compile(r"\sTTL\s+(.+?)(?:\s+SETTINGS\s|$)")


def ttl_changes(
    tables: Tables, ttl_seconds: int, existing: Mapping[str, tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """The tables whose TTL is not ``ttl_seconds``' (``CREATE TABLE IF NOT EXISTS`` leaves
    a table's TTL as it was made: by an earlier version, whose 36h was one day and 12h none,
    or another --ttl): (table, its TTL or '', the ALTER TABLE that gives it this one).
    ``existing`` is system.tables' engine and engine_full by table name; a table in front
    of others (Distributed) has no TTL of its own and is left out."""
    counted_from = {
        tables.traces: _TRACES_TTL,
        f"{tables.traces}_trace_id_ts": _LOOKUP_TTL,
        tables.logs: _LOGS_TTL,
        **{tables.metrics(kind): _METRICS_TTL for kind in METRIC_KINDS},
    }
    changes = []
    for table, column in counted_from.items():
        engine, engine_full = existing.get(table, ("", ""))
        if not engine.endswith("MergeTree"):
            continue
        found = _TTL_CLAUSE.search(engine_full)
        current = found.group(1).strip() if found else ""
        wanted = f"{column} + {ttl_interval(ttl_seconds)}"
        if current != wanted:
            alter = f"ALTER TABLE {tables.qualified(table)} MODIFY TTL {wanted}"
            changes.append((table, current, alter))
    return changes


def _table(name: str, body: list[str], tail: str, engine: str) -> str:
    inner = ",\n    ".join(body)
    return (
        f"CREATE TABLE IF NOT EXISTS {name} (\n    {inner}\n) ENGINE = {engine}\n{tail}\n"
        "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
    )


def traces_table(tables: Tables, engine: str = "MergeTree()", ttl_seconds: int = 0) -> str:
    body = [
        *_columns(TRACE_COLUMNS),
        _bloom("idx_trace_id", "TraceId", "0.001"),
        *_map_indexes("res_attr", "ResourceAttributes"),
        *_map_indexes("span_attr", "SpanAttributes"),
        "INDEX idx_duration Duration TYPE minmax GRANULARITY 1",
        "INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8",
    ]
    tail = (
        "PARTITION BY toDate(Timestamp)\n"
        "PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))\n"
        "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)"
        + _ttl(_TRACES_TTL, ttl_seconds)
    )
    return _table(tables.qualified(tables.traces), body, tail, engine)


def trace_id_ts_statements(
    tables: Tables, engine: str = "MergeTree()", ttl_seconds: int = 0
) -> list[str]:
    """The trace-id lookup table (a trace's time range, to find it by id) and its view."""
    lookup = tables.qualified(f"{tables.traces}_trace_id_ts")
    view = tables.qualified(f"{tables.traces}_trace_id_ts_mv")
    return [
        f"CREATE TABLE IF NOT EXISTS {lookup} (\n"
        "    TraceId String CODEC(ZSTD(1)),\n"
        "    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),\n"
        "    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))\n"
        f") ENGINE = {engine}\nPARTITION BY toStartOfWeek(Start)\nORDER BY (TraceId)"
        + _ttl(_LOOKUP_TTL, ttl_seconds)
        + "\nSETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {lookup} AS\n"
        "SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End\n"
        f"FROM {tables.qualified(tables.traces)} WHERE TraceId != '' GROUP BY TraceId",
    ]


def logs_table(tables: Tables, engine: str = "MergeTree()", ttl_seconds: int = 0) -> str:
    body = [
        *_columns(LOG_COLUMNS),
        _bloom("idx_trace_id", "TraceId", "0.001"),
        *_map_indexes("res_attr", "ResourceAttributes"),
        *_map_indexes("scope_attr", "ScopeAttributes"),
        *_map_indexes("log_attr", "LogAttributes"),
        "INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8",
    ]
    tail = (
        "PARTITION BY toDate(TimestampTime)\n"
        "PRIMARY KEY (ServiceName, TimestampTime)\n"
        "ORDER BY (ServiceName, TimestampTime, Timestamp)" + _ttl(_LOGS_TTL, ttl_seconds)
    )
    return _table(tables.qualified(tables.logs), body, tail, engine)


def metrics_table(
    tables: Tables, kind: str, engine: str = "MergeTree()", ttl_seconds: int = 0
) -> str:
    body = [
        *_columns(METRIC_COLUMNS[kind]),
        *_map_indexes("res_attr", "ResourceAttributes"),
        *_map_indexes("scope_attr", "ScopeAttributes"),
        *_map_indexes("attr", "Attributes"),
    ]
    tail = (
        "PARTITION BY toDate(TimeUnix)\n"
        "ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))"
        + _ttl(_METRICS_TTL, ttl_seconds)
    )
    return _table(tables.qualified(tables.metrics(kind)), body, tail, engine)


def statements(tables: Tables, *, engine: str = "MergeTree()", ttl_seconds: int = 0) -> list[str]:
    """Every statement, in order: the database, traces (with the lookup), logs, metrics."""
    return [
        f"CREATE DATABASE IF NOT EXISTS `{tables.database}`",
        traces_table(tables, engine, ttl_seconds),
        *trace_id_ts_statements(tables, engine, ttl_seconds),
        logs_table(tables, engine, ttl_seconds),
        *(metrics_table(tables, kind, engine, ttl_seconds) for kind in METRIC_KINDS),
    ]
