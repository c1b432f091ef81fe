"""The analytics queries on both engines, side by side: DuckDB (the embedded store) and
ClickHouse (chDB: the same engine as a ClickHouse server, in this process, on two cores).

    python -m benchmarks.queries --spans 1000000 10000000 --json

For each size, demo-shaped telemetry is generated straight into a DuckDB store
(``benchmarks.ingest.generate_store``: turns of 9 spans, three custom events each, spread over
a day), copied row for row into the OpenTelemetry Collector exporter's tables in chDB (through
Parquet), and every query is timed on both: one warm-up, then the median of ``--repeats`` runs.
The two engines' answers are compared too (``same``), so a faster wrong answer shows.
The goal for the embedded store: every query under 1 s at 10M spans on this 2-core machine.
Nothing here is asserted; figures depend on the machine (printed with them).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._report import machine
from benchmarks.ingest import generate_store
from bot_telemetry.analytics import appmap, client_events, conversations, events, traces
from bot_telemetry.analytics.query import Query
from bot_telemetry.analytics.window import TimeWindow
from bot_telemetry.store.clickhouse import ChDBEngine
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine

# The generator fills the columns the store promotes at ingest (peer, conversation_id)
# without the attributes they come from; put those in, as ingest would have found them.
_ATTRIBUTES_BEHIND_COLUMNS = """
UPDATE spans SET attributes = json_merge_patch(attributes, json_object('peer.service', peer))
WHERE peer IS NOT NULL;
UPDATE spans SET attributes = json_merge_patch(
    attributes, json_object('activity.conversation.id', conversation_id))
WHERE conversation_id IS NOT NULL;
UPDATE logs SET attributes = json_merge_patch(
    attributes, json_object('conversationId', conversation_id))
WHERE conversation_id IS NOT NULL;
CHECKPOINT;
"""

# The store's rows as the exporter's: kinds and statuses as names, attributes as maps, times
# as DateTime64(9); the generator's rows have no resource, so neither have these.
_TRACES_FROM_PARQUET = """
INSERT INTO `{database}`.otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName,
    SpanKind, ServiceName, ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode,
    StatusMessage)
SELECT fromUnixTimestamp64Nano(start_ns), trace_id, span_id, ifNull(parent_span_id, ''), name,
       ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'][kind + 1],
       service_name, map(), ifNull(scope_name, ''),
       CAST(JSONExtractKeysAndValues(ifNull(attributes, '{{}}'), 'String'),
            'Map(LowCardinality(String), String)'),
       duration_ns, ['Unset', 'Ok', 'Error'][status_code + 1], ifNull(status_message, '')
FROM file('{path}', Parquet)
"""
_LOGS_FROM_PARQUET = """
INSERT INTO `{database}`.otel_logs (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber,
    ServiceName, Body, ResourceAttributes, ScopeName, LogAttributes, EventName)
SELECT fromUnixTimestamp64Nano(time_ns), ifNull(trace_id, ''), ifNull(span_id, ''),
       ifNull(severity_text, ''), severity_number, service_name, ifNull(body, ''),
       map(), ifNull(scope_name, ''),
       CAST(JSONExtractKeysAndValues(ifNull(attributes, '{{}}'), 'String'),
            'Map(LowCardinality(String), String)'),
       ifNull(event_name, '')
