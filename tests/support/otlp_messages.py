"""Small OTLP export requests built field by field, for tests that need exact (and hostile)
values an SDK would never produce. Their resource is marked as a bot's (``configure()``'s
``telemetry.distro.name``), so ``serve`` stores them as they are: other services' telemetry
gets its privacy policy (tests/receive/test_other_services.py)."""

from __future__ import annotations

import itertools
import urllib.request
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from bot_telemetry.contract import DISTRO_NAME, RESOURCE_DISTRO_NAME

T0 = 1_700_000_000_000_000_000
#: What every request's resource says besides its service's name.
BOT: dict[str, Any] = {RESOURCE_DISTRO_NAME: DISTRO_NAME}
_ids = itertools.count(1)


def value(item: Any) -> AnyValue:
    """A Python value as an OTLP AnyValue (bool, int, float, str, bytes, list, dict)."""
    if isinstance(item, bool):
        return AnyValue(bool_value=item)
    if isinstance(item, int):
        return AnyValue(int_value=item)
    if isinstance(item, float):
        return AnyValue(double_value=item)
    if isinstance(item, bytes):
        return AnyValue(bytes_value=item)
    if isinstance(item, list):
        wrapped = AnyValue()
        wrapped.array_value.values.extend(value(x) for x in item)
        return wrapped
    if isinstance(item, dict):
        wrapped = AnyValue()
        wrapped.kvlist_value.values.extend(attributes(item))
        return wrapped
    return AnyValue(string_value=str(item))


def attributes(items: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(item)) for key, item in items.items()]


def new_trace_id() -> bytes:
    return next(_ids).to_bytes(16, "big")


def new_span_id() -> bytes:
    return next(_ids).to_bytes(8, "big")


def spans_request(
    spans: list[dict[str, Any]], service: str = "svc", resource: dict[str, Any] | None = None
) -> ExportTraceServiceRequest:
    """Each dict holds Span fields; ids, times and kind get defaults, ``attributes`` a dict."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        attributes({"service.name": service, **BOT, **(resource or {})})
    )
    scope = resource_spans.scope_spans.add()
    scope.scope.name, scope.scope.version = "tests", "1.2.3"
    for fields in spans:
        fields = dict(fields)
        span_attributes = fields.pop("attributes", {})
        events = fields.pop("events", [])
        links = fields.pop("links", [])
        status = fields.pop("status", None)
        span = scope.spans.add(
            trace_id=fields.pop("trace_id", None) or new_trace_id(),
            span_id=fields.pop("span_id", None) or new_span_id(),
            name=fields.pop("name", "span"),
            kind=fields.pop("kind", 2),
            start_time_unix_nano=fields.pop("start", T0),
            end_time_unix_nano=fields.pop("end", T0 + 1_000_000),
            **fields,
        )
        span.attributes.extend(attributes(span_attributes))
        if status is not None:
            span.status.code = status
        for event in events:
            added = span.events.add(name=event.get("name", "event"), time_unix_nano=event["time"])
            added.attributes.extend(attributes(event.get("attributes", {})))
        for trace_id, span_id in links:
            span.links.add(trace_id=trace_id, span_id=span_id)
    return request


def logs_request(records: list[dict[str, Any]], service: str = "svc") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(attributes({"service.name": service, **BOT}))
    scope = resource_logs.scope_logs.add()
    for fields in records:
        fields = dict(fields)
        record_attributes = fields.pop("attributes", {})
        body = fields.pop("body", None)
        record = scope.log_records.add(**fields)
        record.attributes.extend(attributes(record_attributes))
        if body is not None:
            record.body.CopyFrom(value(body))
    return request


def metrics_request(
    metrics: list[dict[str, Any]], service: str = "svc"
) -> ExportMetricsServiceRequest:
    """Each dict: ``name``, ``kind`` (gauge, sum, histogram, exponential_histogram, summary),
    ``points`` (dicts of point fields, ``attributes`` a dict) and optional ``temporality``,
    ``monotonic``, ``unit``, ``description``."""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(attributes({"service.name": service, **BOT}))
    scope = resource_metrics.scope_metrics.add()
    scope.scope.name = "tests"
    for spec in metrics:
        metric = scope.metrics.add(
            name=spec["name"], unit=spec.get("unit", ""), description=spec.get("description", "")
        )
        kind = spec["kind"]
        data = getattr(metric, kind)
        data.SetInParent()
        if kind in ("sum", "histogram", "exponential_histogram"):
            data.aggregation_temporality = spec.get("temporality", 2)
        if kind == "sum":
            data.is_monotonic = spec.get("monotonic", True)
        for fields in spec["points"]:
            fields = dict(fields)
            point_attributes = fields.pop("attributes", {})
            positive = fields.pop("positive", None)
            negative = fields.pop("negative", None)
            fields.setdefault("time_unix_nano", T0)
            point = data.data_points.add(**fields)
            point.attributes.extend(attributes(point_attributes))
            for side, buckets in (("positive", positive), ("negative", negative)):
                if buckets is not None:
                    offset, counts = buckets
                    getattr(point, side).offset = offset
                    getattr(point, side).bucket_counts.extend(counts)
    return request


def post_otlp(url: str, path: str, message: Message) -> None:
    """POST an export request to ``url`` + ``path`` (``/v1/traces``, ``/v1/logs``,
    ``/v1/metrics``) as an exporter does, protobuf over HTTP; it must be taken (200)."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=message.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
