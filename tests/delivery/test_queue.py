"""The one export queue: handing over many items at once, and partial deliveries counted
exactly by reason."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.metrics import NoOpMeter

from bot_telemetry.delivery import BatchQueue, Delivery, ExportAccounting
from tests.support.processes import REPO
from tests.support.waiting import wait_for


def accounting() -> ExportAccounting:
    return ExportAccounting(NoOpMeter("test"))


def test_put_many_takes_what_fits_and_counts_the_rest() -> None:
    counts = accounting()
    release = threading.Event()
    got: list[int] = []

    def send(batch: Sequence[int]) -> bool:
        release.wait(10)
        got.extend(batch)
        return True

    queue: BatchQueue[int] = BatchQueue(
        send, signal="posthog", destination="d", accounting=counts, max_queue_size=10
    )
    queue.put_many(range(25))
    assert counts.dropped() == {"posthog/queue_full": 15}
    assert queue.pending() == 10
    release.set()
    assert queue.flush(10_000)
    queue.close()
    queue.put_many([1, 2])
    assert got == list(range(10))
    assert counts.dropped() == {"posthog/queue_full": 15, "posthog/shutdown": 2}


def test_a_flush_whose_export_failed_says_so() -> None:
    counts = accounting()
    answers = [False, True]

    def send(batch: Sequence[int]) -> bool:
        return answers.pop(0)

    queue: BatchQueue[int] = BatchQueue(
        send, signal="traces", destination="d", accounting=counts, schedule_delay_millis=60_000
    )
    queue.put_many([1, 2, 3])
    assert not queue.flush(10_000), "nothing was exported"
    assert counts.dropped() == {"traces/export_failed": 3}
    queue.put_many([4])
    assert queue.flush(10_000)
    queue.close()


def test_a_partial_delivery_is_counted_by_reason_with_one_outage_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = accounting()
    outcomes = [
        Delivery(delivered=7, dropped={"too_large": 1}),
        Delivery(delivered=2, dropped={"export_failed": 6, "rejected": 1}, reason="503 twice"),
        Delivery(delivered=0, dropped={"export_failed": 9}, reason="still 503"),
        Delivery(delivered=9),
    ]

    def send(batch: Sequence[int]) -> Delivery:
        return outcomes.pop(0)

    queue: BatchQueue[int] = BatchQueue(
        send, signal="posthog", destination="PostHog", accounting=counts, max_batch_size=9
    )
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
        for _ in range(4):
            queue.put_many(range(9))
            queue.flush(5_000)
    queue.close()
    assert counts.dropped() == {
        "posthog/too_large": 1,
        "posthog/export_failed": 15,
        "posthog/rejected": 1,
    }
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "is failing (503 twice)" in lines[0]
    assert "recovered; 15 items were dropped" in lines[1]


def test_a_request_sent_during_an_outage_that_fails_after_recovery_starts_no_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = accounting()
    sent_during_outage = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
        counts.export_failed("OTLP", "traces", 3, started=sent_during_outage)
        counts.export_succeeded("OTLP")
        # A hung request from the outage, answered (with a failure) once the backend was back.
        counts.export_failed("OTLP", "logs", 2, started=sent_during_outage)
        assert not counts.is_failing("OTLP")
        # A request sent after the recovery that fails is a new outage.
        counts.export_failed("OTLP", "logs", 1, started=time.monotonic())
    lines = [r.getMessage() for r in caplog.records if "telemetry export to" in r.getMessage()]
    kinds = ["failing" if " is failing" in line else "recovered" for line in lines]
    assert kinds == ["failing", "recovered", "failing"]
    assert counts.dropped() == {"traces/export_failed": 3, "logs/export_failed": 3}
    assert counts.is_failing("OTLP")


def test_each_outage_line_gives_its_own_destinations_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One process, three destinations failing: a sender's own reason (PostHog), a reason the
    exporter logs while it exports (the OTLP exporter's "Failed to export" line, folded), and
    an exporter that says nothing. Each outage line tells its own, and nothing of another's."""
    counts = accounting()
    counts.install_log_folding()
    otlp_log = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")

    def posthog(batch: Sequence[int]) -> Delivery:
        return Delivery(dropped={"export_failed": len(batch)}, reason="no answer from PostHog")

    def otlp(batch: Sequence[int]) -> bool:
        otlp_log.error("Failed to export span batch code: 503, reason: %s", "OTLP unavailable")
        return False

    def silent(batch: Sequence[int]) -> bool:
        return False

    senders = {"PostHog": posthog, "OTLP": otlp, "Azure Monitor": silent}
    queues = [
        BatchQueue(send, signal="traces", destination=name, accounting=counts)
        for name, send in senders.items()
    ]
    try:
        with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
            # The silent one's outage starts just after PostHog's.
            for queue in (queues[0], queues[2], queues[1]):
                queue.put(1)
                queue.flush(5_000)
    finally:
        counts.remove_log_folding()
        for queue in queues:
            queue.close()
    lines = {
        name: [r.getMessage() for r in caplog.records if f"export to {name} is" in r.getMessage()]
        for name in senders
    }
    assert [len(found) for found in lines.values()] == [1, 1, 1], lines
    assert "is failing (no answer from PostHog)" in lines["PostHog"][0]
    assert "OTLP unavailable" in lines["OTLP"][0] and "PostHog" not in lines["OTLP"][0]
    silent_line = lines["Azure Monitor"][0]
    assert "PostHog" not in silent_line and "OTLP" not in silent_line, silent_line
    assert counts.dropped() == {"traces/export_failed": 3}


