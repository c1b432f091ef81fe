"""Flatten decoded OTLP export requests into column-wise rows for the store.

A few attributes the queries need often are promoted to columns at ingest (the span's
dependency ``peer`` name and its conversation id, a log record's event name; a turn's user,
session, channel, activity and locale; a custom event's user, channel, dialog, activity type,
intent and score, Q&A result, dialog run and step), so the app map, searches and measures
never parse JSON over millions of rows: reading the attributes column alone took a second
at 3.5 million events. Which attributes those are is the contract's (``PEER_ATTRIBUTES``,
``CONVERSATION_ATTRIBUTES``, ``PROMOTED_SPAN_ATTRIBUTES``, ``PROMOTED_EVENT_PROPERTIES``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ..contract import (
    CONVERSATION_ATTRIBUTES,
    CUSTOM_EVENT_NAME,
    PEER_ATTRIBUTES,
    PROMOTED_EVENT_PROPERTIES,
    PROMOTED_SPAN_ATTRIBUTES,
)

UNKNOWN_SERVICE = "unknown_service"

#: The promoted columns' types: text unless listed here.
PROMOTED_TYPES = {"intent_score": "DOUBLE", "article_found": "BOOLEAN"}

SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "service_name",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "duration_ns",
    "status_code",
    "status_message",
    "peer",
    "conversation_id",
    "attributes",
    "links",
    "resource_id",
    "scope_name",
    "trace_key",
    *PROMOTED_SPAN_ATTRIBUTES,
)
EVENT_COLUMNS = ("trace_id", "span_id", "seq", "time_ns", "name", "attributes")
LOG_COLUMNS = (
    "record_id",
    "time_ns",
    "trace_id",
    "span_id",
    "service_name",
    "severity_number",
    "severity_text",
    "body",
    "event_name",
    "conversation_id",
    "attributes",
    "resource_id",
    "scope_name",
    "trace_key",
    *PROMOTED_EVENT_PROPERTIES,
)
POINT_COLUMNS = (
    "point_id",
    "metric_name",
    "unit",
    "service_name",
    "time_ns",
    "value",
    "count",
    "attributes",
)
RESOURCE_COLUMNS = ("resource_id", "service_name", "attributes")


def _columns(names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: [] for name in names}


@dataclass
class Batch:
    """Rows from one or more export requests, column by column, ready for one insert each."""

    resources: dict[str, list[Any]] = field(default_factory=lambda: _columns(RESOURCE_COLUMNS))
    spans: dict[str, list[Any]] = field(default_factory=lambda: _columns(SPAN_COLUMNS))
    events: dict[str, list[Any]] = field(default_factory=lambda: _columns(EVENT_COLUMNS))
    logs: dict[str, list[Any]] = field(default_factory=lambda: _columns(LOG_COLUMNS))
    points: dict[str, list[Any]] = field(default_factory=lambda: _columns(POINT_COLUMNS))
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    _seen_resources: set[str] = field(default_factory=set)

    @property
    def span_count(self) -> int:
        return len(self.spans["span_id"])

    @property
    def log_count(self) -> int:
        return len(self.logs["record_id"])

    @property
    def point_count(self) -> int:
        return len(self.points["point_id"])

    def extend(self, other: Batch) -> None:
        """Append another batch's rows (used to write several requests in one transaction)."""
        for mine, theirs in (
            (self.spans, other.spans),
            (self.events, other.events),
            (self.logs, other.logs),
            (self.points, other.points),
        ):
            for name, values in theirs.items():
                mine[name].extend(values)
        for index, resource_id in enumerate(other.resources["resource_id"]):
            if resource_id not in self._seen_resources:
                self._seen_resources.add(resource_id)
                for name in RESOURCE_COLUMNS:
                    self.resources[name].append(other.resources[name][index])
        self.rejected += other.rejected
        self.problems.extend(other.problems)

    def add_resource(self, resource: Resource) -> tuple[str, str]:
        """Record a resource once; returns its id and service name."""
        attributes = attributes_dict(resource.attributes)
        service = str(attributes.get("service.name") or UNKNOWN_SERVICE)
        resource_id = _digest(resource.SerializeToString(deterministic=True))
        if resource_id not in self._seen_resources:
            self._seen_resources.add(resource_id)
            self.resources["resource_id"].append(resource_id)
            self.resources["service_name"].append(service)
            self.resources["attributes"].append(to_json(attributes))
        return resource_id, service

    def reject(self, problem: str) -> None:
        self.rejected += 1
        if len(self.problems) < 5:  # enough to explain, bounded for a huge bad batch
            self.problems.append(problem)


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as a plain JSON-able Python value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":  # most attributes; skips the checks below
        return value.string_value
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes_dict(attributes: Any) -> dict[str, Any]:
    pairs: list[KeyValue] = list(attributes)
    return {pair.key: any_value(pair.value) for pair in pairs}


# One encoder for every call: json.dumps with options builds a new encoder each time.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def to_json(value: Any) -> str:
    return _JSON.encode(value)


def peer_of(attributes: dict[str, Any]) -> str | None:
    """The dependency node a span calls, from the first peer attribute it carries."""
    for key in PEER_ATTRIBUTES:
        value = attributes.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def conversation_of(attributes: dict[str, Any]) -> str | None:
    for key in CONVERSATION_ATTRIBUTES:
        value = attributes.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def trace_key(trace_id: str | None) -> int | None:
    """A trace's join key: its first 8 bytes as an unsigned integer (queries join turns to
    their events and calls on it: an integer join was several times faster than one on the
    32-digit text at 10M spans). ClickHouse's relations compute the same from ``TraceId``."""
    return int(trace_id[:16], 16) if trace_id else None


