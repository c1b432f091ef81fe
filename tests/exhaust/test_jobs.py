"""The jobs file: one job per request and day, FAILED ones submitted again, at most three
attempts, jobs of runners that died put back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from bot_telemetry.exhaust.jobs import MAX_ATTEMPTS, JobConflict, JobStore, holder_id
from bot_telemetry.exhaust.requests import DatasetConfig, ExhaustRequest, request_id

REQUEST = ExhaustRequest(
    dataset="uci-response-exhaust",
    tag="7ed871f7-0d5b-4bb0-86a0-a00151352706",
    requested_by="user_id",
    requested_channel="01269878797503692810",
    config=DatasetConfig("uci-response-exhaust", "bot", dt.date(2022, 3, 1), dt.date(2022, 4, 1)),
)
DAY = dt.date(2022, 4, 6)


def test_the_request_id_is_ucis_md5_rule() -> None:
    text = (
        "uci-response-exhaust|7ed871f7-0d5b-4bb0-86a0-a00151352706|user_id|"
        "01269878797503692810|2022-04-06|uci-response-exhaust"
    )
    assert REQUEST.request_id(DAY) == hashlib.md5(text.encode()).hexdigest().upper()
    assert REQUEST.request_id(DAY) != REQUEST.request_id(DAY + dt.timedelta(days=1))
    assert REQUEST.stored_tag == "7ed871f7-0d5b-4bb0-86a0-a00151352706:01269878797503692810"
    assert request_id("a", "b", "c", "d", DAY, "e").isupper()


def test_the_window_runs_from_the_start_dates_midnight_past_the_end_date() -> None:
    start, end = REQUEST.config.bounds_ns
    assert start == int(dt.datetime(2022, 3, 1, tzinfo=dt.UTC).timestamp()) * 10**9
    assert end == int(dt.datetime(2022, 4, 2, tzinfo=dt.UTC).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("start_date", "end_date", "expected"),
    [
        # "until now": past the last nanosecond a stored time can have
        (dt.date(2026, 11, 1), dt.date(9999, 12, 31), (1_793_491_200 * 10**9, 2**63 - 1)),
        (dt.date(1, 1, 1), dt.date(1970, 1, 1), (-(2**63), 86_400 * 10**9)),
        (dt.date(1, 1, 1), dt.date(1, 1, 1), (-(2**63), -(2**63))),
        (dt.date(9999, 12, 31), dt.date(9999, 12, 31), (2**63 - 1, 2**63 - 1)),
    ],
)
def test_the_window_of_any_valid_dates_is_clamped_to_what_stored_times_can_be(
    start_date: dt.date, end_date: dt.date, expected: tuple[int, int]
) -> None:
    config = DatasetConfig("uci-response-exhaust", "bot", start_date, end_date)
    assert config.bounds_ns == expected


@pytest.fixture
def jobs(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3", lease_seconds=60)


def test_the_same_request_is_one_job_and_a_failed_one_starts_again(jobs: JobStore) -> None:
    key = REQUEST.request_id(DAY)
    job, created = jobs.submit(REQUEST, key)
    assert created and job.status == "SUBMITTED" and job.attempts == 0
    again, created = jobs.submit(REQUEST, key)
    assert not created and again.submitted_ms == job.submitted_ms
    claimed = jobs.claim()
    assert claimed is not None and (claimed.status, claimed.attempts) == ("PROCESSING", 1)
    failed = jobs.fail(key, "No data found", retry=False)
    assert failed is not None and (failed.status, failed.status_message) == (
        "FAILED",
        "No data found",
    )
    reset, created = jobs.submit(REQUEST, key)
    assert not created
    assert (reset.status, reset.attempts, reset.status_message) == ("SUBMITTED", 0, "")


def test_a_job_that_keeps_failing_stops_after_three_attempts(tmp_path: Path) -> None:
    # Retries wait (tests/exhaust/test_retries.py); here the time passes at once.
    jobs = JobStore(tmp_path / "jobs.sqlite3", retry_delays_seconds=(0.0,))
    key = REQUEST.request_id(DAY)
    jobs.submit(REQUEST, key)
    statuses = []
    for _ in range(MAX_ATTEMPTS):
        claimed = jobs.claim()
        assert claimed is not None
        ended = jobs.fail(key, "EngineError: the server went away", retry=True)
        assert ended is not None
        statuses.append((ended.status, ended.attempts))
    assert statuses == [("SUBMITTED", 1), ("SUBMITTED", 2), ("FAILED", 3)]
    assert jobs.claim() is None


def test_the_job_of_a_runner_that_died_is_put_back(jobs: JobStore) -> None:
    key = REQUEST.request_id(DAY)
    jobs.submit(REQUEST, key)
    # a process that has exited holds it (its pid is free now)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = holder_id().rsplit(":", 1)[0] + ":" + gone.stdout.strip()
    assert jobs.claim(dead) is not None
    assert jobs.progress(key, dead, "40,000 rows written")
    assert jobs.recover() == 1  # at once: same machine, no such process
    put_back = jobs.get(key)
    assert put_back is not None and (put_back.status, put_back.status_message) == (
        "SUBMITTED",
        "attempt 1 stopped before finishing; it is tried again",
    )
    assert jobs.claim() is not None
    assert jobs.get(key).attempts == 2  # type: ignore[union-attr]
    assert not jobs.progress(key, dead, "50,000 rows written")  # no longer its job


def test_a_live_runners_job_waits_for_its_lease(jobs: JobStore, tmp_path: Path) -> None:
    key = REQUEST.request_id(DAY)
    jobs.submit(REQUEST, key)
    assert jobs.claim() is not None  # held by this very process, lease 60 s
    assert jobs.claim() is None
    expired = JobStore(tmp_path / "jobs.sqlite3", lease_seconds=-1)
    expired.submit(
        ExhaustRequest(**{**REQUEST.__dict__, "requested_by": "someone else"}),
        REQUEST.request_id(DAY)[::-1],
    )
    first = expired.claim()
    assert first is not None
    # its lease is over as soon as it is taken: the next claim puts it back and takes it
    again = expired.claim()
    assert again is not None and again.request_id == first.request_id and again.attempts == 2


def test_after_three_deaths_the_job_fails_saying_so(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path / "jobs.sqlite3", lease_seconds=-1)
    key = REQUEST.request_id(DAY)
    jobs.submit(REQUEST, key)
    for _ in range(MAX_ATTEMPTS):
        assert jobs.claim() is not None
    assert jobs.recover() == 1
    job = jobs.get(key)
    assert job is not None and job.status == "FAILED"
    assert job.status_message == "stopped before finishing 3 times; not tried again"
    assert job.encryption_key is None


def test_a_request_with_the_jobs_id_but_other_parameters_is_a_conflict(jobs: JobStore) -> None:
    keyed = dataclasses.replace(REQUEST, encryption_key="first-password")
    key = keyed.request_id(DAY)
    jobs.submit(keyed, key)
    later = dataclasses.replace(
        keyed,
        encryption_key="second-password",
        config=dataclasses.replace(REQUEST.config, end_date=dt.date(2022, 4, 5)),
    )
    with pytest.raises(JobConflict) as raised:
        jobs.submit(later, key)
    assert raised.value.job.request_id == key
    assert [str(d) for d in raised.value.differences] == [
        "request.datasetConfig.endDate is '2022-04-01' there, '2022-04-05' here",
        "request.encryptionKey is one key there, another here",
    ]
    assert "password" not in str(raised.value)
    job, created = jobs.submit(keyed, key)  # the same request: the job, unchanged
    assert not created and job.encryption_key == "first-password"
    assert job.dataset_config["endDate"] == "2022-04-01"
    # a FAILED job starts again with the new request's key: only the key differs, no conflict
    jobs.claim()
    jobs.fail(key, "boom", retry=False)
    job, created = jobs.submit(dataclasses.replace(keyed, encryption_key="new-password"), key)
    assert (job.status, job.encryption_key) == ("SUBMITTED", "new-password")
    jobs.claim()
    jobs.fail(key, "boom", retry=False)
    with pytest.raises(JobConflict):  # but other dates are another request
        jobs.submit(later, key)
