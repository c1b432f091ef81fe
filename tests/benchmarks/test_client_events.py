"""client_events runs the Sunbird pipeline and the parse-only baseline as real servers over
HTTP and reports both. A small run here: it checks what the report says was stored, not how
fast (nothing judges speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.processes import REPO


def test_json_report_stores_every_event_and_compares_with_the_baseline() -> None:
    command = ["-m", "benchmarks.client_events", "--events", "2000", "--senders", "2", "--json"]
    result = subprocess.run(
        [sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert (report["events"], report["batch"], report["senders"]) == (2000, 20, 2)
    pipeline, baseline = report["pipeline"], report["parse_only"]
    assert pipeline["failed_requests"] == baseline["failed_requests"] == 0
    assert pipeline["stored"] == 2000
    # The 2,000 events and the 400 of the warm-up before the measured run, each once (their
    # times differ: making 2,000 events takes more than the millisecond of an event's ets).
    assert pipeline["rows_in_store"] == 2400
    assert pipeline["server_cpu_seconds"] > 0 and pipeline["events_per_server_cpu_second"] > 0
    # The event loop's CPU and the other threads' add up to the server's, within one tick of
    # /proc's clock (the process and its threads are read one after the other).
    split = pipeline["event_loop_us_per_event"] + pipeline["other_threads_us_per_event"]
    tick_us_per_event = 1e6 / os.sysconf("SC_CLK_TCK") / 2000
    assert pipeline["event_loop_us_per_event"] > 0
    assert abs(split - 1e6 * pipeline["server_cpu_seconds"] / 2000) <= tick_us_per_event + 0.5
    assert pipeline["thread_switches_per_bundle"] > 0
    assert report["store_floor_us_per_event"] > 0
    measured = baseline["events_per_server_cpu_second"]
    if measured is None:  # a baseline this short can take under /proc's 10 ms clock tick
        assert report["pipeline_share_of_baseline"] is None
        assert report["best_share_with_this_store"] is None
    else:
        share = pipeline["events_per_server_cpu_second"] / measured
        assert report["pipeline_share_of_baseline"] == round(share, 3)
        assert 0 < report["best_share_with_this_store"] < 1
