"""A failed attempt is tried again after a growing delay, not at once: a ClickHouse server
really down (stopped) for the first two attempts and back (started again on its data) for
the third, with the jobs file's clock moved on instead of waiting minutes."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from pathlib import Path

from bot_telemetry.exhaust.destinations import LinkSigner, LocalFolder
from bot_telemetry.exhaust.jobs import JobStore, now_ms
from bot_telemetry.exhaust.requests import parse_submit
from bot_telemetry.exhaust.runner import Runner
from bot_telemetry.exhaust.schedule import Schedule, Scheduler
from bot_telemetry.privacy import IdentityVault
from bot_telemetry.store.clickhouse import HTTPClickHouseEngine
from bot_telemetry.store.location import ClickHouseLocation
from bot_telemetry.store.otel_rows import table_rows
from tests.exhaust.test_api import body
from tests.exhaust.traffic import ANSWERS, USERS, VAULT_KEYS, drive
from tests.support.clickhouse import clickhouse_server
from tests.support.ports import free_port


class Clock:
    """Epoch ms that move only when the test says."""

    def __init__(self) -> None:
        self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def test_a_store_down_then_back_is_retried_after_30_s_then_2_min_and_the_job_succeeds(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "clickhouse", free_port()
    driven = asyncio.run(drive(IdentityVault.parse(VAULT_KEYS)))
    with clickhouse_server(data, port) as server:
        url = server.url("otel", user="default")
        loading = HTTPClickHouseEngine.open(ClickHouseLocation.parse(url), create_schema=True)
        for request in driven.requests:
            for table, (_, rows) in table_rows(request, loading.tables).items():
                loading.insert(table, rows)
        loading.close()
        engine = HTTPClickHouseEngine.open(ClickHouseLocation.parse(url))
    # The server is stopped: ClickHouse is down.
    clock = Clock()
    jobs = JobStore(tmp_path / "jobs.sqlite3", clock=clock)
    request = parse_submit(body())
    request_id = request.request_id(dt.date.today())
    jobs.submit(request, request_id)
    files = LocalFolder(tmp_path / "files", LinkSigner(b"k" * 32))
    runner = Runner(engine, jobs, files, None, tmp_path / "tmp")

    (first,) = runner.run_pending()
    retry_at = clock.ms + 30_000
    assert (first.status, first.attempts, first.retry_at_ms) == ("SUBMITTED", 1, retry_at)
    assert first.status_message.startswith(
        f"retrying at {_utc(retry_at)}, attempt 2 of 3, last error: "
    ), first.status_message
    assert jobs.next_retry_ms() == retry_at
    # Not at once, however often the runner looks (the outage's first second).
    assert runner.run_pending() == [] and runner.run_pending() == []
    clock.advance(29)
    assert runner.run_pending() == []

    clock.advance(1)
    (second,) = runner.run_pending()
    retry_at = clock.ms + 120_000
    assert (second.status, second.attempts, second.retry_at_ms) == ("SUBMITTED", 2, retry_at)
    assert second.status_message.startswith(f"retrying at {_utc(retry_at)}, attempt 3 of 3, ")
    clock.advance(119)
    assert runner.run_pending() == []

    with clickhouse_server(data, port):  # back, on the same data
        clock.advance(1)
        (third,) = runner.run_pending()
    assert (third.status, third.attempts, third.retry_at_ms) == ("SUCCESS", 3, None)
    assert third.rows == len(USERS) * len(ANSWERS)
    assert jobs.next_retry_ms() is None
    engine.close()


def test_a_third_failed_attempt_fails_the_job_with_its_error(tmp_path: Path) -> None:
    clock = Clock()
    jobs = JobStore(tmp_path / "jobs.sqlite3", clock=clock)
    request = parse_submit(body())
    request_id = request.request_id(dt.date.today())
    jobs.submit(request, request_id)
    for delay in (30, 120):
        assert jobs.claim("a:1") is not None
        waiting = jobs.fail(request_id, "OSError: down", retry=True, holder="a:1")
        assert waiting is not None and waiting.status == "SUBMITTED"
        assert jobs.claim("a:1") is None
        clock.advance(delay)
    assert jobs.claim("a:1") is not None
    failed = jobs.fail(request_id, "OSError: down", retry=True, holder="a:1")
    assert failed is not None
    assert (failed.status, failed.status_message, failed.attempts) == ("FAILED", "OSError: down", 3)
    # Submitted again, it starts afresh: no wait left over from the failed one.
    again, _ = jobs.submit(request, request_id)
    assert (again.status, again.retry_at_ms) == ("SUBMITTED", None)
    assert jobs.claim("a:1") is not None


def test_a_jobs_file_from_before_retries_waited_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    JobStore(path)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE exhaust_jobs DROP COLUMN retry_at_ms")
    jobs = JobStore(path)
    request = parse_submit(body())
    jobs.submit(request, "R")
    claimed = jobs.claim("a:1")
    assert claimed is not None and claimed.retry_at_ms is None
    assert jobs.fail("R", "OSError: down", retry=True, holder="a:1") is not None


def test_the_schedule_wakes_for_a_retry_and_a_daily_one_runs_only_retries() -> None:
    due: list[int | None] = [now_ms()]
    runs, retries = threading.Semaphore(0), threading.Semaphore(0)

    def next_retry() -> int | None:
        return due[0]

    def retried() -> None:
        due[0] = None  # run, nothing waits any more
        retries.release()

    # An hour's poll and nobody waking it: only the retry's time can.
    now = Scheduler(
        runs.release, Schedule.parse("now"), poll_seconds=3600, next_retry_ms=next_retry
    )
    now.start()
    try:
        assert runs.acquire(timeout=30), "the retry's time did not wake the runner"
    finally:
        now.stop()
    # Daily at a time an hour away: the retry runs, the day's run does not.
    later = (dt.datetime.now() + dt.timedelta(hours=1)).strftime("%H:%M")
    daily = Scheduler(
        runs.release,
        Schedule.parse(f"daily@{later}"),
        retries=retried,
        next_retry_ms=next_retry,
    )
    due[0] = now_ms()
    daily.start()
    try:
        assert retries.acquire(timeout=30), "the daily schedule did not run the retry"
    finally:
        daily.stop()
    assert not runs.acquire(blocking=False), "the day's run ran before its time"


def test_a_jobs_file_that_cannot_be_upgraded_says_so_at_once(tmp_path: Path) -> None:
    """Only "duplicate column" (another process upgraded it first) is let pass: any other
    refusal (here: another process holding the file's lock past the wait) left the column
    out, and every claim failed later with "no such column: retry_at_ms"."""
    import sqlite3

    from bot_telemetry.exhaust.jobs import JobsFileError

    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE exhaust_jobs DROP COLUMN retry_at_ms")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process mid-change (cron's exhaust run)
    try:
        JobStore(path, busy_seconds=0.05)
    except JobsFileError as error:
        said = str(error)
    else:
        raise AssertionError("the jobs file was taken without its retry_at_ms column")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert said == (
        f"cannot upgrade the exhaust jobs file {path} (adding its retry_at_ms column): "
        "database is locked"
    ), said
    # Once the lock is let go, the same file is upgraded.
    jobs = JobStore(path)
    jobs.submit(parse_submit(body()), "R")
    claimed = jobs.claim("a:1")
    assert claimed is not None and claimed.retry_at_ms is None
