"""How fast funnels, paths and retention answer over 1M and 10M events, DuckDB beside chDB.

    python -m benchmarks.journeys --events 1000000 --json
    python -m benchmarks.journeys --events 10000000 --runs 3
    python -m benchmarks.journeys --events 10000000 --folder DIR --no-chdb --only paths

Bot-shaped data is generated with SQL (not through the OTLP ingest path, which would take
longer than the queries): ~10 events per conversation, two conversations per user over eight
weeks, 45% of conversations start a four-question booking dialog and stop at a random step,
the rest ask the Q&A; every turn is a ``bot.turn`` span, 3% of them with a failing dependency
call and 2% slower than 3 s. The same rows go into the DuckDB store's tables and into the
OpenTelemetry Collector exporter's ClickHouse tables in chDB (through a Parquet file).

Timed, each after a warm-up run: median and worst wall time and median process CPU time
(every thread of the process) of ``--runs``:

* ``funnel``: the 5-step booking funnel (LuisIntent.BookTable -> WaterfallStart ->
  WaterfallStep(party size) -> WaterfallStep(name) -> WaterfallComplete), ordered, 1-hour
  window, by conversation, with the drop-off causes; ``funnel_plain`` without them;
* ``windowfunnel``: ClickHouse's own ``windowFunnel`` over the same events and steps (chDB
  only), the comparison point; its levels are checked against ours;
* ``paths``: user flows from LuisIntent.BookTable, 5 steps, 50 edges, LuisIntent.* grouped;
* ``retention``: weekly cohorts by first conversation, 8 intervals.

Figures depend on the machine (printed with them); nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks._report import machine, print_table
from bot_telemetry.analytics.journeys import funnel, paths, retention
from bot_telemetry.analytics.journeys.requests import FunnelRequest
from bot_telemetry.contract import PROMOTED_EVENT_PROPERTIES, PROMOTED_SPAN_ATTRIBUTES
from bot_telemetry.store.database import Store, promoted_sql, trace_key_sql
from bot_telemetry.store.engine import DuckDBEngine, Engine
from tests.support.window_funnel import step_counts, window_funnel_levels

#: 2026-11-02T00:00:00Z (a Monday); data spans eight weeks from here.
T0 = 1_793_577_600_000_000_000
DAYS = 56
STEPS = (
    "BookingDialog._day",
    "BookingDialog._party_size",
    "BookingDialog._name",
    "BookingDialog._confirm",
    "BookingDialog._finish",
)

FUNNEL = {
    "steps": [
        "LuisIntent.BookTable",
        {"event": "WaterfallStart", "where": {"DialogId": "booking"}},
        {"event": "WaterfallStep", "where": {"StepName": "BookingDialog._party_size"}},
        {"event": "WaterfallStep", "where": {"StepName": "BookingDialog._name"}},
        {"event": "WaterfallComplete", "where": {"DialogId": "booking"}},
    ],
    "order": "ordered",
    "window": "1h",
    "countBy": "conversation",
    "startTime": "2026-11-02T00:00:00Z",
    "endTime": "2026-12-28T00:00:00Z",
}
PATHS = {
    "startEvent": "LuisIntent.BookTable",
    "stepLimit": 5,
    "edgeLimit": 50,
    "groupings": ["LuisIntent.*"],
    "startTime": FUNNEL["startTime"],
    "endTime": FUNNEL["endTime"],
}
#: The queries --only can pick.
KINDS = ("funnel", "paths", "retention")
RETENTION = {
    "period": "week",
    "totalIntervals": 8,
    "startTime": FUNNEL["startTime"],
    "endTime": FUNNEL["endTime"],
}

_CONVERSATIONS = """
CREATE TABLE conversations AS
SELECT i, 'c' || i AS conversation_id, 'u' || (i % $users) AS user_id,
    $t0 + CAST(hash(i, 'start') % ($days * 86400) AS BIGINT) * 1000000000 AS start_ns,
    ['webchat', 'msteams', 'directline'][1 + CAST(hash(i, 'channel') % 3 AS INTEGER)]
        AS channel,
    hash(i, 'kind') % 100 < 45 AS booking,
    CAST(hash(i, 'depth') % 5 AS INTEGER) AS depth,
    1 + CAST(hash(i, 'questions') % 2 AS INTEGER) AS questions
