"""``bot-telemetry serve`` killed with SIGKILL in the middle of ingest, then restarted on the
same store: the store opens, every batch it acknowledged is there, the senders' retries
fill in the rest, and nothing is stored twice.

Two kinds of sender run through the crash: a raw OTLP/HTTP client in this process that
resends a batch until it is acknowledged (and never resends an acknowledged one), and a
real exporting process (the SDK through ``configure()``) whose OTLP exporter retries for
up to 15 seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.reliability.stack import exporting_to, serve_args, stored
from tests.support.ports import free_port
from tests.support.processes import REPO, running
from tests.support.waiting import wait_for

BATCHES, SPANS_PER_BATCH = 60, 200
EMITTED = 1500


def batch(number: int) -> bytes:
    now = time.time_ns()
    spans = [
        Span(
            trace_id=number.to_bytes(16, "big"),
            span_id=(index + 1).to_bytes(8, "big"),
            name=f"raw {number}",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=now,
            end_time_unix_nano=now + 1000,
        )
        for index in range(SPANS_PER_BATCH)
    ]
    resource = ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])
    resource.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="raw-sender"))
    )
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


@dataclass
class RawSender:
    url: str
    acknowledged: list[int] = field(default_factory=list)
    attempts: int = 0
    refused: int = 0

    def run(self, deadline: float) -> None:
        for number in range(1, BATCHES + 1):
            body = batch(number)
            while time.monotonic() < deadline:
                self.attempts += 1
                request = urllib.request.Request(
                    f"{self.url}/v1/traces",
                    data=body,
                    headers={"Content-Type": "application/x-protobuf"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        if response.status == 200:
                            self.acknowledged.append(number)
                            break
                except (urllib.error.URLError, OSError):
                    self.refused += 1  # down, reset mid-request, or 503: send it again
                time.sleep(0.02)


def test_sigkill_mid_ingest_loses_nothing_acknowledged_and_stores_nothing_twice(
    tmp_path: Path,
) -> None:
    store, port = tmp_path / "telemetry.duckdb", free_port()
    url = f"http://127.0.0.1:{port}"
    sender = RawSender(url)
    deadline = time.monotonic() + 60
    env = exporting_to(
        url,
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_EXPORTER_OTLP_TIMEOUT="15",
        OTEL_METRICS_EXPORTER="none",
    )
    with running(serve_args(port, store), ready_url=f"{url}/api/health") as first:
        emitter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.emit",
                "--spans",
                str(EMITTED),
                "--per-second",
                "600",
            ],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        thread = threading.Thread(target=sender.run, args=(deadline,))
        thread.start()
        wait_for(
            lambda: len(sender.acknowledged) >= BATCHES // 3,
            timeout=30,
            what="a third of the raw batches acknowledged",
        )
        assert emitter.poll() is None, "the exporting process finished before the crash"
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        acknowledged_before_kill = list(sender.acknowledged)
    assert first.process.returncode == -signal.SIGKILL

    with running(serve_args(port, store), ready_url=f"{url}/api/health", timeout=30):
        thread.join(60)
        out, _ = emitter.communicate(timeout=60)
    assert not thread.is_alive()
    assert emitter.returncode == 0
    accounting = json.loads(out.strip().splitlines()[-1])
    assert accounting == {"flushed": True, "dropped": {}}, "the exporter's retries gave up"
    assert sender.acknowledged == list(range(1, BATCHES + 1))
    assert sender.refused > 0, "the crash did not interrupt the raw sender"

    raw = stored(
        store,
        "SELECT count(*), count(DISTINCT (trace_id, span_id)), "
        "count(DISTINCT trace_id) FROM spans WHERE service_name = 'raw-sender'",
    )
    assert raw == [(BATCHES * SPANS_PER_BATCH, BATCHES * SPANS_PER_BATCH, BATCHES)]
    kept = {
        int(row[0], 16)
        for row in stored(
            store, "SELECT DISTINCT trace_id FROM spans WHERE service_name = 'raw-sender'"
        )
    }
    assert set(acknowledged_before_kill) <= kept
    emitted = stored(
        store, "SELECT count(*), count(DISTINCT span_id) FROM spans WHERE service_name = 'emitter'"
    )
    events = stored(
        store,
        "SELECT count(*), count(DISTINCT record_id) FROM logs "
        "WHERE service_name = 'emitter' AND event_name = 'Emitted'",
    )
    assert emitted == [(EMITTED, EMITTED)] and events == [(EMITTED, EMITTED)]
    print(
        f"\nSIGKILL after {len(acknowledged_before_kill)} raw batches acknowledged; "
        f"{sender.attempts} attempts for {BATCHES} batches ({sender.refused} refused or cut); "
        f"emitter: {EMITTED} spans and events, none dropped"
    )
