"""The export queue behaves like the SDK's where it matters: a forked worker exports what it
records (and not its parent's queue again), the interpreter's exit flushes what is queued, and
an exporter that raises is logged once per outage with its exception."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bot_telemetry import configure
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.reliability.backend import Backend
from tests.support.processes import REPO

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
