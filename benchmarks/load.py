"""The sample bot under load on loopback, with and without telemetry.

    python -m benchmarks.load            # a table
    python -m benchmarks.load --json     # one JSON object

Two copies of the sample (bot, nlu, qna processes) run side by side: one exporting
OTLP/HTTP through our batching queue to a local sink, one with telemetry switched off
(``OTEL_SDK_DISABLED=true`` and every exporter ``none``). A closed-loop generator keeps
``--concurrency`` requests in flight against one copy at a time, posting message
activities to ``/api/messages`` as a channel does (replies go to the sink's connector
API), for ``--duration`` seconds per round; rounds alternate between the copies. Turns per
second are medians over rounds; p50 and p99 are over every turn of a copy. The CPU time
the copy's processes spent per turn is measured too (from /proc): on a machine shared with
other work it is the steadier figure, and ``cpu_capacity_ratio`` (off over on) is the
throughput ratio it implies. Bounded in
time and in turns, and only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.ports import free_port
from tests.support.processes import REPO, running

from . import _report
from .turn_overhead import PSEUDONYM_KEY

#: Load targets: throughput with telemetry at least this share of without; p99 at most
#: this factor of without.
THROUGHPUT_RATIO_MIN = 0.9
P99_RATIO_MAX = 1.10
MESSAGES = (
    "When are you open?",
    "hello",
    "Where are you located?",
    "Do you have parking?",
)
MODES = ("off", "on")


@dataclass
class Copy:
    """One running sample: its bot's URL and what the generator measured against it."""

    mode: str
    bot_url: str
    service_urls: list[str]
    throughput: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    turns: int = 0
    errors: int = 0
    sent: int = 0  # warm-up turns included: what the exported counts cover
    pids: list[int] = field(default_factory=list)
    cpu_ms_per_turn: list[float] = field(default_factory=list)


def _environment(mode: str, sink_url: str) -> dict[str, str]:
    env = {
        "BOT_TELEMETRY_PSEUDONYM_KEY": PSEUDONYM_KEY,
        # Also in "off" mode: should anything still export, it reaches the sink, where it is
        # counted, and never another engineer's collector on the default port.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"{sink_url}/load-{mode}",
    }
    if mode == "off":
        env.update(
            OTEL_SDK_DISABLED="true",
            OTEL_TRACES_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_METRICS_EXPORTER="none",
        )
    return env


def _start_sample(stack: ExitStack, mode: str, sink_url: str) -> Copy:
    """Start nlu, qna and the bot for ``mode``; they stop when ``stack`` closes."""
    env = _environment(mode, sink_url)
    urls = {}
    pids = []
    for service in ("nlu", "qna"):
        port = free_port()
        urls[service] = f"http://127.0.0.1:{port}"
        started = stack.enter_context(
            running(
                ["-m", f"sample_bot.{service}", "--port", str(port)],
                ready_url=f"{urls[service]}/health",
                env=env,
            )
        )
        pids.append(started.process.pid)
    port = free_port()
    bot_url = f"http://127.0.0.1:{port}"
    bot = stack.enter_context(
        running(
            [
                "-m",
                "sample_bot",
                "--port",
                str(port),
                "--nlu-url",
                urls["nlu"],
                "--qna-url",
                urls["qna"],
                "--channel-url",
                sink_url,
            ],
            ready_url=f"{bot_url}/health",
            env=env,
        )
    )
    return Copy(mode, bot_url, [bot_url, *urls.values()], pids=[bot.process.pid, *pids])


