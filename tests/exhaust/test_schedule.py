"""When serve's runner runs: now (woken by a submit), daily at a time, or never."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from bot_telemetry.exhaust.schedule import Schedule, Scheduler


def test_schedules_are_parsed_and_the_next_daily_run_is_the_next_time_of_day() -> None:
    daily = Schedule.parse("daily@02:00")
    assert (daily.mode, daily.at, str(daily)) == ("daily", dt.time(2, 0), "daily@02:00")
    before = dt.datetime(2025, 6, 15, 1, 59)
    after = dt.datetime(2025, 6, 15, 2, 0)
    assert daily.next_run(before) == dt.datetime(2025, 6, 15, 2, 0)
    assert daily.next_run(after) == dt.datetime(2025, 6, 16, 2, 0)
    assert Schedule.parse("now").next_run(before) is None
    for wrong in ("daily@25:00", "daily@2:00", "hourly", ""):
        with pytest.raises(ValueError, match="now, off or daily@HH:MM"):
            Schedule.parse(wrong)


def test_now_runs_when_woken_and_off_never_starts() -> None:
    runs = threading.Semaphore(0)
    scheduler = Scheduler(runs.release, Schedule.parse("now"), poll_seconds=3600)
    scheduler.start()
    try:
        scheduler.wake()
        assert runs.acquire(timeout=10)
        scheduler.wake()
        assert runs.acquire(timeout=10)
    finally:
        scheduler.stop()
    never: list[int] = []
    off = Scheduler(lambda: never.append(1), Schedule.parse("off"))
    off.start()
    off.wake()
    off.stop()
    assert never == []


def test_now_runs_once_at_start_for_jobs_left_waiting_by_the_last_run() -> None:
    """A job submitted before serve stopped (or was upgraded and started again) waited a whole
    poll (a minute in serve) before anything ran it; nothing wakes the runner for it."""
    runs = threading.Semaphore(0)
    scheduler = Scheduler(runs.release, Schedule.parse("now"), poll_seconds=3600)
    scheduler.start()
    try:
        assert runs.acquire(timeout=30), "nothing ran at start: the job waits an hour's poll"
    finally:
        scheduler.stop()
