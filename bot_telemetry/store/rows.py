"""Flatten decoded OTLP export requests into column-wise rows for the store.

A few attributes the queries need often are promoted to columns at ingest (the span's
dependency ``peer`` name and its conversation id, a log record's event name; a turn's user,
session, channel, activity and locale; a custom event's user, channel, dialog, activity type,
intent and score, Q&A result, dialog run and step; the trace as an integer key), so the app
map, searches and measures never parse JSON over millions of rows: reading the attributes
column alone took a second at 3.5 million events. Which attributes those are is the
contract's: ``PEER_ATTRIBUTES``, ``CONVERSATION_ATTRIBUTES``, ``PROMOTED_SPAN_ATTRIBUTES``,
``PROMOTED_EVENT_PROPERTIES``, and for an event's name ``CUSTOM_EVENT_NAME``, the
LogRecord's ``event_name`` field or ``EVENT_NAME``.

A value the store cannot hold (a time past 2262, a span kind of 1000, a count over 2^63)
rejects its own span, log record or metric point, with the reason, as OTLP partial success;
the rest of the export is stored. Every stored JSON value is valid JSON: NaN and ±Infinity
attribute values are kept as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
(the protobuf JSON mapping's own spelling).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Collection, Mapping
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
    EVENT_NAME,
    PEER_ATTRIBUTES,
    PROMOTED_EVENT_PROPERTIES,
    PROMOTED_SPAN_ATTRIBUTES,
)
from .jsontext import to_json as to_json  # the store's one JSON encoder, re-exported

UNKNOWN_SERVICE = "unknown_service"
#: The promoted columns' types: text unless listed here.
PROMOTED_TYPES = {"intent_score": "DOUBLE", "article_found": "BOOLEAN"}

#: Largest value of the store's BIGINT columns (times in ns, counts): 2262-04-11 as a time.
MAX_INT64 = 2**63 - 1
#: Span kinds and status codes the OTLP enums define.
SPAN_KINDS = range(6)
STATUS_CODES = range(3)
#: Severity numbers the OTLP logs data model defines (0 unspecified, 1-24 TRACE to FATAL4):
#: ClickHouse's UInt8 column would store 300 as 44.
SEVERITY_NUMBERS = range(25)
#: Exponential histogram scales the OTLP specification allows.
EXPONENTIAL_SCALES = range(-10, 21)
#: Short severity names by SeverityNumber (OTLP logs data model), for records sending none.
SEVERITY_NAMES = {
    number: base + (str(number - first + 1) if number > first else "")
    for first, base in (
        (1, "TRACE"),
        (5, "DEBUG"),
        (9, "INFO"),
        (13, "WARN"),
        (17, "ERROR"),
        (21, "FATAL"),
    )
    for number in range(first, first + 4)
}
#: Metric point kinds as stored in ``metric_points.kind``.
METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")

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
    "scope_version",
    "trace_key",
    "span_number",
    "parent_number",
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
    "scope_version",
    "trace_key",
    *PROMOTED_EVENT_PROPERTIES,
)
POINT_COLUMNS = (
    "point_id",
    "metric_name",
    "description",
    "unit",
    "kind",
    "temporality",
    "monotonic",
    "service_name",
    "start_ns",
    "time_ns",
    "value",
    "count",
    "min",
    "max",
    "bounds",
    "bucket_counts",
    "attributes",
    "resource_id",
    "scope_name",
)
RESOURCE_COLUMNS = ("resource_id", "service_name", "attributes")


class Columns(dict[str, list[Any]]):
    """A table's columns by name, each list made when first used: most batches fill one of
    their five tables, and a waiting batch's empty lists were most of what the cyclic GC
    walked under client ingest (84 lists a bundle). Only the table's own names are made."""

    __slots__ = ("names",)

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names

    def __missing__(self, name: str) -> list[Any]:
        if name not in self.names:
            raise KeyError(name)
        values: list[Any] = []
        self[name] = values
        return values