FROM range($conversations) t(i)
"""

_TURNS = """
CREATE TABLE turns AS
SELECT c.*, k, md5(c.conversation_id || '/' || k) AS trace_id,
    substr(md5(c.conversation_id || '/' || k || '/s'), 1, 16) AS span_id,
    c.start_ns + k * 20000000000 AS turn_ns,
    CASE WHEN hash(c.i, k, 'slow') % 100 < 2 THEN 4000000000
         ELSE 80000000 + CAST(hash(c.i, k, 'd') % 300000000 AS BIGINT) END AS duration_ns,
    hash(c.i, k, 'fail') % 100 < 3 AS fails
FROM conversations c, range(5) r(k)
WHERE k < CASE WHEN c.booking THEN c.depth + 1 ELSE c.questions END
"""

_EVENTS = """
CREATE TABLE bench_events AS
SELECT * FROM (
    SELECT t.conversation_id, t.user_id, t.channel, t.trace_id, t.span_id,
        t.turn_ns + e.offset_ns AS time_ns, e.slot,
        CASE e.slot
            WHEN 0 THEN 'BotMessageReceived'
            WHEN 1 THEN CASE WHEN t.booking AND t.k = 0 THEN 'LuisIntent.BookTable'
                             ELSE 'LuisIntent.None' END
            WHEN 2 THEN CASE WHEN NOT t.booking THEN 'QnAMessage'
                             WHEN t.k = 0 THEN 'WaterfallStart'
                             ELSE 'WaterfallStep' END
            WHEN 3 THEN CASE WHEN t.booking AND t.k = 0 THEN 'WaterfallStep'
                             WHEN t.booking AND t.k = 4 THEN 'WaterfallComplete' END
            ELSE 'BotMessageSend' END AS name,
        CASE WHEN e.slot = 1 THEN CASE WHEN t.booking AND t.k = 0 THEN 'BookTable'
                                        ELSE 'None' END END AS intent,
        CASE WHEN e.slot = 1 THEN CASE WHEN t.booking AND t.k = 0 THEN 0.95
             ELSE round(0.3 + (hash(t.i, t.k, 'score') % 60) / 100.0, 2) END END AS score,
        CASE WHEN e.slot = 2 AND NOT t.booking THEN hash(t.i, t.k, 'kb') % 3 <> 0 END
            AS article_found,
        CASE WHEN t.booking AND e.slot IN (2, 3) THEN 'booking' END AS dialog,
        CASE WHEN t.booking AND e.slot = 3 AND t.k = 0 THEN $step0
             WHEN t.booking AND e.slot = 2 AND t.k > 0 THEN [$step1, $step2, $step3, $step4][t.k]
        END AS step
    FROM turns t, (VALUES (0, 1000000), (1, 10000000), (2, 20000000), (3, 21000000),
                          (4, 50000000)) e(slot, offset_ns)
) WHERE name IS NOT NULL
"""


def _sql(text: str, values: dict[str, Any]) -> str:
    for key, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"${key}", repr(value) if isinstance(value, str) else str(value))
    return text


def generate(folder: Path, events: int) -> dict[str, Any]:
    """The bench_events / turns tables in ``folder/source.duckdb`` and as Parquet files."""
    import duckdb

    conversations = max(10, events // 10)
    values = {
        "t0": T0,
        "days": DAYS,
        "conversations": conversations,
        "users": max(1, conversations // 2),
        "step0": STEPS[0],
        "step1": STEPS[1],
        "step2": STEPS[2],
        "step3": STEPS[3],
        "step4": STEPS[4],
    }
    db = duckdb.connect(str(folder / "source.duckdb"))
    for statement in (_CONVERSATIONS, _TURNS, _EVENTS):
        db.execute(_sql(statement, values))
    db.execute(f"COPY bench_events TO '{folder / 'events.parquet'}' (FORMAT parquet)")
    db.execute(f"COPY turns TO '{folder / 'turns.parquet'}' (FORMAT parquet)")
    counted = {
        "events": db.execute("SELECT count(*) FROM bench_events").fetchone()[0],  # type: ignore[index]
        "turns": db.execute("SELECT count(*) FROM turns").fetchone()[0],  # type: ignore[index]
        "conversations": conversations,
    }
    db.close()
    return counted


# The store's promoted columns and trace key are filled as ingest fills them
# (store.database.promoted_sql / trace_key_sql compute the same from the JSON attributes).
_LOG_PROMOTED = ", ".join(PROMOTED_EVENT_PROPERTIES)
_SPAN_PROMOTED = ", ".join(PROMOTED_SPAN_ATTRIBUTES)


def _promoted(promoted: Mapping[str, tuple[str, ...]]) -> str:
    return ", ".join(promoted_sql(column, keys) for column, keys in promoted.items())


_STORE_LOGS = f"""
INSERT INTO logs (record_id, time_ns, trace_id, span_id, service_name, severity_number,
    severity_text, body, event_name, conversation_id, attributes, resource_id, scope_name,
    trace_key, {_LOG_PROMOTED})
