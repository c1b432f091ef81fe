"""The export queue behaves like the SDK's where it matters: a forked worker exports what it
records (and not its parent's queue again), the interpreter's exit flushes what is queued, and
an exporter that raises is logged once per outage with its exception."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bot_telemetry import configure
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.reliability.backend import ACCEPT, HANG, Backend
from tests.support.processes import REPO
from tests.support.waiting import wait_for

# Exports to a collector, records a span, forks; the child records its own and returns from the
# script without flushing (a gunicorn worker's normal exit); the parent waits, records another.
_FORKING = """
import os
from opentelemetry import trace
import bot_telemetry

bot_telemetry.configure(service_name="forking", schedule_delay_millis=60_000)
tracer = trace.get_tracer("forking")
tracer.start_span("before-fork").end()
pid = os.fork()
if pid == 0:
    tracer.start_span("in-child").end()
else:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    tracer.start_span("in-parent").end()
"""


def _span_names(store: Path) -> list[str]:
    with duckdb.connect(str(store), read_only=True) as db:
        return sorted(row[0] for row in db.execute("SELECT name FROM spans").fetchall())


def _run(script: str, endpoint: str, **environment: str) -> None:
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "PATH": "/usr/bin:/bin",
            "OTEL_METRICS_EXPORTER": "none",
            **environment,
        },
        check=True,
        timeout=60,
        capture_output=True,
    )


def test_a_forked_worker_exports_its_own_spans_once() -> None:
    backend = Backend()  # counts every span it is sent: a span sent twice counts twice
    try:
        _run(_FORKING, backend.url)
        # Nothing was flushed by hand and the delay is a minute: each process's exit flushed
        # its own queue, and the child's started empty.
        assert dict(backend.received.spans) == {
            ("forking", "before-fork"): 1,
            ("forking", "in-child"): 1,
            ("forking", "in-parent"): 1,
        }
    finally:
        backend.close()


def test_exit_flushes_what_is_queued(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    script = """
        from opentelemetry import trace
        import bot_telemetry
        bot_telemetry.configure(service_name="leaving", schedule_delay_millis=60_000)
        for index in range(300):
            trace.get_tracer("leaving").start_span(f"span-{index:03}").end()
    """
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        _run(script, collector.url)
    assert _span_names(store) == [f"span-{index:03}" for index in range(300)]


def test_exit_exports_the_last_metrics(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    # An interval of a minute: only the exit's collection can export the counter.
    script = """
        from opentelemetry import metrics
        import bot_telemetry
        bot_telemetry.configure(service_name="leaving")
        metrics.get_meter("leaving").create_counter("leaving.runs").add(3)
    """
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        _run(
            script,
            collector.url,
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_METRIC_EXPORT_INTERVAL="60000",
        )
    with duckdb.connect(str(store), read_only=True) as db:
        points = db.execute(
            "SELECT service_name, value FROM metric_points WHERE metric_name = 'leaving.runs'"
        ).fetchall()
    assert points == [("leaving", 3.0)]


class _Raising(SpanExporter):
    """An exporter whose backend client raises (a bug or a broken dependency)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise RuntimeError("the exporter broke")

    def shutdown(self) -> None:
        pass


def test_an_exporter_that_raises_is_logged_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = configure("raising", span_exporters=[_Raising()], log_exporters=[], metric_readers=[])
    try:
        with caplog.at_level(logging.WARNING, "bot_telemetry.export"):
            for _ in range(3):
                trace.get_tracer("raising").start_span("lost").end()
                handle.force_flush(5_000)
        failing = [r for r in caplog.records if "is failing" in r.getMessage()]
        assert len(failing) == 1
        assert "RuntimeError: the exporter broke" in failing[0].getMessage()
        assert failing[0].exc_info is not None and failing[0].exc_info[0] is RuntimeError
        assert handle.dropped() == {"traces/export_failed": 3}
    finally:
        handle.shutdown()


