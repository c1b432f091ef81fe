"""How long a response exhaust of a million answered prompts takes, and how much memory.

    python -m benchmarks.exhaust --json                 # 1M answers, DuckDB and chDB
    python -m benchmarks.exhaust --rows 10000000        # 10M (long to generate)

The answers are made as OTLP log export requests (``PromptAnswered`` events of 1,000 users,
half of whom consented) and stored through each engine's ingest path: the DuckDB store's
rows, and the Collector exporter's ClickHouse rows in chDB. Then the exhaust runner writes
the response file from each engine, timed from the job's claim to the file in place, while
the process's peak memory is watched: the rows are streamed in batches, never held whole.

Figures depend on the machine (printed with them); nothing here is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from benchmarks._report import machine, print_table
from bot_telemetry import contract
from bot_telemetry.exhaust.destinations import LinkSigner, LocalFolder
from bot_telemetry.exhaust.jobs import JobStore
from bot_telemetry.exhaust.requests import parse_submit
from bot_telemetry.exhaust.runner import Runner
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine, Engine
from bot_telemetry.store.otel_rows import table_rows
from bot_telemetry.store.rows import logs_batch

BOT = "bench-bot"
T0 = 1_750_000_000_000_000_000
BATCH = 10_000
QUESTIONS = (
    ("booking.steps#0", "text", "Which day would you like to come?", '"friday"'),
    ("booking.steps#1", "number", "How many people?", "4"),
    ("booking.steps#2", "text", "What name is the booking under?", '"Ana"'),
    ("booking.steps#3", "confirm", "So that's a table for 4 on friday. Shall I book it?", "true"),
)


def _kv(key: str, value: str | int | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _request(records: list[LogRecord]) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=[_kv("service.name", BOT)]),
                scope_logs=[ScopeLogs(log_records=records)],
            )
        ]
    )


def _event(name: str, time_ns: int, attributes: list[KeyValue]) -> LogRecord:
    return LogRecord(
        time_unix_nano=time_ns,
        observed_time_unix_nano=time_ns,
        severity_number=9,
        severity_text="INFO",
        body=AnyValue(string_value=name),
        event_name=name,
        attributes=[_kv(contract.CUSTOM_EVENT_NAME, name), *attributes],
    )


def requests(rows: int, users: int = 1000) -> Iterator[ExportLogsServiceRequest]:
    """``rows`` PromptAnswered events over ``users`` users (one consent grant per even
    user first), a millisecond apart, in requests of ``BATCH`` records."""
    consents = [
        _event(
            contract.CONSENT_CHANGED,
            T0 - 1_000_000 + user,
            [_kv(contract.ATTR_ENDUSER_PSEUDO_ID, f"user{user:05d}"), _kv("consent", "granted")],
        )
        for user in range(0, users, 2)
    ]
    yield _request(consents)
    # A record per (user, question) made once and copied: building each record's attributes
    # anew took most of the time (13 s of a 60,000-answer test's setup on a busy machine).
    templates: dict[tuple[int, int], LogRecord] = {}
    request: ExportLogsServiceRequest | None = None
    for index in range(rows):
        if request is None:
            request = _request([])
            records = request.resource_logs[0].scope_logs[0].log_records
        user = index % users
        question = (index // users) % len(QUESTIONS)
        template = templates.get((user, question))
        if template is None:
            template = templates[(user, question)] = _answered(user, question)
        record = records.add()
        record.CopyFrom(template)
        record.time_unix_nano = record.observed_time_unix_nano = T0 + index * 1_000_000
        record.attributes[_ACTIVITY].value.string_value = f"act{index:09d}"
        record.attributes[_DURATION].value.int_value = 1000 + index % 5000
        if len(records) == BATCH:
            yield request
            request = None
    if request is not None:
        yield request


# Where _answered puts the values each answer has of its own (after the event name's).
_ACTIVITY, _DURATION = 3, 10


def _answered(user: int, question: int) -> LogRecord:
    """A PromptAnswered of ``user`` to ``QUESTIONS[question]``; its time, activity id and
    duration are set per answer."""
    question_id, kind, title, response = QUESTIONS[question]
    attributes = [
        _kv(contract.ATTR_ENDUSER_PSEUDO_ID, f"user{user:05d}"),
        _kv(contract.ATTR_SESSION_ID, f"session{user:05d}"),
        _kv(contract.ACTIVITY_ID, ""),
        _kv(contract.CONVERSATION_ID, f"conv{user:05d}"),
        _kv(contract.QUESTION_ID, question_id),
        _kv(contract.QUESTION_TYPE, kind),
        _kv(contract.QUESTION_TITLE, title),
        _kv(contract.QUESTION_SCORE, 1),
        _kv(contract.QUESTION_MAX_SCORE, 1),
        _kv(contract.QUESTION_DURATION_MS, 0),
        _kv(contract.X_PATH, "booking/booking.steps/booking.day"),
        _kv(contract.EOF, question_id.endswith("#3")),
        _kv(contract.PROMPT_RESPONSE, response),
    ]
    return _event(contract.PROMPT_ANSWERED, 0, attributes)


def load_duckdb(store: Store, rows: int) -> None:
    for request in requests(rows):
        store.write(logs_batch(request))


def load_chdb(engine: Any, rows: int) -> None:
    engine.create_schema()
    for request in requests(rows):
        for table, (_, found) in table_rows(request, engine.tables).items():
            engine.insert(table, found)


class PeakMemory:
    """The process's resident memory, sampled every 20 ms (peak since start, in MiB)."""

    def __init__(self) -> None:
        self.peak = self.baseline = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mib())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def python_heap(engine: Engine, folder: Path, rows: int) -> float:
    """The peak of Python's own allocations (MiB) during one more job, under tracemalloc:
    what the streaming bounds (the engine's own memory is not Python's)."""
    import tracemalloc

    tracemalloc.start()
    try:
        export(engine, folder, rows)
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def export(engine: Engine, folder: Path, rows: int) -> dict[str, Any]:
    """One response exhaust job over the whole window, timed."""
    day = dt.datetime.fromtimestamp(T0 / 1e9, dt.UTC).date()
    request = parse_submit(
        {
            "request": {
                "dataset": "uci-response-exhaust",
                "tag": f"bench-{engine.dialect}",
                "requestedBy": "bench",
                "requestedChannel": "bench",
                "datasetConfig": {
                    "type": "uci-response-exhaust",
                    "conversationId": BOT,
                    "startDate": (day - dt.timedelta(days=1)).isoformat(),
                    "endDate": (day + dt.timedelta(days=30)).isoformat(),
                },
            }
        }
    )
    jobs = JobStore(folder / "jobs.sqlite3")
    jobs.submit(request, request.request_id(dt.date.today()))
    files = LocalFolder(folder / "files", LinkSigner(b"bench" * 8))
    runner = Runner(engine, jobs, files, None, folder / "tmp")
    with PeakMemory() as memory:
        started, cpu = time.perf_counter(), time.process_time()
        (done,) = runner.run_pending()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert done.status == "SUCCESS" and done.rows == rows, (done.status, done.rows, rows)
    path = files.path(done.files[0])
    assert path is not None
    return {
        "rows": done.rows,
        "seconds": round(seconds, 2),
        # every thread of the process (the engine's too): the work, whatever else runs
        "cpu_seconds": round(cpu, 2),
        "rows_per_second": int(rows / seconds),
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "peak_rss_mib": round(memory.peak, 1),
        "rss_growth_mib": round(memory.peak - memory.baseline, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--python-heap",
        action="store_true",
        help="also run each job under tracemalloc and report Python's peak allocations",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the DuckDB store in this folder and reuse it next time (loading is slow)",
    )
    options = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine(), "rows": options.rows}
    with tempfile.TemporaryDirectory(prefix="bench-exhaust-") as directory:
        folder = Path(directory)
        if "duckdb" in options.engines:
            started = time.perf_counter()
            kept = options.keep / f"exhaust-{options.rows}.duckdb" if options.keep else None
            reuse = kept is not None and kept.exists()
            store = Store.open(kept or folder / "store.duckdb")
            if not reuse:
                load_duckdb(store, options.rows)
            loaded = time.perf_counter() - started
            engine = DuckDBEngine(store)
            result = export(engine, folder / "duckdb", options.rows)
            if options.python_heap:
                result["python_heap_peak_mib"] = python_heap(engine, folder / "d2", options.rows)
            results["duckdb"] = {**result, "load_seconds": round(loaded, 1)}
            store.close()
        if "chdb" in options.engines:
            from bot_telemetry.store.clickhouse import ChDBEngine
            from bot_telemetry.store.clickhouse_relations import Tables

            # chDB keeps one data directory per process: a database of our own in it.
            engine = ChDBEngine(tables=Tables(database="bench_exhaust"))
            started = time.perf_counter()
            load_chdb(engine, options.rows)
            loaded = time.perf_counter() - started
            result = export(engine, folder / "clickhouse", options.rows)
            if options.python_heap:
                result["python_heap_peak_mib"] = python_heap(engine, folder / "c2", options.rows)
            results["chdb"] = {**result, "load_seconds": round(loaded, 1)}
            engine.raw("DROP DATABASE IF EXISTS bench_exhaust")
            engine.close()
    if options.json:
        print(json.dumps(results, indent=2))
    for name in ("duckdb", "chdb"):
        if name in results:
            print_table(f"response exhaust, {options.rows:,} answers, {name}", results[name])
    print(
        f"peak RSS includes the engine's own memory; max RSS of the run: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