def promoted_values(
    attributes: dict[str, Any], promoted: Mapping[str, tuple[str, ...]]
) -> tuple[Any, ...]:
    """The promoted columns' values: each the first of its attributes that is present and
    not empty, as text (JSON for a number or flag), a number or a flag by its column's type."""
    values: list[Any] = []
    for column, keys in promoted.items():
        found = None
        for key in keys:
            value = attributes.get(key)
            if value is not None and value != "":
                found = value
                break
        kind = PROMOTED_TYPES.get(column)
        if found is None:
            values.append(None)
        elif kind == "DOUBLE":
            values.append(_number(found))
        elif kind == "BOOLEAN":
            values.append(_flag(found))
        else:
            values.append(found if isinstance(found, str) else to_json(found))
    return tuple(values)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    return True if text == "true" else False if text == "false" else None


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


_ZERO_IDS = {8: bytes(8), 16: bytes(16)}


def _valid_id(raw: bytes, size: int) -> bool:
    return len(raw) == size and raw != _ZERO_IDS[size]


def _append_rows(
    columns: dict[str, list[Any]], names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    # Rows are gathered as tuples and turned into columns once: one zip in C instead of an
    # append per value.
    for name, values in zip(names, zip(*rows, strict=True), strict=True):
        columns[name].extend(values)


def spans_batch(request: ExportTraceServiceRequest) -> Batch:
    batch = Batch()
    span_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    for resource_spans in request.resource_spans:
        resource_id, service = batch.add_resource(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                if not _valid_id(span.trace_id, 16) or not _valid_id(span.span_id, 8):
                    batch.reject(
                        f"span {span.name!r} has an invalid trace_id or span_id "
                        "(16 and 8 non-zero bytes expected)"
                    )
                    continue
                trace_id = span.trace_id.hex()
                span_id = span.span_id.hex()
                attributes = attributes_dict(span.attributes)
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                row = (
                    trace_id,
                    span_id,
                    span.parent_span_id.hex() if _valid_id(span.parent_span_id, 8) else None,
                    service,
                    span.name,
                    span.kind,
                    start,
                    end,
                    max(end - start, 0),
                    span.status.code,
                    span.status.message or None,
                    peer_of(attributes),
                    conversation_of(attributes),
                    to_json(attributes),
                    to_json(
                        [
                            {
                                "trace_id": link.trace_id.hex(),
                                "span_id": link.span_id.hex(),
                                "attributes": attributes_dict(link.attributes),
                            }
                            for link in span.links
                        ]
                    )
                    if span.links
                    else None,
                    resource_id,
                    scope,
                    trace_key(trace_id),
                    *promoted_values(attributes, PROMOTED_SPAN_ATTRIBUTES),
                )
                span_rows.append(row)
                for seq, event in enumerate(span.events):
                    event_rows.append(
                        (
                            trace_id,
                            span_id,
                            seq,
                            event.time_unix_nano,
                            event.name,
                            to_json(attributes_dict(event.attributes)),
                        )
                    )
    if span_rows:
        _append_rows(batch.spans, SPAN_COLUMNS, span_rows)
    if event_rows:
        _append_rows(batch.events, EVENT_COLUMNS, event_rows)
    return batch


def logs_batch(request: ExportLogsServiceRequest) -> Batch:
    batch = Batch()
    columns = batch.logs
    for resource_logs in request.resource_logs:
        resource_id, service = batch.add_resource(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            for record in scope_logs.log_records:
                attributes = attributes_dict(record.attributes)
                event = attributes.get(CUSTOM_EVENT_NAME) or record.event_name or None
                body = any_value(record.body)
                # No id in OTLP logs: the record's own bytes identify it, so a retried
                # batch maps to the same ids and is stored once.
                record_id = _digest(
                    resource_id.encode() + record.SerializeToString(deterministic=True)
                )
                trace_id = record.trace_id.hex() if _valid_id(record.trace_id, 16) else None
                row = (
                    record_id,
                    record.time_unix_nano or record.observed_time_unix_nano,
                    trace_id,
                    record.span_id.hex() if _valid_id(record.span_id, 8) else None,
                    service,
                    record.severity_number,
                    record.severity_text or None,
                    body if isinstance(body, str) or body is None else to_json(body),
                    str(event) if event else None,
                    conversation_of(attributes),
                    to_json(attributes),
                    resource_id,
                    scope,
                    trace_key(trace_id),
                    *promoted_values(attributes, PROMOTED_EVENT_PROPERTIES),
                )
                for name, value in zip(LOG_COLUMNS, row, strict=True):
                    columns[name].append(value)
    return batch


def metrics_batch(request: ExportMetricsServiceRequest) -> Batch:
    """Number and histogram points as (value, count); enough for totals and rates over time."""
    batch = Batch()
    for resource_metrics in request.resource_metrics:
        resource_id, service = batch.add_resource(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points: list[tuple[Any, float, int | None]] = []
                if kind in ("gauge", "sum"):
                    for point in getattr(metric, kind).data_points:
                        number = point.as_double if point.HasField("as_double") else point.as_int
                        points.append((point, float(number), None))
                elif kind in ("histogram", "exponential_histogram", "summary"):
                    for point in getattr(metric, kind).data_points:
                        points.append((point, float(point.sum), int(point.count)))
                for point, value, count in points:
                    point_id = _digest(
                        resource_id.encode()
                        + metric.name.encode()
                        + point.SerializeToString(deterministic=True)
                    )
                    row = (
                        point_id,
                        metric.name,
                        metric.unit or None,
                        service,
                        point.time_unix_nano,
                        value,
                        count,
                        to_json(attributes_dict(point.attributes)),
                    )
                    for name, column_value in zip(POINT_COLUMNS, row, strict=True):
                        batch.points[name].append(column_value)
    return batch