# Records, says "ready", waits for a line on stdin, records more and returns from the script:
# the interpreter's exit flushes. Its last exit handler (registered first) prints what was
# counted as dropped, after the flush.
_LEAVING_WHILE_HANGING = """
import atexit, json, sys, time

def report():
    from bot_telemetry.export import current
    print(json.dumps(current().dropped()), flush=True)

atexit.register(report)

from opentelemetry import trace
import bot_telemetry
from bot_telemetry.signals import track_custom_event

bot_telemetry.configure(service_name="leaving")
tracer = trace.get_tracer("leaving")

def record(spans, events):
    for index in range(spans):
        tracer.start_span(f"span-{index}").end()
    if events:
        with tracer.start_as_current_span("turn"):
            for index in range(events):
                track_custom_event("OrderPlaced", {"conversationId": "c1"})

record(*map(int, sys.argv[1:3]))
print("ready", flush=True)
sys.stdin.readline()
record(*map(int, sys.argv[3:5]))
print("leaving", time.monotonic(), flush=True)
"""


def _leave_while_hanging(
    hanging: Backend, before: tuple[int, int], after: tuple[int, int], **environment: str
) -> tuple[float, dict[str, int]]:
    """Runs the script until ``hanging`` holds a request, lets it leave; (seconds from its
    last line to its end, what it counted as dropped)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _LEAVING_WHILE_HANGING, *map(str, (*before, *after))],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "OTEL_METRICS_EXPORTER": "none", **environment},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        wait_for(lambda: hanging.requests[HANG] > 0, timeout=20, what="an export in flight")
        out, err = child.communicate("go\n", timeout=40)
        ended = time.monotonic()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err[-3000:]
    leaving, report = out.splitlines()[-2:]
    return ended - float(leaving.split()[1]), json.loads(report)


def test_exit_does_not_wait_for_a_hanging_request_and_counts_what_it_abandons() -> None:
    """The exit flush joined the export thread for 5 s, then waited with no limit for the
    request in flight (here up to its 60 s timeout). It waits 5 s in all; the batch in
    flight and what is queued behind it are counted as shutdown."""
    backend = Backend(hang_seconds=120)
    backend.set_mode(HANG)
    try:
        took, dropped = _leave_while_hanging(
            backend,
            (512, 0),  # a full batch: the export thread sends it at once, and it hangs
            (88, 0),
            OTEL_EXPORTER_OTLP_ENDPOINT=backend.url,
            OTEL_EXPORTER_OTLP_TIMEOUT="60",
            OTEL_LOGS_EXPORTER="none",
        )
    finally:
        backend.close()
    assert took < 15, f"the exit took {took:.1f}s"
    assert dropped == {"traces/shutdown": 600}
    print(f"\nexit with the OTLP backend hanging: {took:.1f}s")


def test_exit_with_posthog_hanging_is_bounded_and_still_sends_the_rest() -> None:
    """PostHog hanging: the exit never stopped its retries (30 s budget). Now it stops them,
    waits 5 s in all for every queue side by side, and what the other destination had
    queued is still sent."""
    otlp, posthog = Backend(), Backend(hang_seconds=120)
    posthog.set_mode(HANG)
    try:
        took, dropped = _leave_while_hanging(
            posthog,
            (0, 3),  # events: the PostHog export thread sends them after a second, it hangs
            (100, 2),
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url,
            POSTHOG_API_KEY="phc_test",
            POSTHOG_HOST=posthog.url,
        )
    finally:
        otlp.close()
        posthog.close()
    assert took < 15, f"the exit took {took:.1f}s"
    assert otlp.mode == ACCEPT and otlp.spans_of("leaving") == 100 + 2  # and both turn spans
    assert dropped == {"posthog/shutdown": 5}
    print(f"\nexit with PostHog hanging: {took:.1f}s")


def test_force_flush_does_not_wait_past_its_timeout_for_a_request_in_flight() -> None:
    backend = Backend(hang_seconds=120)
    backend.set_mode(HANG)
    handle = configure(
        "flushing",
        span_exporters=[_otlp_span_exporter(backend.url, timeout=60)],
        log_exporters=[],
        metric_readers=[],
    )
    try:
        tracer = trace.get_tracer("flushing")
        for index in range(512):  # a full batch: the export thread sends it, and it hangs
            tracer.start_span(f"span-{index}").end()
        wait_for(lambda: backend.requests[HANG] > 0, what="an export in flight")
        started = time.monotonic()
        flushed = handle.force_flush(2_000)
        took = time.monotonic() - started
    finally:
        backend.set_mode(ACCEPT)  # answers the hung request; the exporter's retry delivers
        handle.shutdown()
        backend.close()
    assert not flushed
    assert took < 10, f"force_flush(2000) took {took:.1f}s"


def _otlp_span_exporter(endpoint: str, timeout: float) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=timeout)