SELECT *, {trace_key_sql("trace_id")}, {_promoted(PROMOTED_EVENT_PROPERTIES)}
FROM (
    SELECT md5(trace_id || '/' || slot), time_ns, trace_id, span_id, 'bot', 9, 'INFO', name,
        name, conversation_id,
        CAST(json_object('conversationId', conversation_id, 'channelId', channel,
            'enduser.pseudo.id', user_id, 'microsoft.custom_event.name', name,
            'intent', intent, 'intentScore', score, 'articleFound', article_found,
            'DialogId', dialog, 'StepName', step) AS VARCHAR) AS attributes,
        'bench', 'bot_telemetry.events'
    FROM read_parquet('{{folder}}/events.parquet'))
"""

_STORE_SPANS = f"""
INSERT INTO spans (trace_id, span_id, parent_span_id, service_name, name, kind, start_ns,
    end_ns, duration_ns, status_code, status_message, peer, conversation_id, attributes,
    links, resource_id, scope_name, span_number, parent_number, trace_key, {_SPAN_PROMOTED})
SELECT *, {trace_key_sql("trace_id")}, {_promoted(PROMOTED_SPAN_ATTRIBUTES)}
FROM (
    SELECT trace_id, span_id, NULL, 'bot', 'bot.turn', 1, turn_ns, turn_ns + duration_ns,
        duration_ns, 0, NULL, NULL, conversation_id,
        CAST(json_object('activity.conversation.id', conversation_id, 'enduser.pseudo.id',
            user_id, 'activity.channel_id', channel, 'activity.type', 'message') AS VARCHAR)
            AS attributes,
        NULL, 'bench', 'bot_telemetry', CAST('0x' || span_id AS UBIGINT), NULL
    FROM read_parquet('{{folder}}/turns.parquet')
    UNION ALL
    SELECT trace_id, substr(md5(trace_id || 'call'), 1, 16), span_id, 'bot',
        'GET /luis/predict', 3, turn_ns + 5000000, turn_ns + 30000000, 25000000, 2, '503',
        'nlu', NULL, '{{{{"peer.service":"nlu"}}}}', NULL, 'bench', 'bot_telemetry',
        CAST('0x' || substr(md5(trace_id || 'call'), 1, 16) AS UBIGINT),
        CAST('0x' || span_id AS UBIGINT)
    FROM read_parquet('{{folder}}/turns.parquet') WHERE fails)
