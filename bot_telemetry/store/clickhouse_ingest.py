"""``serve --store clickhouse://...`` taking telemetry in itself: the receivers' rows written to
the Collector exporter's tables, through the same writer (``StoreWriter``) as the DuckDB store.

    writer = StoreWriter(ClickHouseSink(engine))

The receivers (OTLP over HTTP, client telemetry) hand the writer the store's rows
(``rows.Batch``); ``exporter_rows`` lays them out as the exporter would have written the same
telemetry (``otel_rows`` describes the mapping), so a database filled by ``serve`` and one
filled by a Collector read the same. Differences from the DuckDB store: ClickHouse has no
primary key, so an export the sender retries after a lost acknowledgement is stored twice
(as with the Collector); retention is the tables' TTL (``create_schema(ttl_days=...)``), not
a periodic delete. Histogram points are written as summaries (sum and count), all the store's
rows keep of them.
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
    """The batch's rows by exporter table kind: ``traces``, ``logs``, ``gauge``, ``summary``.

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
    gauges, summaries = [], []
    for point in _rows(batch.points):
        row = {
            "ServiceName": point["service_name"],
            "MetricName": point["metric_name"],
            "MetricUnit": point["unit"] or "",
            "Attributes": _text_map(point["attributes"]),
            "TimeUnix": timestamp(point["time_ns"]),
        }
        if point["count"] is None:
            gauges.append({**row, "Value": point["value"]})
        else:
            summaries.append({**row, "Sum": point["value"], "Count": point["count"]})
    return {"traces": traces, "logs": logs, "gauge": gauges, "summary": summaries}


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
        names = {
            "traces": tables.traces,
            "logs": tables.logs,
            "gauge": tables.metrics("gauge"),
            "summary": tables.metrics("summary"),
        }
        for kind, rows in exporter_rows(batch, self._resources).items():
            if rows:
                self.engine.insert(names[kind], rows)
        return Written(batch.span_count, batch.log_count, batch.point_count)

    def delete_older_than(self, cutoff_ns: int) -> int:
        """ClickHouse drops old parts by the tables' TTL; nothing to do here."""
        return 0