def test_a_sender_refused_its_credentials_says_so_and_what_to_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 403 (a wrong key) never heals by itself: the outage line says what to fix instead."""
    refused = "PostHog at https://eu.i.posthog.com refused the project API key (403: bad key)"

    def send(batch: Sequence[int]) -> Delivery:
        return Delivery(dropped={"export_failed": len(batch)}, reason=refused, status=403)

    queue: BatchQueue[int] = BatchQueue(
        send, signal="posthog", destination="PostHog https://eu.i.posthog.com",
        accounting=accounting(),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
        queue.put_many(range(3))
        queue.flush(5_000)
    queue.close()
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"is failing ({refused})" in line
    assert "the credentials were refused (403)" in line and "check POSTHOG_API_KEY" in line
    assert "resumes by itself" not in line


def test_a_slow_destination_says_once_per_episode_what_its_full_queue_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A destination that answers, slower than telemetry comes, fails no export: its full
    queue's drops were only counted (queue_full), with no line in the log."""
    caplog.set_level(logging.WARNING, logger="bot_telemetry.export")
    counts = accounting()
    release = threading.Event()
    taken = threading.Event()

    def send(batch: Sequence[int]) -> bool:
        taken.set()
        return release.wait(10)

    queue: BatchQueue[int] = BatchQueue(
        send,
        signal="traces",
        destination="otlp http://slow:4318",
        accounting=counts,
        max_queue_size=2,
        schedule_delay_millis=3_600_000,
    )
    queue.put_many([1, 2])  # a full batch: taken at once, then held by the slow send
    assert taken.wait(10)
    wait_for(lambda: queue.pending() == 0, what="the export thread to take the batch")
    queue.put_many([3, 4])
    queue.put_many([5, 6, 7])  # dropped
    queue.put(8)  # dropped, and said no more
    assert counts.dropped() == {"traces/queue_full": 4}
    # Said when the slow export ends well: one that hangs until it fails is an outage, and
    # its line says it.
    release.set()
    assert queue.flush(10_000)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    assert len(lines) == 2, lines
    assert "otlp http://slow:4318 is falling behind" in lines[0], lines[0]
    assert "queue of 2 traces items is full" in lines[0] and "(4 so far)" in lines[0]
    assert "queue_full; said once until the queue drains" in lines[0]
    assert lines[1] == (
        "telemetry export to otlp http://slow:4318 caught up: its queue drained; "
        "4 traces items were dropped while its queue was full"
    )
    # A new episode is said again.
    release.clear()
    taken.clear()
    queue.put_many([9, 10])
    assert taken.wait(10)
    wait_for(lambda: queue.pending() == 0, what="the export thread to take the batch")
    queue.put_many([11, 12, 13])
    release.set()
    queue.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    assert len(lines) == 4 and "is falling behind" in lines[2] and "(1 so far)" in lines[2], lines
    assert "caught up" in lines[3] and "1 traces items were dropped" in lines[3], lines