"""


def load_duckdb(folder: Path) -> Path:
    path = folder / "store.duckdb"
    store = Store.open(path)
    store.close()
    import duckdb

    db = duckdb.connect(str(path))
    db.execute("INSERT INTO resources VALUES ('bench', 'bot', '{\"service.name\":\"bot\"}')")
    db.execute(_STORE_LOGS.format(folder=folder))
    db.execute(_STORE_SPANS.format(folder=folder))
    db.execute("CHECKPOINT")
    db.close()
    return path


def load_chdb(engine: Any, folder: Path) -> None:
    engine.create_schema()
    logs = engine.tables.qualified(engine.tables.logs)
    traces = engine.tables.qualified(engine.tables.traces)
    text = "ifNull(toString({}), '')"
    engine.raw(
        f"""INSERT INTO {logs} (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber,
            ServiceName, Body, LogAttributes, ResourceAttributes, ScopeName)
        SELECT fromUnixTimestamp64Nano(time_ns), trace_id, span_id, 'INFO', 9, 'bot', name,
            mapFilter((k, v) -> v != '', map(
                'conversationId', conversation_id, 'channelId', channel,
                'enduser.pseudo.id', user_id, 'microsoft.custom_event.name', name,
                'intent', {text.format("intent")}, 'intentScore', {text.format("score")},
                'articleFound', {text.format("article_found")},
                'DialogId', {text.format("dialog")}, 'StepName', {text.format("step")})),
            map('service.name', 'bot'), 'bot_telemetry.events'
        FROM file('{folder}/events.parquet', Parquet)"""
    )
    engine.raw(
        f"""INSERT INTO {traces} (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind,
            ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode)
        SELECT fromUnixTimestamp64Nano(turn_ns), trace_id, span_id, '', 'bot.turn', 'Internal',
            'bot', map('service.name', 'bot'),
            map('activity.conversation.id', conversation_id, 'enduser.pseudo.id', user_id,
                'activity.channel_id', channel, 'activity.type', 'message'),
            duration_ns, 'Unset'
        FROM file('{folder}/turns.parquet', Parquet)
        UNION ALL
        SELECT fromUnixTimestamp64Nano(turn_ns + 5000000), trace_id,
            substring(hex(MD5(concat(trace_id, 'call'))), 1, 16), span_id, 'GET /luis/predict',
            'Client', 'bot', map('service.name', 'bot'), map('peer.service', 'nlu'), 25000000,
            'Error'
        FROM file('{folder}/turns.parquet', Parquet) WHERE fails"""
    )


def _time(run: Callable[[], Any], runs: int) -> dict[str, float]:
    """Wall and process CPU time (every thread of this process: DuckDB's and chDB's too)."""
    run()
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return {
        "median_s": round(statistics.median(walls), 3),
        "worst_s": round(max(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.journeys")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-chdb", action="store_true", help="DuckDB only")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--folder", type=Path, help="keep the data here (default: temporary)")
    parser.add_argument(
        "--only",
        action="append",
        choices=KINDS,
        help="time only this query (funnel includes funnel_plain and windowfunnel); repeatable",
    )
    options = parser.parse_args(argv)
    folder = options.folder or Path(tempfile.mkdtemp(prefix="bench-journeys-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data_file = folder / "data.json"
    if options.folder and data_file.exists() and (folder / "store.duckdb").exists():
        data = json.loads(data_file.read_text())  # generated before into this folder
        duckdb_path = folder / "store.duckdb"
    else:
        data = generate(folder, options.events)
        duckdb_path = load_duckdb(folder)
        data["load_s"] = round(time.perf_counter() - started, 1)
        data_file.write_text(json.dumps(data))
    report: dict[str, Any] = {"machine": machine(), "data": data}
    request = FunnelRequest.parse(FUNNEL)
    plain = FunnelRequest.parse({**FUNNEL, "dropOff": False})
    results: dict[str, dict[str, Any]] = {}
    engines: list[tuple[str, Engine]] = [
        ("duckdb", DuckDBEngine(Store.open(duckdb_path, read_only=True), owns_store=True))
    ]
    if not options.no_chdb:
        from bot_telemetry.store.clickhouse import ChDBEngine
        from bot_telemetry.store.clickhouse_relations import Tables

        fresh = not (folder / "chdb").exists()
        chdb = ChDBEngine(str(folder / "chdb"), tables=Tables(database="bench"))
        if fresh:
            load_chdb(chdb, folder)
        engines.append(("chdb", chdb))
    kinds = options.only or list(KINDS)
    answers = {}
    for name, engine in engines:
        timings = results.setdefault(name, {})
        if "funnel" in kinds:
            answers[name] = funnel(engine, request)
            timings["funnel"] = _time(lambda e=engine: funnel(e, request), options.runs)
            timings["funnel_plain"] = _time(lambda e=engine: funnel(e, plain), options.runs)
        if "paths" in kinds:
            answers[name + ".paths"] = paths(engine, PATHS)
            timings["paths"] = _time(lambda e=engine: paths(e, PATHS), options.runs)
        if "retention" in kinds:
            answers[name + ".retention"] = retention(engine, RETENTION)
            timings["retention"] = _time(lambda e=engine: retention(e, RETENTION), options.runs)
        if name == "chdb" and "funnel" in kinds:
            levels = window_funnel_levels(engine, request)
            timings["windowfunnel"] = _time(
                lambda e=engine: window_funnel_levels(e, request), options.runs
            )
            ours = [s["count"] for s in answers[name]["steps"]]
            report["windowfunnel_agrees"] = ours == step_counts(levels, len(ours))
        engine.close()
    if "funnel" in kinds:
        report["funnel_counts"] = [s["count"] for s in answers["duckdb"]["steps"]]
        report["drop_off_causes"] = [s["dropOffCauses"] for s in answers["duckdb"]["steps"]]
    if "paths" in kinds:
        report["paths_nodes"] = len(answers["duckdb.paths"]["nodes"])
    if "retention" in kinds:
        report["retention_first_cohort"] = answers["duckdb.retention"]["cohorts"][0]["values"]
    if not options.no_chdb:
        report["engines_agree"] = all(
            answers[f"chdb{suffix}"] == answers[f"duckdb{suffix}"]
            for kind, suffix in zip(KINDS, ("", ".paths", ".retention"), strict=True)
            if kind in kinds
        )
    report["results"] = results
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print_table("data", report["data"])
        for name, timings in results.items():
            print_table(
                name,
                {
                    k: f"{v['median_s']} s (worst {v['worst_s']}, CPU {v['cpu_s']} s)"
                    for k, v in timings.items()
                },
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
