"""OTLP export requests as rows of the Collector ``clickhouseexporter``'s tables.

The same mapping the exporter makes (contrib ``exporter/clickhouseexporter``), so rows we
write and rows the Collector or rotel writes read the same: ids as lower-case hex (``''`` when
absent), kinds and status codes as pdata's names (``Server``, ``Error``; ``legacy=True`` writes
the older ``SPAN_KIND_SERVER``/``STATUS_CODE_ERROR``), every attribute value as text the way
pdata's ``Value.AsString`` renders it (numbers in Go's shortest form, booleans
``true``/``false``, arrays and maps as JSON), times as ``DateTime64(9)`` text.

    rows = trace_rows(request)                    # {"otel_traces": [row, ...]}
    engine.insert("otel_traces", TRACE_COLUMN_NAMES, rows["otel_traces"])
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from .clickhouse_relations import Tables
from .otel_schema import LOG_COLUMNS, METRIC_COLUMNS, TRACE_COLUMNS

_KIND_NAMES = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_STATUS_NAMES = ("Unset", "Ok", "Error")


def _flat_names(columns: Iterable[tuple[str, str, str]]) -> tuple[str, ...]:
    """Column names as an INSERT names them: a Nested column is one array per field."""
    names: list[str] = []
    for name, kind, _ in columns:
        if kind.startswith("Nested("):
            inner = kind[len("Nested(") : -1]
            depth, field, fields = 0, "", []
            for char in inner:
                depth += char == "("
                depth -= char == ")"
                if char == "," and depth == 0:
                    fields.append(field.strip())
                    field = ""
                else:
                    field += char
            fields.append(field.strip())
            names.extend(f"{name}.{item.split(' ', 1)[0]}" for item in fields)
        elif "DEFAULT" not in kind:
            names.append(name)
    return tuple(names)


TRACE_COLUMN_NAMES = _flat_names(TRACE_COLUMNS)
LOG_COLUMN_NAMES = _flat_names(LOG_COLUMNS)
METRIC_COLUMN_NAMES = {kind: _flat_names(columns) for kind, columns in METRIC_COLUMNS.items()}


def timestamp(nanoseconds: int) -> str:
    """A ``DateTime64(9)`` value as text ClickHouse parses exactly: Unix seconds, padded to
    ten digits (ClickHouse reads ``0.000000000`` or ``5.000000000`` as a broken date and
    refuses the row: a point with no start time, a gauge's, has ``0``), and nanoseconds."""
    return f"{nanoseconds // 1_000_000_000:010d}.{nanoseconds % 1_000_000_000:09d}"


def _go_float(number: float) -> str:
    # Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest digits, never an exponent,
    # no trailing ".0".
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _raw(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_raw(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: _raw(pair.value) for pair in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def as_string(value: AnyValue) -> str:
    """pdata's ``Value.AsString``."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _go_float(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return json.dumps(_raw(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def attribute_text(value: Any) -> str:
    """A decoded attribute value (as the DuckDB store's JSON holds it) rendered as
    ``as_string`` renders the OTLP value: what the same attribute reads as on ClickHouse."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def attributes_map(attributes: Iterable[KeyValue]) -> dict[str, str]:
    return {pair.key: as_string(pair.value) for pair in attributes}


def _hex(raw: bytes) -> str:
    return raw.hex() if raw.strip(b"\0") else ""


def _service(resource: dict[str, str]) -> str:
    return resource.get("service.name", "")


def trace_rows(request: ExportTraceServiceRequest, *, legacy: bool = False) -> list[dict[str, Any]]:
    """One ``otel_traces`` row per span."""
    rows: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = attributes_map(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                kind = _KIND_NAMES[span.kind] if span.kind < len(_KIND_NAMES) else "Unspecified"
                status = span.status.code
                status_name = _STATUS_NAMES[status] if status < len(_STATUS_NAMES) else "Unset"
                rows.append(
                    {
                        "Timestamp": timestamp(span.start_time_unix_nano),
                        "TraceId": _hex(span.trace_id),
                        "SpanId": _hex(span.span_id),
                        "ParentSpanId": _hex(span.parent_span_id),
                        "TraceState": span.trace_state,
                        "SpanName": span.name,
                        "SpanKind": f"SPAN_KIND_{kind.upper()}" if legacy else kind,
                        "ServiceName": _service(resource),
                        "ResourceAttributes": resource,
                        "ScopeName": scope.name,
                        "ScopeVersion": scope.version,
                        "SpanAttributes": attributes_map(span.attributes),
                        "Duration": max(span.end_time_unix_nano - span.start_time_unix_nano, 0),
                        "StatusCode": f"STATUS_CODE_{status_name.upper()}"
                        if legacy
                        else status_name,
                        "StatusMessage": span.status.message,
                        "Events.Timestamp": [timestamp(e.time_unix_nano) for e in span.events],
                        "Events.Name": [e.name for e in span.events],
                        "Events.Attributes": [attributes_map(e.attributes) for e in span.events],
                        "Links.TraceId": [_hex(link.trace_id) for link in span.links],
                        "Links.SpanId": [_hex(link.span_id) for link in span.links],
                        "Links.TraceState": [link.trace_state for link in span.links],
                        "Links.Attributes": [
                            attributes_map(link.attributes) for link in span.links
                        ],
                    }
                )
    return rows


def log_rows(request: ExportLogsServiceRequest) -> list[dict[str, Any]]:
    """One ``otel_logs`` row per log record."""
    rows: list[dict[str, Any]] = []
    for resource_logs in request.resource_logs:
        resource = attributes_map(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            for record in scope_logs.log_records:
                rows.append(
                    {
                        "Timestamp": timestamp(
                            record.time_unix_nano or record.observed_time_unix_nano
                        ),
                        "TraceId": _hex(record.trace_id),
                        "SpanId": _hex(record.span_id),
                        "TraceFlags": record.flags & 0xFF,
                        "SeverityText": record.severity_text,
                        "SeverityNumber": int(record.severity_number),
                        "ServiceName": _service(resource),
                        "Body": as_string(record.body),
                        "ResourceSchemaUrl": resource_logs.schema_url,
                        "ResourceAttributes": resource,
                        "ScopeSchemaUrl": scope_logs.schema_url,
                        "ScopeName": scope.name,
                        "ScopeVersion": scope.version,
                        "ScopeAttributes": attributes_map(scope.attributes),
                        "LogAttributes": attributes_map(record.attributes),
                        "EventName": record.event_name,
                    }
                )
    return rows


def metric_rows(request: ExportMetricsServiceRequest) -> dict[str, list[dict[str, Any]]]:
    """Rows for each metric kind's table (``gauge``, ``sum``, ``histogram``, ...)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for resource_metrics in request.resource_metrics:
        resource = attributes_map(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                for point in data.data_points:
                    row: dict[str, Any] = {
                        "ResourceAttributes": resource,
                        "ResourceSchemaUrl": resource_metrics.schema_url,
                        "ScopeName": scope.name,
                        "ScopeVersion": scope.version,
                        "ScopeAttributes": attributes_map(scope.attributes),
                        "ScopeDroppedAttrCount": scope.dropped_attributes_count,
                        "ScopeSchemaUrl": scope_metrics.schema_url,
                        "ServiceName": _service(resource),
                        "MetricName": metric.name,
                        "MetricDescription": metric.description,
                        "MetricUnit": metric.unit,
                        "Attributes": attributes_map(point.attributes),
                        "StartTimeUnix": timestamp(point.start_time_unix_nano),
                        "TimeUnix": timestamp(point.time_unix_nano),
                        "Flags": point.flags,
                    }
                    row.update(_point_values(kind, data, point))
                    for name in METRIC_COLUMN_NAMES[kind]:
                        if name.startswith("Exemplars."):
                            row[name] = []
                    rows.setdefault(kind, []).append(row)
    return rows


def _point_values(kind: str, data: Any, point: Any) -> dict[str, Any]:
    if kind in ("gauge", "sum"):
        number = point.as_double if point.HasField("as_double") else float(point.as_int)
        values: dict[str, Any] = {"Value": number}
        if kind == "sum":
            values["AggregationTemporality"] = int(data.aggregation_temporality)
            values["IsMonotonic"] = bool(data.is_monotonic)
        return values
    values = {"Count": point.count, "Sum": point.sum}
    if kind == "summary":
        values["ValueAtQuantiles.Quantile"] = [q.quantile for q in point.quantile_values]
        values["ValueAtQuantiles.Value"] = [q.value for q in point.quantile_values]
        return values
    values.update(
        Min=point.min,
        Max=point.max,
        AggregationTemporality=int(data.aggregation_temporality),
    )
    if kind == "histogram":
        values["BucketCounts"] = list(point.bucket_counts)
        values["ExplicitBounds"] = list(point.explicit_bounds)
    else:
        values.update(
            Scale=point.scale,
            ZeroCount=point.zero_count,
            PositiveOffset=point.positive.offset,
            PositiveBucketCounts=list(point.positive.bucket_counts),
            NegativeOffset=point.negative.offset,
            NegativeBucketCounts=list(point.negative.bucket_counts),
        )
    return values


def table_rows(
    request: ExportTraceServiceRequest | ExportLogsServiceRequest | ExportMetricsServiceRequest,
    tables: Tables,
    *,
    legacy: bool = False,
) -> dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]]:
    """A request's rows by table name, with each table's columns."""
    if isinstance(request, ExportTraceServiceRequest):
        return {tables.traces: (TRACE_COLUMN_NAMES, trace_rows(request, legacy=legacy))}
    if isinstance(request, ExportLogsServiceRequest):
        return {tables.logs: (LOG_COLUMN_NAMES, log_rows(request))}
    return {
        tables.metrics(kind): (METRIC_COLUMN_NAMES[kind], found)
        for kind, found in metric_rows(request).items()
    }
