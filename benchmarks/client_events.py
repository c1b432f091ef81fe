"""How many client (Sunbird v3) events ``bot-telemetry serve`` takes per CPU-second, beside a
server that only parses the JSON, in the same run.

    python -m benchmarks.client_events --json [--events 40000] [--batch 20] [--senders 4]

Both servers run as their own processes and get the same bundles (web-chat-shaped events:
START with the SDK's uaspec, IMPRESSION, INTERACT, FEEDBACK, END; ``batch`` events a bundle,
the SDK's default 20) over HTTP from ``senders`` threads. The real endpoint validates each
event, de-duplicates it, unbundles and enriches it (header context, sessions, pseudonymised
ids, privacy) and commits it to the DuckDB store before answering; the baseline reads the body
and ``json.loads`` it. Each server's own CPU time (user + system from /proc) is measured, so
"events per server CPU-second" is what one core would sustain whatever the senders cost. The
stored count is checked. Nothing is asserted; figures depend on the machine (printed).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._report import machine, print_table
from benchmarks.ingest import REPO, _wait_for, cpu_seconds
from bot_telemetry.store.database import Store
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


def _send(port: int, bodies: list[bytes], senders: int) -> tuple[float, list[str], int]:
    queue = list(bodies)
    lock = threading.Lock()
    failures: list[str] = []
    stored = [0]
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
            connection.request("POST", "/v1/telemetry", body, headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            with lock:
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


def measure(events: int, batch: int, senders: int) -> dict[str, Any]:
    bodies = bundles(events, batch)
    warm = bundles(batch * 20, batch)
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
            try:
                _send(port, warm, 1)  # imports, first allocations, the store's first pages
                before = cpu_seconds(server.pid)
                seconds, failures, stored = _send(port, bodies, senders)
                after = cpu_seconds(server.pid)
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
            }
            if name == "pipeline":
                opened = Store.open(store, read_only=True)
                with opened.reader() as db:
                    row = db.execute("SELECT count(*) FROM logs").fetchone()
                opened.close()
                results[name]["stored"] = stored
                results[name]["rows_in_store"] = int(row[0]) if row else 0
    pipeline = results["pipeline"]["events_per_server_cpu_second"]
    baseline = results["parse_only"]["events_per_server_cpu_second"]
    return {
        "events": events,
        "batch": batch,
        "senders": senders,
        **results,
        "pipeline_share_of_baseline": round(pipeline / baseline, 3)
        if pipeline and baseline
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    figures = {"machine": machine(), **measure(args.events, args.batch, args.senders)}
    print_table(
        f"client events: {args.events} events in bundles of {args.batch}, {args.senders} senders",
        {
            "parse-only events per server CPU-second": figures["parse_only"][
                "events_per_server_cpu_second"
            ],
            "pipeline events per server CPU-second": figures["pipeline"][
                "events_per_server_cpu_second"
            ],
            "pipeline share of the baseline": figures["pipeline_share_of_baseline"],
            "pipeline events per second (wall)": figures["pipeline"]["events_per_second"],
            "stored (answers / rows incl. warm-up)": (
                f"{figures['pipeline']['stored']} / {figures['pipeline']['rows_in_store']}"
            ),
        },
    )
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
