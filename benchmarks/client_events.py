"""How many client (Sunbird v3) events ``bot-telemetry serve`` takes per CPU-second, beside a
server that only parses the JSON, in the same run.

    python -m benchmarks.client_events --json [--events 40000] [--batch 20] [--senders 4]
        [--rounds 1]

Both servers run as their own processes and get the same bundles (web-chat-shaped events:
START with the SDK's uaspec, IMPRESSION, INTERACT, FEEDBACK, END; ``batch`` events a bundle,
the SDK's default 20) over HTTP from ``senders`` threads. The real endpoint validates each
event, de-duplicates it, unbundles and enriches it (header context, sessions, pseudonymised
ids, privacy) and keeps it in the receipt journal before answering, its rows committed to the
DuckDB store in large groups (docs/client-telemetry.md); the baseline reads the body and
parses it. Each server's own CPU time (user + system from /proc) is measured, so
"events per server CPU-second" is what one core would sustain whatever the senders cost; the
pipeline's CPU is read only after a read through serve has had every answered row committed,
so the deferred commits are counted. The stored count is checked, and each request's latency
(send to answer) is reported as p50/p99: the endpoint answers once the bundle is on disk in
the journal. The pipeline's CPU is also split into its event loop (the main thread) and
its other threads (the writer, the journal, DuckDB's workers), with the voluntary thread
switches a bundle costs (waits on locks, the GIL, conditions and I/O), from
/proc/<pid>/task. With ``--rounds N`` the two servers
alternate N times (a fresh store each round), so a change in the machine's load hits both
alike; the median share is reported with every round's. Nothing is asserted; figures depend
on the machine (printed).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._report import machine, percentile, print_table
from benchmarks.ingest import REPO, _wait_for, cpu_seconds
from bot_telemetry.privacy import current_policy
from bot_telemetry.receive.sunbird.enrich import Sessions
from bot_telemetry.receive.sunbird.ingest import (
    ClientHeaders,
    build_batch,
    bundle_info,
    parse_bundle,
)
from bot_telemetry.store.database import Store
from bot_telemetry.store.rows import Batch
from bot_telemetry.store.writer import DEFER_ROWS
from tests.support.ports import free_port

EDATA = [
    (
        "START",
        {
            "type": "session",
            "mode": "chat",
            "pageid": "webchat",
            "duration": 0,
            "uaspec": {
                "agent": "Chrome",
                "ver": "131.0.0.0",
                "system": "Linux",
                "platform": "",
                "raw": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0",
            },
        },
    ),
    ("IMPRESSION", {"type": "view", "pageid": "webchat", "uri": "/webchat/"}),
    ("INTERACT", {"type": "CLICK", "subtype": "imBack", "id": "suggested-action"}),
    ("INTERACT", {"type": "CLICK", "subtype": "keyboard", "id": "send-box"}),
    ("FEEDBACK", {"rating": 5, "commentid": "urn:vote:like:1a2b3c"}),
    ("END", {"type": "session", "pageid": "webchat", "duration": 42.5}),
]


def bundles(events: int, batch: int) -> list[bytes]:
    """``events`` distinct events in bundles of ``batch``, as the SDK builds them."""
    now = time.time_ns() // 1_000_000
    made: list[bytes] = []
    sequence: list[dict[str, Any]] = []
    for index in range(events):
        eid, edata = EDATA[index % len(EDATA)]
        user = index // len(EDATA)
        event: dict[str, Any] = {
            "eid": eid,
            "ets": now + index,
            "ver": "3.0",
            "mid": "",
            "actor": {"id": f"webchat-{user:06d}", "type": "User"},
            "context": {
                "channel": "sample-channel",
                "pdata": {"id": "webchat", "ver": "0.1.0", "pid": "sample-bot-webchat"},
                "env": "webchat",
                "sid": f"session-{user:06d}",
                "did": f"device-{user:06d}",
                "cdata": [
                    {"type": "Conversation", "id": f"conv-{user:06d}"},
                    {"type": "Trace", "id": hashlib.md5(str(index).encode()).hexdigest()},
                ],
                "rollup": {},
            },
            "object": {"id": "sample-bot", "ver": "1.0"},
            "tags": [],
            "edata": edata,
        }
        text = json.dumps(event, separators=(",", ":"))
        event["mid"] = f"{eid}:{hashlib.md5(text.encode()).hexdigest()}"
        sequence.append(event)
        if len(sequence) == batch or index == events - 1:
            body = json.dumps(sequence, separators=(",", ":"))
            made.append(
                json.dumps(
                    {
                        "id": "api.sunbird.telemetry",
                        "ver": "3.0",
                        "params": {"msgid": hashlib.md5(body.encode()).hexdigest()},
                        "ets": now,
                        "events": sequence,
                    },
                    separators=(",", ":"),
                ).encode()
            )
            sequence = []
    return made


def _send(
    port: int, bodies: list[bytes], senders: int, latencies: list[float] | None = None
) -> tuple[float, list[str], int]:
    queue = list(bodies)
    lock = threading.Lock()
    failures: list[str] = []
    stored = [0]
    timings: list[float] = [] if latencies is None else latencies
    headers = {
        "Content-Type": "application/json",
        "X-App-ID": "webchat",
        "X-Channel-ID": "sample-channel",
    }

    def send() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            sent = time.perf_counter()
            connection.request("POST", "/v1/telemetry", body, headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            took = time.perf_counter() - sent
            with lock:
                timings.append(took)
                if response.status != 200:
                    failures.append(str(response.status))
                stored[0] += answer.get("result", {}).get("stored", 0)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, failures, stored[0]


def _serve(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, *command], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    _wait_for(f"http://127.0.0.1:{port}/api/health", process)
    return process


def _round(bodies: list[bytes], warm: list[bytes], senders: int) -> dict[str, Any]:
    """One run of each server, parse-only first, each with its own fresh store."""
    events = sum(len(json.loads(body)["events"]) for body in bodies)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "client.duckdb"
        for name, command in (
            ("parse_only", ["-m", "benchmarks._parse_only", "--port"]),
            (
                "pipeline",
                ["-m", "bot_telemetry.cli", "serve", "--store", str(store), "--port"],
            ),
        ):
            port = free_port()
            server = _serve([*command, str(port)], port)
            latencies: list[float] = []
            try:
                _send(port, warm, 1)  # imports, first allocations, the store's first pages
                before = cpu_seconds(server.pid)
                threads_before = thread_times(server.pid)
                seconds, failures, stored = _send(port, bodies, senders, latencies)
                if name == "pipeline":
                    # A read through serve commits what lingers first: count that CPU too.
                    urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/client-events/stats", timeout=120
                    ).read()
                after = cpu_seconds(server.pid)
                threads_after = thread_times(server.pid)
            finally:
                server.terminate()
                server.wait(60)
            used = (after or 0) - (before or 0)
            results[name] = {
                "seconds": round(seconds, 3),
                "events_per_second": round(events / seconds),
                "server_cpu_seconds": round(used, 3),
                "events_per_server_cpu_second": round(events / used) if used > 0 else None,
                "failed_requests": len(failures),
                "latency_ms_p50": round(percentile(latencies, 0.5) * 1000, 2),
                "latency_ms_p99": round(percentile(latencies, 0.99) * 1000, 2),
            }
            if name == "pipeline":
                opened = Store.open(store, read_only=True)
                with opened.reader() as db:
                    row = db.execute("SELECT count(*) FROM logs").fetchone()
                opened.close()
                results[name]["stored"] = stored
                results[name]["rows_in_store"] = int(row[0]) if row else 0
                results[name].update(
                    _by_thread(server.pid, threads_before, threads_after, used, events, bodies)
                )
    pipeline = results["pipeline"]["events_per_server_cpu_second"]
    baseline = results["parse_only"]["events_per_server_cpu_second"]
    results["pipeline_share_of_baseline"] = (
        round(pipeline / baseline, 3) if pipeline and baseline else None
    )
    return results


def thread_times(pid: int) -> dict[int, tuple[float, int]]:
    """Each thread's CPU seconds (user + system) and voluntary switches so far, by thread id
    (empty off Linux)."""
    found: dict[int, tuple[float, int]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        switches = status.split("voluntary_ctxt_switches:", 1)[1].split()[0]
        found[int(tid)] = ((int(fields[11]) + int(fields[12])) / tick, int(switches))
    return found


def _by_thread(
    pid: int,
    before: dict[int, tuple[float, int]],
    after: dict[int, tuple[float, int]],
    used: float,
    events: int,
    bodies: list[bytes],
) -> dict[str, Any]:
    # The event loop is the main thread (its id is the process's); the rest is the writer,
    # the journal, DuckDB's workers and the executor. A thread's voluntary switches are its
    # waits: on a lock, the GIL, a condition or I/O.
    if pid not in before or pid not in after or events == 0:
        return {}
    loop = after[pid][0] - before[pid][0]
    switches = sum(count - before.get(tid, (0.0, 0))[1] for tid, (_, count) in after.items())
    return {
        "event_loop_us_per_event": round(1e6 * loop / events, 1),
        "other_threads_us_per_event": round(1e6 * max(used - loop, 0.0) / events, 1),
        "thread_switches_per_bundle": round(switches / len(bodies), 2),
    }


def store_floor(bodies: list[bytes], group_rows: int = DEFER_ROWS) -> float:
    """µs of CPU (all threads) DuckDB takes to store these bundles' rows, made beforehand and
    written in groups as serve commits them: what even a pipeline costing nothing else
    would spend an event, in this process."""
    headers = ClientHeaders(app="webchat", channel="sample-channel")
    policy, sessions = current_policy(), Sessions()
    groups: list[Batch] = []
    group = Batch()
    for body in bodies:
        parsed = parse_bundle(body, None, headers)
        info = bundle_info(parsed, time.time_ns() // 1_000_000)
        group.extend(
            build_batch(parsed, list(range(len(parsed.events))), info, policy, sessions, "")
        )
        if group.log_count >= group_rows:
            groups.append(group)
            group = Batch()
    groups.append(group)
    with tempfile.TemporaryDirectory() as directory:
        store = Store.open(Path(directory) / "floor.duckdb")
        started = _process_cpu()
        for each in groups:
            store.write(each)
        store.close()  # its last checkpoint counts too
        used = _process_cpu() - started
    return used * 1e6 / sum(each.log_count for each in groups)


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(events: int, batch: int, senders: int, rounds: int = 1) -> dict[str, Any]:
    bodies = bundles(events, batch)
    warm = bundles(batch * 20, batch)
    runs = [_round(bodies, warm, senders) for _ in range(max(1, rounds))]
    shares = [run["pipeline_share_of_baseline"] for run in runs]
    # The round whose share is the median stands for the run (all rounds are listed).
    middle = sorted(range(len(runs)), key=lambda index: shares[index] or 0)[len(runs) // 2]
    figures: dict[str, Any] = {"events": events, "batch": batch, "senders": senders}
    figures.update(runs[middle])
    if len(runs) > 1:
        figures["rounds"] = [
            {
                "parse_only": run["parse_only"]["events_per_server_cpu_second"],
                "pipeline": run["pipeline"]["events_per_server_cpu_second"],
                "share": run["pipeline_share_of_baseline"],
            }
            for run in runs
        ]
        figures["median_share"] = statistics.median(share or 0 for share in shares)
    # The most any pipeline storing these rows in DuckDB could reach: the baseline's cost and
    # the store's alone (parse-only µs an event from the chosen round).
    floor = store_floor(bodies)
    parse_only = figures["parse_only"]["events_per_server_cpu_second"]
    figures["store_floor_us_per_event"] = round(floor, 2)
    # None when the run was too short for /proc's 10 ms clock to see the baseline's CPU.
    figures["best_share_with_this_store"] = (
        round(1e6 / parse_only / (1e6 / parse_only + floor), 3) if parse_only else None
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two servers N times (default 1)"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    figures = {
        "machine": machine(),
        **measure(args.events, args.batch, args.senders, args.rounds),
    }
    print_table(
        f"client events: {args.events} events in bundles of {args.batch}, {args.senders} senders"
        + (f", median of {args.rounds} rounds" if args.rounds > 1 else ""),
        {
            "parse-only events per server CPU-second": figures["parse_only"][
                "events_per_server_cpu_second"
            ],
            "pipeline events per server CPU-second": figures["pipeline"][
                "events_per_server_cpu_second"
            ],
            "pipeline share of the baseline": f"{figures['pipeline_share_of_baseline']:.1%}",
            **(
                {
                    "median share over the rounds": f"{figures['median_share']:.1%}",
                    "shares of the rounds": ", ".join(
                        f"{run['share']:.1%}" for run in figures["rounds"]
                    ),
                }
                if args.rounds > 1
                else {}
            ),
            "DuckDB alone, µs of CPU an event (in-process)": figures["store_floor_us_per_event"],
            "best share any pipeline storing in DuckDB could reach": (
                f"{figures['best_share_with_this_store']:.1%}"
            ),
            "pipeline events per second (wall)": figures["pipeline"]["events_per_second"],
            "latency p50 / p99 ms (parse-only)": (
                f"{figures['parse_only']['latency_ms_p50']} / "
                f"{figures['parse_only']['latency_ms_p99']}"
            ),
            "latency p50 / p99 ms (pipeline)": (
                f"{figures['pipeline']['latency_ms_p50']} / {figures['pipeline']['latency_ms_p99']}"
            ),
            "stored (answers / rows incl. warm-up)": (
                f"{figures['pipeline']['stored']} / {figures['pipeline']['rows_in_store']}"
            ),
            "pipeline µs an event: event loop / other threads": (
                f"{figures['pipeline'].get('event_loop_us_per_event')} / "
                f"{figures['pipeline'].get('other_threads_us_per_event')}"
            ),
            "pipeline thread switches a bundle (voluntary)": figures["pipeline"].get(
                "thread_switches_per_bundle"
            ),
        },
    )
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