FROM file('{path}', Parquet)
"""

EVENTS_BY_NAME = Query(
    "benchmarks.events_by_name",
    """SELECT name, count(*) AS events, count(DISTINCT conversation_id) AS conversations
       FROM events WHERE time_ns >= $start AND time_ns < $end
       GROUP BY name ORDER BY events DESC, name""",
)
TURNS_PER_CHANNEL = Query(
    "benchmarks.turns_per_channel",
    """SELECT channel_id, count(*) AS turns, count(*) FILTER (WHERE failed) AS failed_turns,
              quantile_cont(duration_ns, 0.95) AS p95_ns
       FROM turns WHERE start_ns >= $start AND start_ns < $end
       GROUP BY channel_id ORDER BY channel_id""",
)


def copy_to_clickhouse(store_path: Path, engine: ChDBEngine, folder: Path) -> dict[str, float]:
    import duckdb

    started = time.perf_counter()
    db = duckdb.connect(str(store_path))
    db.execute(_ATTRIBUTES_BEHIND_COLUMNS)
    for table in ("spans", "logs"):
        db.execute(f"COPY {table} TO '{folder / table}.parquet' (FORMAT parquet)")
    db.close()
    exported = time.perf_counter() - started
    engine.create_schema()
    database = engine.tables.database
    engine.raw(_TRACES_FROM_PARQUET.format(database=database, path=folder / "spans.parquet"))
    engine.raw(_LOGS_FROM_PARQUET.format(database=database, path=folder / "logs.parquet"))
    engine.raw(f"OPTIMIZE TABLE `{database}`.otel_traces FINAL")
    engine.raw(f"OPTIMIZE TABLE `{database}`.otel_logs FINAL")
    return {
        "export_seconds": round(exported, 1),
        "load_seconds": round(time.perf_counter() - started - exported, 1),
    }


def checks(engine: Engine, some_trace: str, latest_ns: int) -> dict[str, Callable[[], Any]]:
    """Every query a view or the CLI runs, by name. ``app_map_last_hour`` is the map of the
    data's last hour (what the UI's "last hour" asks for, measured on data that may have
    been generated earlier: the hour ends at the latest span, not now)."""
    everything = {"start": 0, "end": 2**63 - 1}
    last_hour = TimeWindow(latest_ns - 3600 * 10**9, latest_ns + 1)
    return {
        "app_map": lambda: appmap.build_app_map(engine),
        "app_map_last_hour": lambda: appmap.build_app_map(engine, last_hour),
        "node_operations": lambda: appmap.node_operations(engine, "nlu"),
        "node_trace_ids": lambda: appmap.node_trace_ids(engine, "nlu"),
        "search_recent": lambda: traces.search_traces(engine, traces.TraceQuery()),
        "search_failed": lambda: traces.search_traces(engine, traces.TraceQuery(failed=True)),
        "search_conversation": lambda: traces.search_traces(
            engine, traces.TraceQuery(conversation_id="conv-42")
        ),
        "search_event": lambda: traces.search_traces(
            engine, traces.TraceQuery(event_name="QnAMessage")
        ),
        "trace": lambda: traces.get_trace(engine, some_trace),
        "conversations": lambda: conversations.list_conversations(engine),
        "conversation": lambda: conversations.get_conversation(engine, "conv-42"),
        "events": lambda: events.list_events(engine, limit=100),
        "events_by_name": lambda: EVENTS_BY_NAME.run(engine, **everything).rows,
        "turns_per_channel": lambda: TURNS_PER_CHANNEL.run(engine, **everything).rows,
        "client_events": lambda: client_events.list_client_events(engine),
    }


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """The median wall time and the median process CPU time (both engines run in this
    process, on every core they can use: CPU above wall means parallel work), in ms."""
    answer = run()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    walls.sort()
    cpus.sort()
    return walls[len(walls) // 2] * 1000, cpus[len(cpus) // 2] * 1000, answer


def comparable(answer: Any) -> Any:
    """An answer without what differs by engine by design: attribute values' types (text on
    ClickHouse), compared as text."""
    return json.loads(json.dumps(answer, default=str), parse_float=str, parse_int=str)


def prepare(folder: Path, spans: int) -> dict[str, Any]:
    """Generate the store and its chDB copy in ``folder``, or reuse what an earlier run with
    the same ``--folder`` left there (a ``done.json`` marks a complete pair)."""
    done = folder / "done.json"
    if done.exists():
        prepared: dict[str, Any] = json.loads(done.read_text())
        prepared["reused"] = True
        return prepared
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = generate_store(folder / "store.duckdb", spans)
    generated = time.perf_counter() - started
    clickhouse = ChDBEngine(str(folder / "chdb"))
    try:
        loaded = copy_to_clickhouse(folder / "store.duckdb", clickhouse, folder)
    finally:
        clickhouse.close()
    for table in ("spans", "logs"):
        (folder / f"{table}.parquet").unlink(missing_ok=True)
    prepared = {
        "spans": counts["spans"],
        "log_records": counts["logs"],
        "generate_seconds": round(generated, 1),
        **loaded,
    }
    done.write_text(json.dumps(prepared))
    prepared["reused"] = False
    return prepared


def measure(
    folder: Path, spans: int, repeats: int, engines: list[str], only: list[str] | None
) -> dict[str, Any]:
    prepared = prepare(folder, spans)
    store = Store.open(folder / "store.duckdb", read_only=True)
    duckdb = DuckDBEngine(store)
    clickhouse = ChDBEngine(str(folder / "chdb")) if "chdb" in engines else None
    some_trace = duckdb.query(
        "SELECT trace_id FROM spans WHERE status_code = 2 ORDER BY trace_id LIMIT 1"
    ).scalar()
    latest_ns = duckdb.query("SELECT max(start_ns) FROM spans").scalar()
    results: dict[str, Any] = {}
    try:
        on: dict[str, dict[str, Callable[[], Any]]] = {}
        if "duckdb" in engines:
            on["duckdb"] = checks(duckdb, some_trace, latest_ns)
        if clickhouse is not None:
            on["chdb"] = checks(clickhouse, some_trace, latest_ns)
        for name in checks(duckdb, some_trace, latest_ns):
            if only and name not in only:
                continue
            row: dict[str, Any] = {}
            answers = []
            for engine, runs in on.items():
                wall_ms, cpu_ms, answer = timed(runs[name], repeats)
                row[f"{engine}_ms"] = round(wall_ms, 1)
                row[f"{engine}_cpu_ms"] = round(cpu_ms, 1)
                answers.append(comparable(answer))
            if len(on) == 2:
                duck_ms, house_ms = row["duckdb_ms"], row["chdb_ms"]
                row["ratio"] = round(house_ms / duck_ms, 2) if duck_ms else None
                row["same"] = answers[0] == answers[1]
            results[name] = row
    finally:
        store.close()
        if clickhouse is not None:
            clickhouse.close()
    return {**prepared, "queries": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queries", description=__doc__)
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--folder",
        type=Path,
        help="keep the generated data in FOLDER/<spans>/ and reuse it in later runs "
        "(the data's times are those of the run that generated it); default: a temporary folder",
    )
    parser.add_argument(
        "--engines", nargs="+", choices=("duckdb", "chdb"), default=["duckdb", "chdb"]
    )
    parser.add_argument("--only", nargs="+", help="only these queries (names as printed)")
    options = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "sizes": []}
    for spans in options.spans:
        with tempfile.TemporaryDirectory() as directory:
            base = options.folder or Path(directory)
            found = measure(
                base / str(spans), spans, options.repeats, options.engines, options.only
            )
        report["sizes"].append(found)
        if not options.json:
            print(
                f"{found['spans']:,} spans, {found['log_records']:,} log records "
                f"(DuckDB generated in {found['generate_seconds']} s; chDB loaded in "
                f"{found['load_seconds']} s{'; reused' if found['reused'] else ''})"
            )
            print(
                f"  {'query':<22} {'DuckDB ms':>10} {'CPU ms':>8} {'chDB ms':>10} {'CPU ms':>8}"
                f" {'ratio':>7}  same"
            )
            for name, row in found["queries"].items():
                print(
                    f"  {name:<22} {row.get('duckdb_ms', 0):>10.1f} "
                    f"{row.get('duckdb_cpu_ms', 0):>8.1f} {row.get('chdb_ms', 0):>10.1f} "
                    f"{row.get('chdb_cpu_ms', 0):>8.1f} {row.get('ratio') or 0:>7.2f}  "
                    f"{ {True: 'yes', False: 'NO'}.get(row.get('same'), '-') }"
                )
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if options.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