def _columns(names: tuple[str, ...]) -> dict[str, list[Any]]:
    return Columns(names)


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

    def without(
        self, spans: Collection[int] = (), logs: Collection[int] = (), points: Collection[int] = ()
    ) -> Batch:
        """A copy without the rows at these indices (a span's events go with it): what a
        store took of the batch when it refused those rows (``Written.refused``)."""
        kept = Batch(rejected=self.rejected, problems=list(self.problems))
        gone_spans = set(spans)
        removed = {(self.spans["trace_id"][i], self.spans["span_id"][i]) for i in gone_spans}
        events = zip(self.events["trace_id"], self.events["span_id"], strict=True)
        gone_events = {i for i, key in enumerate(events) if key in removed} if removed else set()
        for table, into, gone in (
            (self.spans, kept.spans, gone_spans),
            (self.events, kept.events, gone_events),
            (self.logs, kept.logs, set(logs)),
            (self.points, kept.points, set(points)),
            (self.resources, kept.resources, set()),
        ):
            for name, values in table.items():
                into[name].extend(value for i, value in enumerate(values) if i not in gone)
        kept._seen_resources = set(self._seen_resources)
        return kept

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
    if kind == "double_value":
        number = value.double_value
        return number if number - number == 0 else non_finite(number)
    return getattr(value, kind)


def non_finite(number: float) -> str:
    """NaN and ±Infinity as the protobuf JSON mapping spells them, so stored JSON stays JSON."""
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def attributes_dict(attributes: Any) -> dict[str, Any]:
    pairs: list[KeyValue] = list(attributes)
    return {pair.key: any_value(pair.value) for pair in pairs}


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


def span_number(span_id: str | None) -> int | None:
    """A span id (16 hex digits) as an unsigned integer: with ``trace_key``, the app map
    joins a call to the span it caused on integers, never reading the ids' text (the
    join at 10M spans spent most of its time reading and hashing the text)."""
    return int(span_id, 16) if span_id else None


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


_ZERO_TRACE_ID, _ZERO_SPAN_ID = bytes(16), bytes(8)


def _late_event(events: Any) -> bool:
    return any(event.time_unix_nano > MAX_INT64 for event in events)


def _span_problem(span: Any) -> str | None:
    """Why the store cannot hold this span, or None."""
    if not _valid_id(span.trace_id, 16) or not _valid_id(span.span_id, 8):
        return (
            f"span {span.name!r} has an invalid trace_id or span_id "
            "(16 and 8 non-zero bytes expected)"
        )
    if span.kind not in SPAN_KINDS:
        return f"span {span.name!r} has kind {span.kind}, not one of 0-5"
    if span.status.code not in STATUS_CODES:
        return f"span {span.name!r} has status code {span.status.code}, not one of 0-2"
    if span.start_time_unix_nano > MAX_INT64 or span.end_time_unix_nano > MAX_INT64:
        return f"span {span.name!r} has a start or end time after 2262 (over 2^63-1 ns)"
    for event in span.events:
        if event.time_unix_nano > MAX_INT64:
            return f"span {span.name!r} has an event time after 2262 (over 2^63-1 ns)"
    return None