def test_a_full_queue_during_an_outage_is_the_outage_s_to_say(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot_telemetry.export")
    counts = accounting()
    # A queue full while an export hangs, which then fails: an outage, said as one.
    counts.queue_full("d", "traces", 3, 10)
    counts.export_failed("d", "traces", 5, reason="timed out")
    counts.queue_full("d", "traces", 4, 10)  # counted, not said
    counts.queue_drained("d", "traces")  # the episode was the outage's: not said either
    lines = [r.getMessage() for r in caplog.records if r.name == "bot_telemetry.export"]
    assert len(lines) == 1 and "is failing" in lines[0], lines
    assert counts.dropped() == {"traces/queue_full": 7, "traces/export_failed": 5}


# A parent whose queue is in a full-queue episode (said, not drained) and whose other
# destination is in an outage forks; the child, with queues of its own, has an episode of its
# own and a first export that succeeds. It prints its log lines as JSON.
_FORKED_EPISODES = """
import json, logging, os, sys, threading
from opentelemetry.metrics import NoOpMeter
from bot_telemetry.delivery import BatchQueue, ExportAccounting

lines = []
class Keep(logging.Handler):
    def emit(self, record):
        lines.append(record.getMessage())
logging.getLogger("bot_telemetry.export").addHandler(Keep())
logging.getLogger("bot_telemetry.export").setLevel(logging.WARNING)

gate = threading.Semaphore(0)
taken = threading.Event()
def slow(batch):
    taken.set()
    return gate.acquire(timeout=30)

working = [False]
def down(batch):
    return working[0]

def wait(condition):
    for _ in range(3000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise SystemExit("timed out: " + json.dumps(lines))

counts = ExportAccounting(NoOpMeter("t"))
queue = BatchQueue(slow, signal="traces", destination="slow", accounting=counts,
                   max_queue_size=2, schedule_delay_millis=3_600_000)
failing = BatchQueue(down, signal="logs", destination="down", accounting=counts,
                     schedule_delay_millis=3_600_000)
failing.put(1)
assert not failing.flush(10_000)
queue.put_many([1, 2])
wait(lambda: taken.is_set() and queue.pending() == 0)
queue.put_many([3, 4])
queue.put_many([5, 6, 7])  # 3 dropped: the parent's episode
taken.clear()
gate.release()  # the first batch ends well: the episode is said; [3, 4] is taken and held
wait(lambda: taken.is_set() and queue.pending() == 0)
assert len(lines) == 2 and "falling behind" in lines[1], lines
parents = len(lines)

pid = os.fork()
if pid == 0:
    gate, taken = threading.Semaphore(0), threading.Event()
    working[0] = True
    failing.put(1)
    failing.flush(10_000)
    queue.put_many([11, 12])
    wait(lambda: taken.is_set() and queue.pending() == 0)
    queue.put_many([13, 14])
    queue.put(15)  # 1 dropped: the child's own episode
    for _ in range(10):
        gate.release()
    queue.flush(10_000)
    print(json.dumps(lines[parents:]))
    sys.stdout.flush()
    os._exit(0)
_, status = os.waitpid(pid, 0)
for _ in range(10):
    gate.release()
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_starts_with_no_episode_or_outage_of_its_parent() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORKED_EPISODES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    child = json.loads(done.stdout.strip().splitlines()[-1])
    # Its own episode, said when it starts and counted from nothing; no line of the parent's
    # outage ("recovered") nor of its episode.
    assert len(child) == 2, child
    assert "telemetry export to slow is falling behind" in child[0], child
    assert "(1 so far)" in child[0], child
    assert child[1] == (
        "telemetry export to slow caught up: its queue drained; 1 traces items were dropped "
        "while its queue was full"
    )
