"""``serve --store clickhouse://...`` taking telemetry in itself: the receivers' rows written to
the Collector exporter's tables, through the same writer (``StoreWriter``) as the DuckDB store.

    writer = StoreWriter(ClickHouseSink(engine))

The receivers (OTLP over HTTP, client telemetry) hand the writer the store's rows
(``rows.Batch``); ``exporter_rows`` lays them out as the exporter would have written the same
telemetry (``otel_rows`` describes the mapping), so a database filled by ``serve`` and one
filled by a Collector read the same. Differences from the DuckDB store: ClickHouse has no
primary key, so an export the sender retries after a lost acknowledgement is stored twice
(as with the Collector); retention is the tables' TTL (``create_schema(ttl_days=...)``), not
a periodic delete. Exponential histograms are written to the histogram table with the
explicit buckets the store converts them to.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from .clickhouse import ClickHouseEngine
from .database import KIND_NAMES, Written
from .otel_rows import attribute_text, timestamp
from .rows import Batch

_STATUS_NAMES = {0: "Unset", 1: "Ok", 2: "Error"}


def _text_map(attributes: str | None) -> dict[str, str]:
    loaded = json.loads(attributes) if attributes else {}
    if not isinstance(loaded, dict):
        return {}
    return {key: attribute_text(value) for key, value in loaded.items()}


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def exporter_rows(batch: Batch, resources: dict[str, dict[str, str]]) -> dict[str, list[Any]]:
    """The batch's rows by exporter table kind: ``traces``, ``logs``, and the metric kinds
    (``gauge``, ``sum``, ``histogram``, ``summary``).

    ``resources`` maps resource ids to their attributes; the batch's own are added to it (a
    writer keeps it across batches: each resource is sent once per batch that first used it).
    """
    for resource in _rows(batch.resources):
        resources[resource["resource_id"]] = _text_map(resource["attributes"])
    events: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in sorted(_rows(batch.events), key=lambda e: e["seq"]):
        events[(event["trace_id"], event["span_id"])].append(event)
    traces = []
    for span in _rows(batch.spans):
        own = events.get((span["trace_id"], span["span_id"]), [])
        links = json.loads(span["links"]) if span.get("links") else []
        kind = KIND_NAMES.get(span["kind"], "unspecified").title()
        traces.append(
            {
                "Timestamp": timestamp(span["start_ns"]),
                "TraceId": span["trace_id"],
                "SpanId": span["span_id"],
                "ParentSpanId": span["parent_span_id"] or "",
                "SpanName": span["name"],
                "SpanKind": kind,
                "ServiceName": span["service_name"],
                "ResourceAttributes": resources.get(span["resource_id"], {}),
                "ScopeName": span["scope_name"] or "",
                "SpanAttributes": _text_map(span["attributes"]),
                "Duration": span["duration_ns"],
                "StatusCode": _STATUS_NAMES.get(span["status_code"], "Unset"),
                "StatusMessage": span["status_message"] or "",
                "Events.Timestamp": [timestamp(e["time_ns"]) for e in own],
                "Events.Name": [e["name"] for e in own],
                "Events.Attributes": [_text_map(e["attributes"]) for e in own],
                "Links.TraceId": [link.get("trace_id", "") for link in links],
                "Links.SpanId": [link.get("span_id", "") for link in links],
                "Links.TraceState": ["" for _ in links],
                "Links.Attributes": [
                    {k: attribute_text(v) for k, v in link.get("attributes", {}).items()}
                    for link in links
                ],
            }
        )
    logs = [
        {
            "Timestamp": timestamp(record["time_ns"]),
            "TraceId": record["trace_id"] or "",
            "SpanId": record["span_id"] or "",
            "SeverityText": record["severity_text"] or "",
            "SeverityNumber": record["severity_number"] or 0,
            "ServiceName": record["service_name"],
            "Body": record["body"] or "",
            "ResourceAttributes": resources.get(record["resource_id"], {}),
            "ScopeName": record["scope_name"] or "",
            "LogAttributes": _text_map(record["attributes"]),
            "EventName": record["event_name"] or "",
        }
        for record in _rows(batch.logs)
    ]
    points: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for point in _rows(batch.points):
        kind = point.get("kind") or ("gauge" if point["count"] is None else "summary")
        row: dict[str, Any] = {
            "ResourceAttributes": resources.get(point.get("resource_id") or "", {}),
            "ScopeName": point.get("scope_name") or "",
            "ServiceName": point["service_name"],
            "MetricName": point["metric_name"],
            "MetricDescription": point.get("description") or "",
            "MetricUnit": point["unit"] or "",
            "Attributes": _text_map(point["attributes"]),
            "StartTimeUnix": timestamp(point.get("start_ns") or 0),
            "TimeUnix": timestamp(point["time_ns"]),
            # FLAG_NO_RECORDED_VALUE for a point stored without a value.
            "Flags": 1 if point["value"] is None and kind in ("gauge", "sum") else 0,
        }
        if kind in ("gauge", "sum"):
            row["Value"] = point["value"] or 0.0
            if kind == "sum":
                row["AggregationTemporality"] = point.get("temporality") or 0
                row["IsMonotonic"] = bool(point.get("monotonic"))
        else:
            row["Sum"] = point["value"] or 0.0
            row["Count"] = point["count"] or 0
        if kind in ("histogram", "exponential_histogram"):
            # The store keeps an exponential histogram's buckets as explicit ones.
            kind = "histogram"
            row.update(
                ExplicitBounds=list(point.get("bounds") or []),
                BucketCounts=list(point.get("bucket_counts") or []),
                Min=point.get("min") or 0.0,
                Max=point.get("max") or 0.0,
                AggregationTemporality=point.get("temporality") or 0,
            )
        points[kind].append(row)
    return {"traces": traces, "logs": logs, **points}


class ClickHouseSink:
    """Writes batches into the exporter's tables of one ClickHouse database."""

    def __init__(self, engine: ClickHouseEngine):
        self.engine = engine
        self._resources: dict[str, dict[str, str]] = {}

    @property
    def path(self) -> str:
        return self.engine.description

    def write(self, batch: Batch) -> Written:
        tables = self.engine.tables
        names = {"traces": tables.traces, "logs": tables.logs}
        for kind, rows in exporter_rows(batch, self._resources).items():
            if rows:
                self.engine.insert(names.get(kind) or tables.metrics(kind), rows)
        return Written(batch.span_count, batch.log_count, batch.point_count)

    def delete_older_than(self, cutoff_ns: int) -> int:
        """ClickHouse drops old parts by the tables' TTL; nothing to do here."""
        return 0