def spans_batch(request: ExportTraceServiceRequest) -> Batch:
    batch = Batch()
    span_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    for resource_spans in request.resource_spans:
        resource_id, service = batch.add_resource(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            scope_version = scope_spans.scope.version or None
            for span in scope_spans.spans:
                raw_trace_id, raw_span_id = span.trace_id, span.span_id
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                kind, status = span.kind, span.status
                code = status.code
                # One inexpensive test on the common path; the reason only for a bad span.
                if (
                    len(raw_trace_id) != 16
                    or len(raw_span_id) != 8
                    or raw_trace_id == _ZERO_TRACE_ID
                    or raw_span_id == _ZERO_SPAN_ID
                    or not 0 <= kind <= 5
                    or not 0 <= code <= 2
                    or start > MAX_INT64
                    or end > MAX_INT64
                    or (span.events and _late_event(span.events))
                ):
                    batch.reject(_span_problem(span) or f"span {span.name!r} is invalid")
                    continue
                trace_id = raw_trace_id.hex()
                span_id = raw_span_id.hex()
                attributes = attributes_dict(span.attributes)
                parent = span.parent_span_id
                parent_id = parent.hex() if len(parent) == 8 and parent != _ZERO_SPAN_ID else None
                row = (
                    trace_id,
                    span_id,
                    parent_id,
                    service,
                    span.name,
                    kind,
                    start,
                    end,
                    max(end - start, 0),
                    code,
                    status.message or None,
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
                    scope_version,
                    trace_key(trace_id),
                    span_number(span_id),
                    span_number(parent_id),
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


def event_name_of(record: Any, attributes: dict[str, Any]) -> str | None:
    """A log record's event name: Azure Monitor's attribute, the OTLP field, or ``event.name``."""
    name = attributes.get(CUSTOM_EVENT_NAME) or record.event_name or attributes.get(EVENT_NAME)
    return str(name) if name not in (None, "") else None


def logs_batch(request: ExportLogsServiceRequest) -> Batch:
    batch = Batch()
    rows: list[tuple[Any, ...]] = []
    # OTLP: a receiver sets the observed time when the sender did not; a record with
    # neither time is placed at its arrival, never at 1970.
    received = time.time_ns()
    for resource_logs in request.resource_logs:
        resource_id, service = batch.add_resource(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            scope_version = scope_logs.scope.version or None
            for record in scope_logs.log_records:
                moment = record.time_unix_nano or record.observed_time_unix_nano or received
                if moment > MAX_INT64:
                    batch.reject("a log record has a time after 2262 (over 2^63-1 ns)")
                    continue
                severity = record.severity_number
                if severity not in SEVERITY_NUMBERS:
                    batch.reject(f"a log record has severity_number {severity}, not one of 0-24")
                    continue
                attributes = attributes_dict(record.attributes)
                body = any_value(record.body)
                # No id in OTLP logs: the record's own bytes identify it, so a retried
                # batch maps to the same ids and is stored once.
                record_id = _digest(
                    resource_id.encode() + record.SerializeToString(deterministic=True)
                )
                trace_id = record.trace_id.hex() if _valid_id(record.trace_id, 16) else None
                rows.append(
                    (
                        record_id,
                        moment,
                        trace_id,
                        record.span_id.hex() if _valid_id(record.span_id, 8) else None,
                        service,
                        severity,
                        record.severity_text or SEVERITY_NAMES.get(severity),
                        body if isinstance(body, str) or body is None else to_json(body),
                        event_name_of(record, attributes),
                        conversation_of(attributes),
                        to_json(attributes),
                        resource_id,
                        scope,
                        scope_version,
                        trace_key(trace_id),
                        *promoted_values(attributes, PROMOTED_EVENT_PROPERTIES),
                    )
                )
    if rows:
        _append_rows(batch.logs, LOG_COLUMNS, rows)
    return batch


def _power_of_base(index: int, scale: int) -> float:
    """base^index for base = 2^(2^-scale), without overflow: +inf past the largest double
    (at scale -10 the base itself is 2^1024), 0.0 below the smallest."""
    if scale <= 0:
        exponent = index << -scale  # an integer: 2^(index * 2^-scale)
        if exponent >= 1024:
            return math.inf
        return math.ldexp(1.0, max(exponent, -1075))
    power = index / (1 << scale)
    return math.inf if power >= 1024 else 2.0**power


def _exponential_buckets(point: Any) -> tuple[list[float], list[int]]:
    """An exponential histogram's buckets as explicit upper bounds and counts.

    Bucket ``i`` of scale ``s`` holds (base^i, base^(i+1)] with base = 2^(2^-s); negative
    buckets mirror it. The result reads like an explicit histogram: ``counts[j]`` holds
    (bounds[j-1], bounds[j]], with -inf and +inf at the ends.
    """
    scale, negative, positive = point.scale, point.negative, point.positive
    bounds: list[float] = []
    counts: list[int] = []
    top = negative.offset + len(negative.bucket_counts) - 1
    for index in range(top, negative.offset - 1, -1):
        bounds.append(-_power_of_base(index, scale))
        counts.append(negative.bucket_counts[index - negative.offset])
    bounds.append(point.zero_threshold)
    counts.append(point.zero_count)
    for index, count in enumerate(positive.bucket_counts, positive.offset):
        bounds.append(_power_of_base(index + 1, scale))
        counts.append(count)
    counts.append(0)
    return bounds, counts


def _point_row(
    kind: str, point: Any
) -> tuple[float | None, int | None, float | None, float | None, Any, Any] | str:
    """(value, count, min, max, bounds, bucket counts) of one point, or why it is refused."""
    if point.time_unix_nano > MAX_INT64 or point.start_time_unix_nano > MAX_INT64:
        return "has a time after 2262 (over 2^63-1 ns)"
    # FLAG_NO_RECORDED_VALUE: a staleness marker, stored with no value rather than as 0.
    empty = bool(point.flags & 1)
    if kind in ("gauge", "sum"):
        if empty:
            return None, None, None, None, None, None
        number = point.as_double if point.HasField("as_double") else float(point.as_int)
        return number, None, None, None, None, None
    if point.count > MAX_INT64:
        return f"has a count of {point.count}, over 2^63-1"
    value = point.sum if not empty and (kind == "summary" or point.HasField("sum")) else None
    if kind == "summary":
        return value, point.count, None, None, None, None
    low = point.min if point.HasField("min") else None
    high = point.max if point.HasField("max") else None
    if kind == "histogram":
        bounds: list[float] = list(point.explicit_bounds)
        counts: list[int] = list(point.bucket_counts)
    else:
        if point.scale not in EXPONENTIAL_SCALES:
            return f"has scale {point.scale}, not one of -10 to 20"
        bounds, counts = _exponential_buckets(point)
    if any(count > MAX_INT64 for count in counts):
        return "has a bucket count over 2^63-1"
    return value, point.count, low, high, bounds or None, counts or None


def metrics_batch(request: ExportMetricsServiceRequest) -> Batch:
    """Every point with its kind, temporality and, for histograms, buckets, min and max.

    Exponential histograms are kept as explicit bounds and counts (computed from scale and
    offset; nothing is lost but the bucket's lower edge at the two ends); summaries keep
    their sum and count.
    """
    batch = Batch()
    rows: list[tuple[Any, ...]] = []
    for resource_metrics in request.resource_metrics:
        resource_id, service = batch.add_resource(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind not in METRIC_KINDS:
                    continue
                data = getattr(metric, kind)
                if not metric.name:
                    # The name is required (OTLP metrics data model): nothing could find it.
                    for _ in data.data_points:
                        batch.reject("a metric has no name")
                    continue
                temporality = (
                    data.aggregation_temporality
                    if kind in ("sum", "histogram", "exponential_histogram")
                    else None
                )
                monotonic = data.is_monotonic if kind == "sum" else None
                for point in data.data_points:
                    shaped = _point_row(kind, point)
                    if isinstance(shaped, str):
                        batch.reject(f"a point of metric {metric.name!r} {shaped}")
                        continue
                    value, count, low, high, bounds, bucket_counts = shaped
                    point_id = _digest(
                        resource_id.encode()
                        + metric.name.encode()
                        + point.SerializeToString(deterministic=True)
                    )
                    rows.append(
                        (
                            point_id,
                            metric.name,
                            metric.description or None,
                            metric.unit or None,
                            kind,
                            temporality,
                            monotonic,
                            service,
                            point.start_time_unix_nano or None,
                            point.time_unix_nano,
                            value,
                            count,
                            low,
                            high,
                            bounds,
                            bucket_counts,
                            to_json(attributes_dict(point.attributes)),
                            resource_id,
                            scope,
                        )
                    )
    if rows:
        _append_rows(batch.points, POINT_COLUMNS, rows)
    return batch