def _cpu_seconds(pids: list[int]) -> float | None:
    """CPU time (user + system) the processes used so far; None where /proc is missing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


_ids = itertools.count(1)


def _activity(sink_url: str, mode: str, user: int) -> dict[str, Any]:
    number = next(_ids)
    return {
        "type": "message",
        "id": f"load-{number}",
        "channelId": "directline",
        "serviceUrl": f"{sink_url}/load-{mode}/",
        "conversation": {"id": f"load-conversation-{user}"},
        "from": {"id": f"load-user-{user}", "name": "Load"},
        "recipient": {"id": "sample-bot", "name": "Sample Bot"},
        "text": MESSAGES[number % len(MESSAGES)],
        "locale": "en-US",
        "timestamp": "2026-01-01T00:00:00Z",
    }


async def _drive(
    copy: Copy, sink_url: str, concurrency: int, duration: float, max_turns: int, measured: bool
) -> None:
    deadline = time.monotonic() + duration
    budget = itertools.count()
    latencies: list[float] = []
    errors = 0

    async def client(session: aiohttp.ClientSession, user: int) -> None:
        nonlocal errors
        while time.monotonic() < deadline and next(budget) < max_turns:
            body = _activity(sink_url, copy.mode, user)
            start = time.perf_counter()
            try:
                async with session.post(f"{copy.bot_url}/api/messages", json=body) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - start) * 1000)
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    cpu_before = _cpu_seconds(copy.pids)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, user) for user in range(concurrency)))
        elapsed = time.perf_counter() - started
    cpu_after = _cpu_seconds(copy.pids)
    copy.sent += len(latencies)
    if measured and cpu_before is not None and cpu_after is not None and latencies:
        copy.cpu_ms_per_turn.append((cpu_after - cpu_before) * 1000 / len(latencies))
    if measured:
        copy.throughput.append(len(latencies) / elapsed)
        copy.latencies_ms.extend(latencies)
        copy.turns += len(latencies)
        copy.errors += errors


_PROBE = """
import bot_telemetry
from opentelemetry import trace
bot_telemetry.configure(service_name="probe")
print(trace.get_tracer("probe").start_span("probe").is_recording())
"""


def _records_nothing(env: Mapping[str, str]) -> bool:
    """Whether ``configure()`` under ``env`` (as the sample's processes run it) leaves spans
    unrecorded: if not, the "off" copy still pays for instrumentation, only not for export."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1] == "False"


def _post(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def measure(
    rounds: int = 6,
    duration: float = 5.0,
    concurrency: int = 16,
    max_turns: int = 50_000,
    warm_up: float = 2.0,
) -> dict[str, Any]:
    """Run the alternating rounds and return the report (what ``--json`` prints)."""
    if rounds < 1 or duration <= 0 or concurrency < 1 or max_turns < 1 or warm_up < 0:
        raise ValueError("rounds, duration, concurrency and max_turns must be positive")
    machine = _report.machine()
    port = free_port()
    sink_url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        stack.enter_context(
            running(["-m", "benchmarks._sink", "--port", str(port)], ready_url=f"{sink_url}/health")
        )
        copies = {mode: _start_sample(stack, mode, sink_url) for mode in MODES}
        for copy in copies.values():
            asyncio.run(_drive(copy, sink_url, concurrency, warm_up, max_turns, measured=False))
        for number in range(rounds):
            order = MODES if number % 2 == 0 else MODES[::-1]
            for mode in order:
                asyncio.run(
                    _drive(copies[mode], sink_url, concurrency, duration, max_turns, measured=True)
                )
        for copy in copies.values():
            for url in copy.service_urls:
                _post(f"{url}/telemetry/flush")
        exported = {mode: _get(f"{sink_url}/load-{mode}/counts") for mode in MODES}
    off_records_nothing = _records_nothing(_environment("off", sink_url))
    return _summary(copies, exported, rounds, duration, concurrency, machine, off_records_nothing)


def _summary(
    copies: Mapping[str, Copy],
    exported: Mapping[str, Mapping[str, int]],
    rounds: int,
    duration: float,
    concurrency: int,
    machine: dict[str, Any],
    off_records_nothing: bool,
) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for mode, copy in copies.items():
        if not copy.latencies_ms:
            raise RuntimeError(f"no turn succeeded against the {mode} copy ({copy.errors} errors)")
        report[f"turns_per_s_{mode}"] = round(statistics.median(copy.throughput), 1)
        report[f"p50_ms_{mode}"] = round(_report.percentile(copy.latencies_ms, 0.50), 2)
        report[f"p99_ms_{mode}"] = round(_report.percentile(copy.latencies_ms, 0.99), 2)
        report[f"turns_{mode}"] = copy.turns
        report[f"errors_{mode}"] = copy.errors
        if copy.cpu_ms_per_turn:
            report[f"cpu_ms_per_turn_{mode}"] = round(statistics.median(copy.cpu_ms_per_turn), 3)
    throughput_ratio = round(report["turns_per_s_on"] / report["turns_per_s_off"], 3)
    p99_ratio = round(report["p99_ms_on"] / report["p99_ms_off"], 3)
    report["throughput_ratio"] = throughput_ratio
    report["p99_ratio"] = p99_ratio
    report["p50_ratio"] = round(report["p50_ms_on"] / report["p50_ms_off"], 3)
    # What the sample's processes spend per turn, off over on: the throughput ratio a
    # machine with cores to spare for them would see, and far steadier on a busy one.
    capacity = None
    if "cpu_ms_per_turn_on" in report and "cpu_ms_per_turn_off" in report:
        capacity = round(report["cpu_ms_per_turn_off"] / report["cpu_ms_per_turn_on"], 3)
    report["cpu_capacity_ratio"] = capacity
    report["targets"] = {
        "throughput_ratio_min": THROUGHPUT_RATIO_MIN,
        "throughput_met": throughput_ratio >= THROUGHPUT_RATIO_MIN,
        "cpu_capacity_met": None if capacity is None else capacity >= THROUGHPUT_RATIO_MIN,
        "p99_ratio_max": P99_RATIO_MAX,
        "p99_met": p99_ratio <= P99_RATIO_MAX,
    }
    sent_on = max(copies["on"].sent, 1)
    report["exported"] = {mode: dict(sorted(counts.items())) for mode, counts in exported.items()}
    report["spans_per_turn_on"] = round(exported["on"].get("spans", 0) / sent_on, 2)
    report["log_records_per_turn_on"] = round(exported["on"].get("log_records", 0) / sent_on, 2)
    report["telemetry_off_exported_nothing"] = not any(
        exported["off"].get(k, 0) for k in ("spans", "log_records", "metric_exports")
    )
    report["telemetry_off_records_nothing"] = off_records_nothing
    report["rounds"] = rounds
    report["seconds_per_round"] = duration
    report["concurrency"] = concurrency
    report["machine"] = machine
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per copy (default 6)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--max-turns", type=int, default=50_000, help="turns per round at most")
    parser.add_argument("--warm-up", type=float, default=2.0, help="unmeasured seconds per copy")
    args = parser.parse_args(argv)
    try:
        report = measure(args.rounds, args.duration, args.concurrency, args.max_turns, args.warm_up)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        scalars = {k: v for k, v in report.items() if not isinstance(v, dict)}
        _report.print_table("sample bot under load (loopback)", scalars)
        _report.print_table("targets", report["targets"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
