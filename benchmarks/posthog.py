"""What forwarding to PostHog costs: on the turn's path, and events per second sent.

    python -m benchmarks.posthog            # a table
    python -m benchmarks.posthog --json     # one JSON object

- ``turn_path_us_per_event``: what a custom event costs (CPU) the thread that records it with
  PostHog on: the log processor asking the PostHog exporter whether it wants the record,
  copying it and queueing it (median over rounds of ``--events`` calls each, the queue
  emptied by the export thread between rounds). Goal: under 15 µs. Mapping, JSON, gzip
  and HTTP happen on the export thread, which ``benchmarks.turn_overhead``'s
  ``full_bot_telemetry_posthog`` variant includes.
- ``bot_events_per_second`` / ``serve_events_per_second``: events delivered per second
  (and per CPU-second of the sending process) to a local PostHog capture server running as
  its own process, from the bot's log records and from ``serve``'s stored rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk._logs import ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource

from bot_telemetry.delivery import ExportAccounting
from bot_telemetry.export.batching import QueuedLogRecordProcessor
from bot_telemetry.export.posthog import PostHogLogExporter
from bot_telemetry.posthog import PostHogSettings
from bot_telemetry.posthog.forwarder import PostHogForwarder
from bot_telemetry.store.rows import to_json
from bot_telemetry.web.posthog import StoredRow, to_record
from tests.support.ports import free_port
from tests.support.processes import running

from . import _report

#: Goal from the issue: what PostHog adds on the turn's path, per event.
TURN_PATH_US_MAX = 15.0
RESOURCE = Resource.create({"service.name": "bench-bot", "service.version": "1.0.0"})
ATTRIBUTES = {
    "activityId": "activity-1",
    "activityType": "message",
    "channelId": "directline",
    "conversationId": "conversation-7",
    "enduser.pseudo.id": "0f5c2b6a9d8e7f60a1b2c3d4e5f60718",
    "session.id": "9a8b7c6d5e4f30211f2e3d4c5b6a7980",
    "intent": "BookTable",
    "intentScore": 0.92,
    "microsoft.custom_event.name": "LuisIntent.BookTable",
}


def log_record(index: int) -> ReadWriteLogRecord:
    record = LogRecord(
        timestamp=None,
        observed_timestamp=time.time_ns(),
        context=Context(),
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736 + index,
        span_id=0x00F067AA0BA902B7,
        trace_flags=None,
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        body="LuisIntent.BookTable",
        attributes=dict(ATTRIBUTES),
        event_name="LuisIntent.BookTable",
    )
    return ReadWriteLogRecord(record, resource=RESOURCE)


def turn_path(processor: QueuedLogRecordProcessor, events: int, rounds: int) -> float:
    """Median CPU µs of the calling thread per ``on_emit`` over rounds. The queue takes a
    whole round without waking the export thread; the flush between rounds sends it."""
    records = [log_record(n) for n in range(events)]
    per_round = []
    for _ in range(rounds):
        # This thread's CPU time: other processes on the shared cores do not count.
        started = time.thread_time_ns()
        for record in records:
            processor.on_emit(record)
        per_round.append((time.thread_time_ns() - started) / events / 1000)
        processor.force_flush(60_000)
    return round(statistics.median(per_round), 2)


def throughput(send: Callable[[], None], count: int, server_url: str) -> dict[str, float]:
    before = _counts(server_url)
    wall, cpu = time.perf_counter(), time.process_time()
    send()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    delivered = _counts(server_url) - before
    if delivered != count:
        raise RuntimeError(f"the PostHog server took {delivered} of {count} events")
    return {
        "events_per_second": round(count / wall),
        "events_per_cpu_second": round(count / cpu),
    }


def _counts(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{url}/_counts", timeout=10) as response:
        return int(json.loads(response.read())["events"])


def measure(events: int = 2000, rounds: int = 9, forwarded: int = 20_000) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = PostHogSettings(api_key="phc_benchmark", host=url)
    accounting = ExportAccounting(NoOpMeter("benchmark"))
    big = {
        "max_queue_size": events + 1,
        "max_batch_size": events + 1,
        "schedule_delay_millis": 3_600_000,
    }
    report: dict[str, Any] = {"machine": _report.machine()}
    with running(
        ["-m", "tests.support.posthog", "--port", str(port), "--api-key", settings.api_key],
        ready_url=f"{url}/_counts",
    ):
        posthog = QueuedLogRecordProcessor(
            PostHogLogExporter(settings), "PostHog", accounting, **big
        )
        report["turn_path_us_per_event"] = turn_path(posthog, events, rounds)
        posthog.shutdown()

        exporter = PostHogLogExporter(settings)
        batches = [
            [
                ReadableLogRecord(log_record(n).log_record, RESOURCE)
                for n in range(start, start + 512)
            ]
            for start in range(0, forwarded, 512)
        ]
        total = sum(len(batch) for batch in batches)

        def bot() -> None:
            for batch in batches:
                delivery = exporter.deliver(batch)
                if delivery.failed or delivery.dropped:
                    raise RuntimeError(f"not delivered: {delivery}")

        report["bot"] = throughput(bot, total, url)
        exporter.shutdown()

        attributes = to_json(ATTRIBUTES)
        rows = [
            StoredRow(
                "LuisIntent.BookTable",
                time.time_ns() + n,
                f"{n:032x}",
                "00f067aa0ba902b7",
                "bench-bot",
                attributes,
                "1.0.0",
            )
            for n in range(forwarded)
        ]
        forwarder = PostHogForwarder(
            settings, accounting, to_record=to_record, max_queue_size=forwarded + 1
        )

        def serve() -> None:
            forwarder.put_many(rows)
            if not forwarder.flush(120_000):
                raise RuntimeError("the forwarder did not flush in time")

        report["serve"] = throughput(serve, forwarded, url)
        forwarder.close()
    if accounting.dropped():
        raise RuntimeError(f"dropped: {accounting.dropped()}")
    report["targets"] = {
        "turn_path_us_per_event_max": TURN_PATH_US_MAX,
        "turn_path_met": report["turn_path_us_per_event"] <= TURN_PATH_US_MAX,
    }
    report["events_per_round"] = events
    report["rounds"] = rounds
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--events", type=int, default=2000, help="events per turn-path round")
    parser.add_argument("--rounds", type=int, default=9, help="turn-path rounds (median)")
    parser.add_argument("--forwarded", type=int, default=20_000, help="events per throughput run")
    args = parser.parse_args(argv)
    report = measure(args.events, args.rounds, args.forwarded)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        scalars = {k: v for k, v in report.items() if not isinstance(v, dict)}
        _report.print_table("PostHog forwarding", scalars)
        for key in ("bot", "serve", "targets"):
            _report.print_table(key, report[key])
    return 0


if __name__ == "__main__":
    sys.exit(main())
