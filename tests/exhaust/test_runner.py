"""The runner and a long job: it keeps its lease while it works, and an attempt that lost
its job to another runner cannot finish or fail it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.exhaust import BOT, load_duckdb
from bot_telemetry.exhaust.destinations import LinkSigner, LocalFolder
from bot_telemetry.exhaust.jobs import Job, JobStore, now_ms
from bot_telemetry.exhaust.requests import DatasetConfig, ExhaustRequest
from bot_telemetry.exhaust.runner import Runner
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from tests.support.waiting import wait_for

ROWS = 2_000
#: A runner on another machine: whether it lives cannot be seen, only its lease tells.
ELSEWHERE = "another-machine:4242"
REQUEST = ExhaustRequest(
    dataset="uci-response-exhaust",
    tag="long-job",
    requested_by="ops",
    requested_channel="ORG_1",
    # load_duckdb's answers are from 2025-06-15 on
    config=DatasetConfig("uci-response-exhaust", BOT, dt.date(2025, 6, 14), dt.date(2025, 6, 20)),
)
KEY = REQUEST.request_id(dt.date(2025, 6, 21))


class HeldFolder(LocalFolder):
    """The local folder, holding each finished file until the test lets it go: a job that
    takes as long as the test needs."""

    def __init__(self, root: Path, signer: LinkSigner) -> None:
        super().__init__(root, signer)
        self.entered = threading.Event()
        self.release = threading.Event()

    def put(self, local: Path, name: str) -> None:
        self.entered.set()
        assert self.release.wait(120), "the test never let the file go"
        super().put(local, name)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    path = tmp_path_factory.mktemp("exhaust-runner") / "telemetry.duckdb"
    store = Store.open(path)
    load_duckdb(store, ROWS)
    store.close()
    opened = DuckDBEngine(Store.open(path, read_only=True), owns_store=True)
    yield opened
    opened.close()


def test_a_job_running_past_its_lease_keeps_it_and_finishes_once(
    engine: DuckDBEngine, tmp_path: Path
) -> None:
    lease = 3.0
    jobs = JobStore(tmp_path / "jobs.sqlite3", lease_seconds=lease)
    jobs.submit(REQUEST, KEY)
    folder = HeldFolder(tmp_path / "files", LinkSigner(b"exhaust-runner-test-key"))
    runner = Runner(engine, jobs, folder, None, tmp_path / "tmp")
    ended: list[Job] = []
    running = threading.Thread(target=lambda: ended.extend(runner.run_pending()))
    running.start()
    try:
        assert folder.entered.wait(60), "the job did not reach its file"
        claimed = jobs.get(KEY)
        assert claimed is not None and claimed.status == "PROCESSING"
        # Its progress, for whoever reads the job meanwhile.
        assert claimed.status_message == f"{ROWS:,} rows written"
        # Twice the lease later the job is still being written: nobody else may take it.
        past = claimed.updated_ms + int(2 * lease * 1000)
        wait_for(lambda: now_ms() > past, timeout=30, what="two leases to pass")
        other = JobStore(tmp_path / "jobs.sqlite3", lease_seconds=lease)
        assert other.claim(ELSEWHERE) is None, "a job still running was taken over"
    finally:
        folder.release.set()
        running.join(60)
    (job,) = ended
    assert (job.status, job.attempts, job.rows, job.status_message) == ("SUCCESS", 1, ROWS, "")
    assert [p.name for p in (tmp_path / "files").rglob("*.csv")] == [Path(job.files[0]).name]


def test_an_attempt_that_lost_its_job_cannot_finish_or_fail_it(tmp_path: Path) -> None:
    # Leases over as soon as taken: the second runner puts the job back and takes it.
    jobs = JobStore(tmp_path / "jobs.sqlite3", lease_seconds=-1)
    jobs.submit(REQUEST, KEY)
    first = jobs.claim("machine-a:1")
    second = jobs.claim("machine-b:2")
    assert first is not None and second is not None and second.attempts == 2
    late = "uci-response-exhaust/X/late.csv"
    assert jobs.succeed(KEY, [late], 5, first.updated_ms, holder="machine-a:1") is None
    assert jobs.fail(KEY, "OSError: gone", retry=True, holder="machine-a:1") is None
    held = jobs.get(KEY)
    assert held is not None and (held.status, held.attempts, held.files) == ("PROCESSING", 2, [])
    done = jobs.succeed(
        KEY, ["uci-response-exhaust/X/f.csv"], 5, second.updated_ms, holder="machine-b:2"
    )
    assert done is not None and done.status == "SUCCESS"
