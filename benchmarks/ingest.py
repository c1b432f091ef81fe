"""How fast the embedded collector takes spans in, and answers over a million of them.

    python -m benchmarks.ingest --json

Two measurements:

1. Ingest: ``bot-telemetry serve`` runs as its own process; senders post OTLP/HTTP protobuf
   exports of 512 spans each (demo-shaped traces), then the same bodies over OTLP/gRPC to a
   fresh serve, and we count spans per second from the first request to the last
   acknowledgement. Acknowledged means committed, so this is the
   durable rate. The stored count is checked against what was sent. The senders run on the
   same machine and compete with the server for its cores, so the server's own CPU time
   (user + system, from /proc on Linux) is reported too: spans per CPU-second is the rate
   one core would sustain, whatever the senders take.
2. Queries: a million demo-shaped spans (and their custom events) are generated straight
   into a store with SQL, then the app map, transaction searches, one trace and the
   conversation views are timed (median and worst of several runs after a warm-up).

Figures depend on the machine (printed with them); nothing here is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from benchmarks._report import machine, print_table
from bot_telemetry.analytics import appmap, conversations, traces
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine

BATCH = 512
REPO = Path(__file__).resolve().parents[1]

# One demo turn: (parent index, service, name, kind, peer, start offset µs, duration µs).
TURN = [
    (None, "channel", "POST /api/messages", Span.SPAN_KIND_CLIENT, "bot", 0, 120_000),
    (0, "bot", "POST /api/messages", Span.SPAN_KIND_SERVER, None, 2_000, 115_000),
    (1, "bot", "bot.turn", Span.SPAN_KIND_INTERNAL, None, 3_000, 110_000),
    (2, "bot", "POST /luis/predict", Span.SPAN_KIND_CLIENT, "nlu", 5_000, 30_000),
    (3, "nlu", "POST /luis/predict", Span.SPAN_KIND_SERVER, None, 6_000, 28_000),
    (2, "bot", "POST /qna/generateAnswer", Span.SPAN_KIND_CLIENT, "qna", 40_000, 40_000),
    (5, "qna", "POST /qna/generateAnswer", Span.SPAN_KIND_SERVER, None, 41_000, 38_000),
    (2, "bot", "blob read", Span.SPAN_KIND_CLIENT, "azure.blob", 82_000, 8_000),
    (
        2,
        "bot",
        "POST /v3/conversations/activities",
        Span.SPAN_KIND_CLIENT,
        "channel",
        92_000,
        15_000,
    ),
    (
        8,
        "channel",
        "POST /v3/conversations/activities",
        Span.SPAN_KIND_SERVER,
        None,
        93_000,
        12_000,
    ),
]
SERVICES = sorted({step[1] for step in TURN})


def _text(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def export_bodies(spans: int, seed: int = 7) -> list[bytes]:
    """OTLP protobuf bodies of ``BATCH`` spans each, demo-shaped, grouped by service."""
    rng = random.Random(seed)
    now = time.time_ns()
    bodies: list[bytes] = []
    turns_per_batch = BATCH // len(TURN)
    made = 0
    while made < spans:
        request = ExportTraceServiceRequest()
        per_service = {}
        for service in SERVICES:
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.append(_text("service.name", service))
            per_service[service] = resource_spans.scope_spans.add()
        count = 0
        for _ in range(turns_per_batch + 1):
            trace_id = rng.randbytes(16)
            span_ids = [rng.randbytes(8) for _ in TURN]
            start = now - rng.randrange(86_400 * 10**9)
            conversation = f"conv-{rng.randrange(10_000)}"
            for index, (parent, service, name, kind, peer, offset, duration) in enumerate(TURN):
                if count == BATCH or made + count == spans:
                    break
                span = per_service[service].spans.add(
                    trace_id=trace_id,
                    span_id=span_ids[index],
                    name=name,
                    kind=kind,
                    start_time_unix_nano=start + offset * 1000,
                    end_time_unix_nano=start + (offset + duration) * 1000,
                )
                if parent is not None:
                    span.parent_span_id = span_ids[parent]
                if peer:
                    span.attributes.append(_text("peer.service", peer))
                if name == "bot.turn":
                    span.attributes.extend(
                        [
                            _text("activity.conversation.id", conversation),
                            _text("activity.type", "message"),
                            _text("activity.channel_id", "directline"),
                        ]
                    )
                span.attributes.append(_text("http.request.method", "POST"))
                count += 1
        made += count
        bodies.append(request.SerializeToString())
    return bodies


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_sender(port: int, queue: list[bytes], lock: threading.Lock, failures: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        with lock:
            if not queue:
                break
            body = queue.pop()
        connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            failures.append(f"{response.status}")
    connection.close()


def _grpc_sender(port: int, queue: list[bytes], lock: threading.Lock, failures: list[str]) -> None:
    import grpc

    # One channel (one HTTP/2 connection) per sender, as one exporter has.
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            try:
                export(body, timeout=120)
            except grpc.RpcError as error:
                failures.append(str(error.code()))  # type: ignore[attr-defined]


def measure_ingest(spans: int, senders: int, protocol: str = "http") -> dict[str, Any]:
    """Spans per second into a fresh ``serve``, over OTLP/HTTP or OTLP/gRPC."""
    bodies = export_bodies(spans)
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "ingest.duckdb"
        port, grpc_port = _free_port(), _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot_telemetry.cli",
                "serve",
                "--store",
                str(store),
                "--port",
                str(port),
                "--grpc-port",
                str(grpc_port),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/api/health", server)
            failures: list[str] = []
            queue = list(bodies)
            lock = threading.Lock()
            sender, target = (
                (_grpc_sender, grpc_port) if protocol == "grpc" else (_http_sender, port)
            )

            def send() -> None:
                sender(target, queue, lock, failures)

            threads = [threading.Thread(target=send) for _ in range(senders)]
            cpu_before = cpu_seconds(server.pid)
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            cpu_after = cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(60)
        opened = Store.open(store, read_only=True)
        stored = opened.counts()["spans"]
        opened.close()
    return {
        "protocol": "OTLP/gRPC" if protocol == "grpc" else "OTLP/HTTP protobuf",
        "spans_sent": spans,
        "spans_stored": stored,
        "batch_spans": BATCH,
        "requests": len(bodies),
        "senders": senders,
        "failed_requests": len(failures),
        "seconds": round(elapsed, 3),
        "spans_per_second": round(spans / elapsed),
        **_cpu_figures(spans, cpu_before, cpu_after),
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (all its threads), or None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start at field 3, the state.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_figures(spans: int, before: float | None, after: float | None) -> dict[str, Any]:
    if before is None or after is None or after <= before:
        return {}
    used = after - before
    return {
        "server_cpu_seconds": round(used, 2),
        "spans_per_server_cpu_second": round(spans / used),
    }


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer")


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
    for index, (parent, service, name, kind, peer, offset, duration) in enumerate(TURN)
)


def generate_store(path: Path, spans: int) -> dict[str, int]:
    """Write ``spans`` demo-shaped spans (1 in 50 turns failing in nlu) and their events."""
    turns = spans // len(TURN)
    store = Store.open(path)
    store.close()
    import duckdb

    db = duckdb.connect(str(path))
    now = time.time_ns()
    spacing = 86_400 * 10**9 // max(turns, 1)  # spread over the last day
    base = now - turns * spacing
    db.execute(f"""
        CREATE TEMP TABLE template (idx INT, parent INT, service VARCHAR, name VARCHAR,
            kind TINYINT, peer VARCHAR, offset_us BIGINT, duration_us BIGINT);
        INSERT INTO template VALUES {_TEMPLATE_VALUES};
        INSERT INTO spans (trace_id, span_id, parent_span_id, service_name, name, kind,
            start_ns, end_ns, duration_ns, status_code, status_message, peer, conversation_id,
            attributes, links, resource_id, scope_name, scope_version, channel_id, activity_type,
            trace_key, span_number, parent_number)
        SELECT md5(t.range::VARCHAR) AS trace_id,
               substr(md5(t.range::VARCHAR || '-' || p.idx), 1, 16) AS span_id,
               CASE WHEN p.parent IS NULL THEN NULL
                    ELSE substr(md5(t.range::VARCHAR || '-' || p.parent), 1, 16) END,
               p.service, p.name, p.kind,
               {base} + t.range * {spacing} + p.offset_us * 1000 AS s,
               {base} + t.range * {spacing}
                   + (p.offset_us + p.duration_us) * 1000,
               p.duration_us * 1000,
               CASE WHEN t.range % 50 = 0 AND p.service IN ('nlu') THEN 2
                    WHEN t.range % 50 = 0 AND p.idx = 3 THEN 2 ELSE 0 END,
               NULL, p.peer,
               CASE WHEN p.name = 'bot.turn' THEN 'conv-' || (t.range % 10000) END,
               CASE WHEN p.name = 'bot.turn' THEN
                   '{{"activity.channel_id":"directline","activity.type":"message"}}'
                   ELSE '{{}}' END,
               NULL, NULL, 'benchmark', NULL,
               CASE WHEN p.name = 'bot.turn' THEN 'directline' END,
               CASE WHEN p.name = 'bot.turn' THEN 'message' END,
               CAST('0x' || substr(md5(t.range::VARCHAR), 1, 16) AS UBIGINT),
               CAST('0x' || substr(md5(t.range::VARCHAR || '-' || p.idx), 1, 16) AS UBIGINT),
               CASE WHEN p.parent IS NOT NULL THEN CAST(
                   '0x' || substr(md5(t.range::VARCHAR || '-' || p.parent), 1, 16) AS UBIGINT) END
        FROM range({turns}) t CROSS JOIN template p;
        INSERT INTO logs (record_id, time_ns, trace_id, span_id, service_name, severity_number,
            severity_text, body, event_name, conversation_id, attributes, resource_id,
            scope_name, scope_version, trace_key)
        SELECT md5(t.range::VARCHAR || e.name), {base} + t.range * {spacing}
                   + 4000000,
               md5(t.range::VARCHAR), substr(md5(t.range::VARCHAR || '-2'), 1, 16), 'bot', 9,
               'INFO', e.name, e.name, 'conv-' || (t.range % 10000),
               '{{"microsoft.custom_event.name":"' || e.name || '"}}', NULL, 'benchmark', NULL,
               CAST('0x' || substr(md5(t.range::VARCHAR), 1, 16) AS UBIGINT)
        FROM range({turns}) t CROSS JOIN (VALUES ('BotMessageReceived'), ('QnAMessage'),
             ('BotMessageSend')) e(name);
        CHECKPOINT;
    """)
    counts = {
        "spans": db.execute("SELECT count(*) FROM spans").fetchone()[0],  # type: ignore[index]
        "logs": db.execute("SELECT count(*) FROM logs").fetchone()[0],  # type: ignore[index]
    }
    db.close()
    return counts


def timed(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    run()  # warm-up: DuckDB loads the columns it needs once
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return {
        "median_ms": round(durations[len(durations) // 2], 1),
        "max_ms": round(durations[-1], 1),
    }


def measure_queries(spans: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "million.duckdb"
        started = time.perf_counter()
        counts = generate_store(path, spans)
        generated = time.perf_counter() - started
        store = Store.open(path, read_only=True)
        try:
            db = DuckDBEngine(store)
            some_trace = db.query(
                "SELECT trace_id FROM spans WHERE status_code = 2 LIMIT 1"
            ).scalar()
            checks: dict[str, Callable[[], Any]] = {
                "app_map": lambda: appmap.build_app_map(db),
                "search_recent": lambda: traces.search_traces(db, traces.TraceQuery()),
                "search_failed": lambda: traces.search_traces(db, traces.TraceQuery(failed=True)),
                "search_conversation": lambda: traces.search_traces(
                    db, traces.TraceQuery(conversation_id="conv-42")
                ),
                "search_event": lambda: traces.search_traces(
                    db, traces.TraceQuery(event_name="QnAMessage")
                ),
                "trace": lambda: traces.get_trace(db, some_trace),
                "conversations": lambda: conversations.list_conversations(db),
                "conversation": lambda: conversations.get_conversation(db, "conv-42"),
            }
            results = {name: timed(run, repeats) for name, run in checks.items()}
            edges = len(appmap.build_app_map(db)["edges"])
        finally:
            store.close()
    return {
        "spans": counts["spans"],
        "log_records": counts["logs"],
        "generate_seconds": round(generated, 1),
        "app_map_edges": edges,
        **results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    parser.add_argument("--ingest-spans", type=int, default=102_400)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--query-spans", type=int, default=1_000_000, help="0: measure ingest only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=1, help="ingest rounds, HTTP then gRPC in each (default 1)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    options = parser.parse_args(argv)
    # HTTP and gRPC alternate, so a change in the machine's load hits both alike.
    rounds = [
        (
            measure_ingest(options.ingest_spans, options.senders, "http"),
            measure_ingest(options.ingest_spans, options.senders, "grpc"),
        )
        for _ in range(max(1, options.rounds))
    ]
    report: dict[str, Any] = {
        "benchmark": "collector ingest and queries",
        "machine": machine(),
        "ingest": rounds[0][0],
        "ingest_grpc": rounds[0][1],
        **(
            {
                "ingest_rounds": [
                    {"http": http["spans_per_second"], "grpc": grpc["spans_per_second"]}
                    for http, grpc in rounds
                ]
            }
            if len(rounds) > 1
            else {}
        ),
    }
    if options.query_spans > 0:
        report["queries"] = measure_queries(options.query_spans, options.repeats)
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print_table("ingest (OTLP/HTTP protobuf into serve)", report["ingest"])
        print_table("ingest (OTLP/gRPC into serve)", report["ingest_grpc"])
        flat = {
            name: (
                f"{value['median_ms']} ms median, {value['max_ms']} ms max"
                if isinstance(value, dict)
                else value
            )
            for name, value in report.get("queries", {}).items()
        }
        if flat:
            print_table(f"queries over {report['queries']['spans']:,} stored spans", flat)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
