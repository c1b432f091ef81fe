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

A bad row is refused alone: ClickHouse refuses a whole insert for one row it cannot take (a
value a column the operator narrowed cannot hold, a table's ``CONSTRAINT``), and says at
which row. ``insert_keeping_the_good`` then inserts the rows before it, tries it
alone and goes on with the rest (in halves when no row is named), at most
``ISOLATING_INSERTS`` inserts: the good rows land, each refused one is reported
(``Written.refused``) with ClickHouse's reason, and the receiver answers partial success.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..privacy.item_data import without_item_data
from .clickhouse import ClickHouseEngine
from .database import KIND_NAMES, Refused, Written
from .engine import EngineError, EngineUnavailable
from .otel_rows import attribute_text, timestamp
from .rows import Batch

_log = logging.getLogger(__name__)

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
    return _exporter_rows(batch, resources)[0]


def _exporter_rows(
    batch: Batch, resources: dict[str, dict[str, str]]
) -> tuple[dict[str, list[Any]], dict[str, list[int]]]:
    """``exporter_rows``, and for each metric kind the index in ``batch.points`` of each of
    its rows (spans and log records keep the batch's order)."""
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
    positions: dict[str, list[int]] = defaultdict(list)
    for position, point in enumerate(_rows(batch.points)):
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
        positions[kind].append(position)
    return {"traces": traces, "logs": logs, **points}, positions


class ClickHouseSink:
    """Writes batches into the exporter's tables of one ClickHouse database."""

    def __init__(self, engine: ClickHouseEngine):
        self.engine = engine
        self._resources: dict[str, dict[str, str]] = {}
        self._told: set[str] = set()  # reasons said in the log (client events get no answer)

    @property
    def path(self) -> str:
        return self.engine.description

    def write(self, batch: Batch) -> Written:
        tables = self.engine.tables
        names = {"traces": tables.traces, "logs": tables.logs}
        rows_by_kind, positions = _exporter_rows(batch, self._resources)
        refused: list[Refused] = []
        for kind, rows in rows_by_kind.items():
            if not rows:
                continue
            table = names.get(kind) or tables.metrics(kind)
            for index, reason in insert_keeping_the_good(self.engine, table, rows):
                if kind == "traces":
                    refused.append(Refused("spans", index, reason))
                elif kind == "logs":
                    refused.append(Refused("logs", index, reason))
                else:
                    refused.append(Refused("points", positions[kind][index], reason))
        for reason in dict.fromkeys(row.reason for row in refused):
            if reason not in self._told:
                self._told.add(reason)
                _log.warning(
                    "%s; it is left out and the rest of its batch stored (the sender is told "
                    "through OTLP partial success); further rows refused so are not logged",
                    reason,
                )
        return Written(batch.span_count, batch.log_count, batch.point_count, tuple(refused))

    def delete_older_than(self, cutoff_ns: int) -> int:
        """ClickHouse drops old parts by the tables' TTL; nothing to do here."""
        return 0


#: Inserts one table's rows may take to find the rows ClickHouse refuses (bad rows cost about
#: three each); past that, the rows not yet placed are counted as refused with them.
ISOLATING_INSERTS = 64

# ClickHouse names the row an insert failed on: "(at row 2)" for a value it cannot parse,
# "is violated at row 2" for a CONSTRAINT. An error without one is not about a row.
_AT_ROW = re.compile(r"\bat row (\d+)")
_EXCEPTION = re.compile(r"DB::Exception:\s*")
_CODE_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*\(version ")
# Where ClickHouse quotes the data it read ("before: 'alice@...'"), up to its next clause.
_QUOTED_INPUT = re.compile(r"\s*before:.*?(?=: \(while|$)", re.DOTALL)


def insert_keeping_the_good(
    engine: ClickHouseEngine, table: str, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[int, str]]:
    """Insert ``rows``; when ClickHouse refuses the insert for a row, insert the others and
    return the rows it refuses alone, as (index in ``rows``, its reason). An error that names
    no row (the table, the server) is raised, as are those met while isolating: the batch is
    then refused whole, as before (some of its rows may be in already)."""
    try:
        engine.insert(table, rows)
        return []
    except EngineUnavailable:
        raise
    except EngineError as error:
        if _AT_ROW.search(str(error)) is None:
            raise
        failing = [(0, len(rows), str(error))]
    refused: list[tuple[int, str]] = []
    budget = ISOLATING_INSERTS
    while failing:
        start, end, message = failing.pop()
        if end - start == 1:
            refused.append((start, refusal_reason(message)))
            continue
        for low, high in _pieces(start, end, message):
            if budget <= 0:
                refused.extend((index, refusal_reason(message)) for index in range(low, high))
                continue
            budget -= 1
            try:
                engine.insert(table, rows[low:high])
            except EngineUnavailable:
                raise
            except EngineError as again:
                if _AT_ROW.search(str(again)) is None:
                    raise
                failing.append((low, high, str(again)))
    return sorted(refused)


def _pieces(start: int, end: int, message: str) -> list[tuple[int, int]]:
    """The rows before the one ClickHouse named, that row, and the rest; halves when the row
    it names is not in the insert."""
    found = _AT_ROW.search(message)
    at = start + int(found.group(1)) - 1 if found else -1
    if not start <= at < end:
        middle = (start + end) // 2
        return [(start, middle), (middle, end)]
    return [(low, high) for low, high in ((start, at), (at, at + 1), (at + 1, end)) if low < high]


def refusal_reason(message: str) -> str:
    """ClickHouse's reason for refusing a row, without the row's data: its words up to "at
    row" (a constraint's expression and column values follow there), without the input it
    quoted, and the error's name."""
    found = _EXCEPTION.search(message)
    text = message[found.end() :] if found else message
    name = _CODE_NAME.search(text)
    text = _AT_ROW.split(text, maxsplit=1)[0]
    text = _QUOTED_INPUT.sub("", text).strip().rstrip("(:;,. ").strip()
    text = without_item_data(" ".join(text.split()), limit=240)
    reason = f"ClickHouse refused the row: {text}" if text else "ClickHouse refused the row"
    if name and name.group(1) not in text:
        reason += f" ({name.group(1)})"
    return reason[:300]
