"""Every measure over 1M and 10M spans, on DuckDB and on ClickHouse (chDB), side by side.

    python -m benchmarks.measures                          # 1M and 10M spans, a table
    python -m benchmarks.measures --spans 1000000 --json   # one size, one JSON document
    python -m benchmarks.measures --folder /tmp/bench --only turnLatency   # reuse the data

Bot-shaped telemetry is generated with SQL, once per size, into a DuckDB store (its own
tables, as ingest writes them) and from the same rows into chDB (the Collector exporter's
tables): ten spans a turn (the channel's call, the bot's request and turn, recognizer, Q&A,
storage read and write, the reply, the services' own requests; in every other conversation
the Q&A call of each message turn asks a model: a ``chat gpt-4o-mini`` or ``chat gpt-4o``
CLIENT span with the GenAI attributes and token counts, or a few ``embeddings
text-embedding-3-small``, for tokenUsage), about five events a turn
(BotMessageReceived/Send, LuisIntent.*, QnAMessage, waterfall events, handoffs, a web chat
page's INTERACT and FEEDBACK), exceptions on failed turns and recognizer calls, over seven
days (``--folder`` keeps it, and the next run with the same folder reuses it, unless it was
generated before the data last changed). Then each
measure is run (hour buckets over the seven days, no context; and once narrowed by
channelId, which most measures answer through the turn) after a warm-up, and the median of
the repeats is reported, with whether the two engines gave the same answer. The goal
(docs/measures.md): every measure under 500 ms at 10M spans on DuckDB.

Figures depend on the machine (printed with them); nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from benchmarks._report import machine
from bot_telemetry import contract
from bot_telemetry.analytics.measures import MEASURES, query
from bot_telemetry.dependencies.llm import PROVIDER_AZURE_OPENAI
from bot_telemetry.store.clickhouse import ChDBEngine
from bot_telemetry.store.clickhouse_relations import Tables
from bot_telemetry.store.database import Store, span_number_sql, trace_key_sql
from bot_telemetry.store.engine import DuckDBEngine, Engine

DAY_NS = 86_400 * 10**9
#: The generated week ends here (fixed, so every run asks the same question).
END_NS = 1_793_491_200 * 10**9  # 2026-11-01T00:00:00Z
START_NS = END_NS - 7 * DAY_NS
SPANS_PER_TURN = 10
TURNS_PER_CONVERSATION = 6

# (index, parent index, service, name, kind, peer, start offset us, base duration us)
_TEMPLATE = [
    (0, None, "channel", "POST /api/messages", 3, "bot", 0, 9_000),
    (1, 0, "bot", "POST /api/messages", 2, None, 1_000, 7_000),
    (2, 1, "bot", "bot.turn", 1, None, 2_000, 0),
    (3, 2, "bot", "Recognizer Query", 3, "nlu", 3_000, 20_000),
    (4, 3, "nlu", "POST /luis/predict", 2, None, 4_000, 18_000),
    (5, 2, "bot", "QnA Query", 3, "qna", 30_000, 30_000),
    (6, 5, "qna", "POST /qna/generateAnswer", 2, None, 31_000, 28_000),
    (7, 2, "bot", "Storage Read", 3, "MemoryStorage", 2_500, 300),
    (8, 2, "bot", "Storage Write", 3, "MemoryStorage", 70_000, 400),
    (9, 2, "bot", "POST /v3/conversations/activities", 3, "channel", 72_000, 6_000),
]
#: The Q&A call (index 5) of a message turn in every other conversation asks a model (a
#: generative answer: ``TelemetryQnA`` describes the call on its own CLIENT span, as
#: ``llm_event_hooks`` does): ``chat gpt-4o-mini``, or ``chat gpt-4o`` in a fifth of those
#: conversations, and in a third of them the first question is an ``embeddings`` call instead.
_MODEL_CALL = "idx = 5 AND llm_operation IS NOT NULL"
#: The GenAI attributes of a model call, but its token counts (key, SQL value) pairs.
_GEN_AI = (
    (contract.ATTR_GEN_AI_OPERATION_NAME, "llm_operation"),
    (contract.ATTR_GEN_AI_PROVIDER_NAME, f"'{PROVIDER_AZURE_OPENAI}'"),
    (contract.ATTR_GEN_AI_SYSTEM, f"'{PROVIDER_AZURE_OPENAI}'"),
    (contract.ATTR_GEN_AI_REQUEST_MODEL, "llm_model"),
    (contract.ATTR_GEN_AI_RESPONSE_MODEL, "llm_answered_by"),
)
_GEN_AI_PAIRS = ", ".join(f"'{key}', {value}" for key, value in _GEN_AI)

#: What ``done`` holds: a kept folder from before the data last changed (``complete``: no
#: model calls) is generated again rather than timed as if it were today's.
_DONE = "complete, version 2: Q&A model calls\n"

_TEMPLATE_VALUES = ", ".join(
    "({}, {}, '{}', '{}', {}, {}, {}, {})".format(
        index,
        "NULL" if parent is None else parent,
        service,
        name,
        kind,
        f"'{peer}'" if peer else "NULL",
        offset,
        duration,
    )
    for index, parent, service, name, kind, peer, offset, duration in _TEMPLATE
)


def _generate_duckdb(db: duckdb.DuckDBPyConnection, turns: int) -> None:
    """Typed tables of turns, spans and events (``g_*``), then the store's tables from them."""
    spacing = 7 * DAY_NS // turns
    users = max(turns // 40, 10)
    db.execute(f"""
CREATE TEMP TABLE g_turns AS
SELECT t, t // {TURNS_PER_CONVERSATION} AS conv, t % {TURNS_PER_CONVERSATION} AS pos,
       (t // {TURNS_PER_CONVERSATION}) % {users} AS usr,
       {START_NS} + t * {spacing} + (hash(t) % {spacing // 2})::BIGINT AS start_ns,
       (hash(t) % 1000000007)::BIGINT AS h, md5(t::VARCHAR) AS trace_id,
       CASE WHEN t % {TURNS_PER_CONVERSATION} = 0 THEN 'conversationUpdate' ELSE 'message' END
           AS activity_type,
       ['msteams', 'directline', 'webchat'][(t // {TURNS_PER_CONVERSATION}) % 3 + 1] AS channel,
       CASE WHEN (t // {TURNS_PER_CONVERSATION}) % 5 = 0 THEN 'de-DE' ELSE 'en-US' END AS locale,
       CASE WHEN t < {turns // 2} THEN 'bot-v1' ELSE 'bot-v2' END AS resource,
       t % 97 = 5 AS failed,
       (40000 + (hash(t) % 400000)::BIGINT) * 1000 AS duration_ns,
       t % 23 = 7 AND t % {TURNS_PER_CONVERSATION} > 0 AS nlu_failed
FROM range({turns}) r(t);
ALTER TABLE g_turns ADD COLUMN intent VARCHAR;
UPDATE g_turns SET intent = CASE WHEN pos = 0 OR nlu_failed THEN NULL
    ELSE ['BookTable', 'Greeting', 'Help', 'None'][h % 4 + 1] END;
ALTER TABLE g_turns ADD COLUMN llm_operation VARCHAR;
UPDATE g_turns SET llm_operation = CASE WHEN pos = 0 OR conv % 2 = 0 THEN NULL
    WHEN pos = 1 AND (conv // 6) % 3 = 0 THEN 'embeddings' ELSE 'chat' END;
ALTER TABLE g_turns ADD COLUMN llm_model VARCHAR;
UPDATE g_turns SET llm_model = CASE llm_operation WHEN 'embeddings' THEN 'text-embedding-3-small'
    WHEN 'chat' THEN CASE WHEN (conv // 2) % 5 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END END;
ALTER TABLE g_turns ADD COLUMN llm_answered_by VARCHAR;
UPDATE g_turns SET llm_answered_by = CASE llm_model WHEN 'gpt-4o' THEN 'gpt-4o-2024-08-06'
    WHEN 'gpt-4o-mini' THEN 'gpt-4o-mini-2024-07-18' ELSE llm_model END;
ALTER TABLE g_turns ADD COLUMN llm_input BIGINT;
UPDATE g_turns SET llm_input = CASE llm_operation WHEN 'embeddings' THEN 8 + (h // 17) % 60
    WHEN 'chat' THEN 350 + (h // 17) % 1800 END;
ALTER TABLE g_turns ADD COLUMN llm_output BIGINT;
UPDATE g_turns SET llm_output = CASE WHEN llm_operation = 'chat' THEN 20 + (h // 19) % 400 END;
CREATE TEMP TABLE g_template (idx INT, parent INT, service VARCHAR, name VARCHAR, kind INT,
    peer VARCHAR, offset_us BIGINT, duration_us BIGINT);
INSERT INTO g_template VALUES {_TEMPLATE_VALUES};
CREATE TEMP TABLE g_spans AS
SELECT g.*, p.idx, p.service,
       CASE WHEN {_MODEL_CALL} THEN g.llm_operation || ' ' || g.llm_model ELSE p.name END
           AS name,
       p.kind, p.peer,
       substr(md5(g.t::VARCHAR || '-' || p.idx), 1, 16) AS span_id,
       CASE WHEN p.parent IS NULL THEN NULL
            ELSE substr(md5(g.t::VARCHAR || '-' || p.parent), 1, 16) END AS parent_span_id,
       g.start_ns + p.offset_us * 1000 AS s_start,
       CASE WHEN p.idx = 2 THEN g.duration_ns
            ELSE (p.duration_us + (g.h >> p.idx) % 20000) * 1000 END AS s_duration,
       CASE WHEN p.idx = 2 AND g.failed THEN 2 WHEN p.idx IN (3, 4) AND g.nlu_failed THEN 2
            ELSE 0 END AS status,
       CASE WHEN p.service = 'bot' THEN g.resource ELSE p.service END AS resource_id
FROM g_turns g CROSS JOIN g_template p;
CREATE TEMP TABLE g_events AS
WITH kinds AS (
    SELECT g.*, e.name, e.k FROM g_turns g CROSS JOIN (VALUES
        ('BotMessageReceived', 0), ('LuisIntent', 1), ('QnAMessage', 2),
        ('WaterfallStart', 3), ('WaterfallStep', 4), ('WaterfallComplete', 5),
        ('WaterfallCancel', 6), ('BotMessageSend', 7), ('BotMessageSend', 8),
        ('INTERACT', 9), ('FEEDBACK', 10)) e(name, k)
)
SELECT t, conv, pos, usr, trace_id, channel, locale, resource, h, k,
       substr(md5(t::VARCHAR || CASE WHEN k >= 9 THEN '-0' ELSE '-2' END), 1, 16) AS span_id,
       CASE WHEN k = 1 THEN 'LuisIntent.' || intent ELSE name END AS name,
       start_ns + (1000 + k * 7000) * 1000 AS time_ns,
       CASE WHEN k = 0 THEN activity_type WHEN k = 7 THEN 'message'
            WHEN k = 8 THEN 'handoff' END AS activity_type,
       CASE WHEN k = 1 THEN intent END AS intent,
       CASE WHEN k = 1 THEN (((h // 7) % 100) / 100.0)::DOUBLE END AS score,
       CASE WHEN k = 2 THEN (h // 11) % 3 != 0 END AS found,
       CASE WHEN k BETWEEN 3 AND 6 THEN 'BookingDialog' END AS dialog,
       CASE WHEN k BETWEEN 3 AND 6 THEN 'run-' || conv END AS instance,
       CASE WHEN k = 4 THEN 'step-' || pos END AS step,
       CASE WHEN k = 10 THEN (h // 13) % 5 + 1 END AS rating,
       k >= 9 AS client
FROM kinds
WHERE (k = 0)
   OR (k = 1 AND intent IS NOT NULL)
   OR (k = 2 AND intent = 'None')
   OR (k = 3 AND conv % 4 = 0 AND pos = 1)
   OR (k = 4 AND conv % 4 = 0 AND pos BETWEEN 2 AND 4)
   OR (k = 5 AND conv % 8 = 0 AND pos = 4)
   OR (k = 6 AND conv % 8 = 4 AND pos = 3)
   OR (k = 7 AND NOT failed)
   OR (k = 8 AND conv % 50 = 0 AND pos = 5)
   OR (k = 9 AND channel = 'webchat' AND pos > 0)
   OR (k = 10 AND channel = 'webchat' AND pos > 0 AND h % 5 = 0);
INSERT INTO resources VALUES
    ('bot-v1', 'bot', '{{"service.name":"bot","service.version":"1.0.0"}}'),
    ('bot-v2', 'bot', '{{"service.name":"bot","service.version":"1.1.0"}}'),
    ('channel', 'channel', '{{"service.name":"channel"}}'),
    ('nlu', 'nlu', '{{"service.name":"nlu"}}'),
    ('qna', 'qna', '{{"service.name":"qna"}}'),
    ('webchat', 'webchat', '{{"service.name":"webchat"}}');
INSERT INTO spans (trace_id, span_id, parent_span_id, service_name, name, kind, start_ns,
    end_ns, duration_ns, status_code, status_message, peer, conversation_id, attributes, links,
    resource_id, scope_name, user_id, session_id, channel_id, activity_id, activity_type, locale,
    trace_key, span_number, parent_number)
SELECT trace_id, span_id, parent_span_id, service, name, kind, s_start, s_start + s_duration,
       s_duration, status, NULL, peer,
       CASE WHEN idx = 2 THEN 'c' || conv END,
       CASE WHEN idx = 2 THEN json_object(
                'activity.channel_id', channel, 'activity.type', activity_type,
                'activity.locale', locale, 'activity.conversation.id', 'c' || conv,
                'gen_ai.conversation.id', 'c' || conv, 'enduser.pseudo.id', 'u' || usr,
                'session.id', 's' || conv)::VARCHAR
            WHEN {_MODEL_CALL} AND llm_output IS NULL THEN json_object('peer.service', peer,
                {_GEN_AI_PAIRS}, '{contract.ATTR_GEN_AI_USAGE_INPUT_TOKENS}', llm_input)::VARCHAR
            WHEN {_MODEL_CALL} THEN json_object('peer.service', peer,
                {_GEN_AI_PAIRS}, '{contract.ATTR_GEN_AI_USAGE_INPUT_TOKENS}', llm_input,
                '{contract.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS}', llm_output)::VARCHAR
            WHEN peer IS NOT NULL THEN json_object('peer.service', peer)::VARCHAR
            ELSE '{{}}' END,
       NULL, resource_id, 'benchmark',
       CASE WHEN idx = 2 THEN 'u' || usr END, CASE WHEN idx = 2 THEN 's' || conv END,
       CASE WHEN idx = 2 THEN channel END, CASE WHEN idx = 2 THEN 'a' || t END,
       CASE WHEN idx = 2 THEN activity_type END, CASE WHEN idx = 2 THEN locale END,
       {trace_key_sql("trace_id")}, {span_number_sql("span_id")},
       {span_number_sql("parent_span_id")}
FROM g_spans;
INSERT INTO span_events
SELECT trace_id, span_id, 0, s_start + s_duration - 1000000, 'exception',
       json_object('exception.type', CASE WHEN idx = 2 THEN 'KeyError'
                                          ELSE 'aiohttp.ClientResponseError' END)::VARCHAR
FROM g_spans WHERE status = 2;
INSERT INTO logs (record_id, time_ns, trace_id, span_id, service_name, severity_number,
    severity_text, body, event_name, conversation_id, attributes, resource_id, scope_name,
    user_id, session_id, channel_id, dialog_id, activity_type, locale, intent, intent_score,
    article_found, instance_id, step_name, recognizer, trace_key)
SELECT md5(t::VARCHAR || '-' || k), time_ns, trace_id, span_id,
       CASE WHEN client THEN 'webchat' ELSE 'bot' END, 9, 'INFO', name, name, 'c' || conv,
       CASE WHEN client THEN json_object(
                'conversationId', 'c' || conv, 'fromId', 'u' || usr, 'sunbird.eid', name,
                'sunbird.edata.rating', rating)::VARCHAR
            ELSE json_object(
                'microsoft.custom_event.name', name, 'activityId', 'a' || t,
                'activityType', coalesce(activity_type, 'message'), 'channelId', channel,
                'conversationId', 'c' || conv, 'enduser.pseudo.id', 'u' || usr,
                'session.id', 's' || conv, 'locale', locale, 'fromId', 'u' || usr,
                'intent', intent, 'intentScore', score, 'articleFound', found,
                'recognizer', CASE WHEN intent IS NOT NULL THEN 'nlu' END,
                'DialogId', dialog, 'InstanceId', instance, 'StepName', step)::VARCHAR END,
       CASE WHEN client THEN 'webchat' ELSE resource END,
       CASE WHEN client THEN '{contract.CLIENT_EVENT_SCOPE}' ELSE 'bot_telemetry.events' END,
       'u' || usr, CASE WHEN NOT client THEN 's' || conv END,
       CASE WHEN NOT client THEN channel END, dialog,
       CASE WHEN NOT client THEN coalesce(activity_type, 'message') END,
       CASE WHEN NOT client THEN locale END, intent, score, found, instance, step,
       CASE WHEN intent IS NOT NULL THEN 'nlu' END, {trace_key_sql("trace_id")}
FROM g_events;
""")


def _export_parquet(db: duckdb.DuckDBPyConnection, folder: Path) -> None:
    spans, events = _parquet(folder)
    db.execute(f"""
COPY (SELECT s.*, e.time_ns AS e_time,
             CASE WHEN s.idx = 2 THEN 'KeyError' ELSE 'aiohttp.ClientResponseError' END AS e_type
      FROM g_spans s
      LEFT JOIN (SELECT trace_id, span_id, time_ns FROM span_events) e
        ON e.trace_id = s.trace_id AND e.span_id = s.span_id)
TO '{spans}' (FORMAT parquet);
COPY g_events TO '{events}' (FORMAT parquet);
""")


_KINDS = {1: "Internal", 2: "Server", 3: "Client"}


def _clickhouse_gen_ai() -> str:
    """A model call's GenAI attributes as ``map`` pairs, empty (then filtered out) on the
    other spans and for the output tokens of embeddings, as the exporter writes them."""
    values = (
        *_GEN_AI,
        (contract.ATTR_GEN_AI_USAGE_INPUT_TOKENS, "toString(llm_input)"),
        (contract.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, "toString(llm_output)"),
    )
    return ", ".join(
        f"'{key}', if({_MODEL_CALL}, ifNull({value}, ''), '')" for key, value in values
    )


def _load_clickhouse(engine: ChDBEngine, spans: Path, events: Path) -> None:
    engine.create_schema()
    traces = engine.tables.qualified(engine.tables.traces)
    logs = engine.tables.qualified(engine.tables.logs)
    version = "if(resource_id = 'bot-v1', '1.0.0', if(resource_id = 'bot-v2', '1.1.0', ''))"
    engine.raw(f"""
INSERT INTO {traces} (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind,
    ServiceName, ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`)
SELECT fromUnixTimestamp64Nano(s_start), trace_id, span_id, ifNull(parent_span_id, ''), name,
    multiIf(kind = 1, 'Internal', kind = 2, 'Server', 'Client'), service,
    mapFilter((k, v) -> v != '', map('service.name', service, 'service.version', {version})),
    'benchmark',
    if(idx = 2,
       map('activity.channel_id', channel, 'activity.type', activity_type,
           'activity.locale', locale, 'activity.conversation.id', concat('c', toString(conv)),
           'gen_ai.conversation.id', concat('c', toString(conv)),
           'enduser.pseudo.id', concat('u', toString(usr)),
           'session.id', concat('s', toString(conv))),
       mapFilter((k, v) -> v != '', map('peer.service', ifNull(peer, ''),
           {_clickhouse_gen_ai()}))),
    toUInt64(s_duration), if(status = 2, 'Error', 'Unset'),
    if(e_time IS NULL, [], [fromUnixTimestamp64Nano(assumeNotNull(e_time))]),
    if(e_time IS NULL, [], ['exception']),
    if(e_time IS NULL, [], [map('exception.type', e_type)])
FROM file('{spans}', Parquet)
SETTINGS max_insert_threads = 2""")
    engine.raw(f"""
INSERT INTO {logs} (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName,
    Body, ResourceAttributes, ScopeName, LogAttributes, EventName)
SELECT fromUnixTimestamp64Nano(time_ns), trace_id, span_id, 'INFO', 9,
    if(client, 'webchat', 'bot'), name,
    if(client, map('service.name', 'webchat'),
       map('service.name', 'bot', 'service.version', if(resource = 'bot-v1', '1.0.0', '1.1.0'))),
    if(client, '{contract.CLIENT_EVENT_SCOPE}', 'bot_telemetry.events'),
    if(client,
       mapFilter((k, v) -> v != '', map('conversationId', concat('c', toString(conv)),
           'fromId', concat('u', toString(usr)), 'sunbird.eid', name,
           'sunbird.edata.rating', ifNull(toString(rating), ''))),
       mapFilter((k, v) -> v != '', map('microsoft.custom_event.name', name,
           'activityId', concat('a', toString(t)),
           'activityType', ifNull(activity_type, 'message'), 'channelId', channel,
           'conversationId', concat('c', toString(conv)),
           'enduser.pseudo.id', concat('u', toString(usr)),
           'session.id', concat('s', toString(conv)), 'locale', locale,
           'fromId', concat('u', toString(usr)), 'intent', ifNull(intent, ''),
           'intentScore', ifNull(toString(score), ''),
           'recognizer', if(intent IS NULL, '', 'nlu'),
           'articleFound', ifNull(if(found, 'true', 'false'), ''),
           'DialogId', ifNull(dialog, ''), 'InstanceId', ifNull(instance, ''),
           'StepName', ifNull(step, '')))),
    if(client, name, '')
FROM file('{events}', Parquet)
SETTINGS max_insert_threads = 2""")


def generate(folder: Path, spans: int) -> dict[str, int]:
    """The store file ``store.duckdb`` and the same rows as Parquet for chDB, in ``folder``;
    kept when a finished set of this data's version is already there (``done`` written
    last)."""
    path = folder / "store.duckdb"
    done = folder / "done"
    if not finished(folder):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (done, path, folder / "store.duckdb.wal", *_parquet(folder)):
            stale.unlink(missing_ok=True)
        Store.open(path).close()
        db = duckdb.connect(str(path))
        try:
            _generate_duckdb(db, spans // SPANS_PER_TURN)
            db.execute("CHECKPOINT")
            _export_parquet(db, folder)
        finally:
            db.close()
        done.write_text(_DONE)
    db = duckdb.connect(str(path), read_only=True)
    try:
        return {
            table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in ("spans", "logs", "span_events")
        }
    finally:
        db.close()


def finished(folder: Path) -> bool:
    """Whether ``folder`` holds a finished set of the data ``generate`` now makes."""
    done = folder / "done"
    return done.exists() and done.read_text() == _DONE


def _parquet(folder: Path) -> tuple[Path, Path]:
    return folder / "spans.parquet", folder / "events.parquet"


def load_chdb(folder: Path, engine: ChDBEngine | None = None) -> ChDBEngine:
    """A chDB engine (by default a new one, in a temporary directory) holding the rows
    ``generate`` wrote."""
    engine = engine or ChDBEngine(tables=Tables(database="measures_bench"))
    _load_clickhouse(engine, *_parquet(folder))
    return engine


def _request(name: str, context: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "start_time": START_NS // 10**6,
        "end_time": END_NS // 10**6,
        "context": context,
        "measures": [{"measureType": name, "timeGranularity": ["hour"]}],
    }


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """The median wall time and the median CPU time (this process, every thread: both
    engines run in it) of ``repeats`` runs after a warm-up, in ms; and the answer. On a
    machine shared with other work the wall time grows with the load, the CPU time far less."""
    answer = run()  # warm-up: the compiler's cache, the engine's columns
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        answer = run()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return round(statistics.median(walls), 1), round(statistics.median(cpus), 1), answer


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1.5e-6 * max(1.0, abs(a))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def measure_size(
    spans: int,
    repeats: int,
    clickhouse: bool,
    folder: Path | None = None,
    only: list[str] | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="measures-bench-") as directory:
        data = (folder or Path(directory)) / str(spans)
        reused = finished(data)
        started = time.perf_counter()
        counts = generate(data, spans)
        generated = round(time.perf_counter() - started, 1)
        chdb = load_chdb(data) if clickhouse else None
        store = Store.open(data / "store.duckdb", read_only=True)
        engines: dict[str, Engine] = {"duckdb": DuckDBEngine(store)}
        if chdb is not None:
            engines["chdb"] = chdb
        results: dict[str, Any] = {}
        try:
            for name, measure in MEASURES.items():
                if only and name not in only:
                    continue
                # Narrowed by the channel (through the turn, for most), or for client
                # events, which take no channel, by a user.
                narrowed = (
                    ("+channelId", {"channelId": ["msteams"]})
                    if "channelId" in measure.dimensions
                    else ("+userId", {"userId": ["u3"]})
                )
                for label, context in (("", None), narrowed):
                    row: dict[str, Any] = {}
                    answers = {}
                    for engine_name, engine in engines.items():
                        request = _request(name, context)

                        def run(engine: Engine = engine, request: dict[str, Any] = request) -> Any:
                            return query(engine, **request)[0].response

                        wall, cpu, answers[engine_name] = timed(run, repeats)
                        row[f"{engine_name}_ms"] = wall
                        row[f"{engine_name}_cpu_ms"] = cpu
                    if "chdb" in answers:
                        row["same"] = _close(answers["duckdb"], answers["chdb"])
                    results[name + label] = row
        finally:
            store.close()
            if chdb is not None:
                chdb.close()
    slowest = max(row["duckdb_ms"] for row in results.values())
    slowest_cpu = max(row["duckdb_cpu_ms"] for row in results.values())
    return {
        "spans": counts["spans"],
        "events": counts["logs"],
        "span_events": counts["span_events"],
        "generate_seconds": generated,
        "reused_data": reused,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "duckdb_slowest_ms": slowest,
        "duckdb_slowest_cpu_ms": slowest_cpu,
        "duckdb_goal_met": slowest < 500,
        "measures": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.measures", description=__doc__)
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-clickhouse", action="store_true", help="DuckDB only")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--folder",
        type=Path,
        help="keep the generated data here (a folder per size) and reuse it on the next run",
    )
    parser.add_argument("--only", nargs="+", metavar="MEASURE", help="time only these measures")
    options = parser.parse_args(argv)
    unknown = sorted(set(options.only or ()) - set(MEASURES))
    if unknown:
        parser.error(f"unknown measures {unknown}; valid: {sorted(MEASURES)}")
    report: dict[str, Any] = {"benchmark": "measures", "machine": machine(), "sizes": []}
    for spans in options.spans:
        report["sizes"].append(
            measure_size(
                spans, options.repeats, not options.no_clickhouse, options.folder, options.only
            )
        )
        print(f"measured {spans:,} spans", file=sys.stderr)
    if options.json:
        print(json.dumps(report, indent=2))
        return 0
    sizes = report["sizes"]
    head = "measure".ljust(30) + "".join(
        f"{'duckdb ' + _short(s['spans']):>14}{'chdb ' + _short(s['spans']):>14}" for s in sizes
    )
    print(head)
    for name in sizes[0]["measures"]:
        cells = ""
        for size in sizes:
            row = size["measures"][name]
            same = "" if row.get("same", True) else " ≠"
            cells += (
                f"{row['duckdb_ms']:>11.1f} ms{row.get('chdb_ms', float('nan')):>11.1f} ms{same}"
            )
        print(name.ljust(30) + cells)
    for size in sizes:
        print(
            f"{size['spans']:,} spans, {size['events']:,} events: generated in "
            f"{size['generate_seconds']} s; slowest on DuckDB {size['duckdb_slowest_ms']} ms "
            f"({size['duckdb_slowest_cpu_ms']} ms CPU); load average "
            f"{size['load_average_1m']} on {report['machine']['nproc']} cores"
        )
    return 0


def _short(spans: int) -> str:
    return f"{spans // 1_000_000}M" if spans >= 1_000_000 else f"{spans // 1000}k"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
