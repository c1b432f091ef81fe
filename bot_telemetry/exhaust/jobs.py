"""Exhaust jobs, kept durably in one small SQLite file (``jobs.sqlite3`` in the exhaust
folder, next to the store): what was asked, its status, attempts and files, and the audit
trail of downloads.

SQLite because the job state must outlive ``serve``, be shared by ``serve``'s runner and the
``bot-telemetry exhaust`` commands (cron) on the same machine, and take a lock for each
change; the standard library has it, and the DuckDB store cannot be opened by a second
process while ``serve`` writes it.

Status: ``SUBMITTED -> PROCESSING -> SUCCESS | FAILED``. A runner claims the oldest submitted
job (attempt + 1) and holds it under a lease, which it renews while it works (``renew``); a
runner that dies leaves the job PROCESSING until its lease runs out, or at once when the next
runner on the same machine sees the holder's process is gone; then the job is submitted
again, or FAILED after ``MAX_ATTEMPTS``. An attempt that lost its job that way (stalled past
its lease) cannot finish or fail it: ``succeed`` and ``fail`` given its holder do nothing.

An attempt that fails (``fail(retry=True)``) is not tried again at once: a store or network
outage usually lasts longer than the second three attempts in a row would take. The job waits
``RETRY_DELAYS_SECONDS`` (30 s after the first attempt, 2 minutes after the second) and says
so in its statusMessage; ``claim`` leaves it until then. Nothing sleeps meanwhile: the runner
takes other jobs, and the schedule wakes for the retry (``next_retry_ms``).
"""

from __future__ import annotations

import hmac
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .requests import ExhaustRequest

SUBMITTED: Final = "SUBMITTED"
PROCESSING: Final = "PROCESSING"
SUCCESS: Final = "SUCCESS"
FAILED: Final = "FAILED"
MAX_ATTEMPTS: Final = 3
DEFAULT_LEASE_SECONDS: Final = 600.0
#: How long a job waits after a failed attempt before the next: after attempt 1, after 2.
RETRY_DELAYS_SECONDS: Final = (30.0, 120.0)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exhaust_jobs (
    request_id TEXT PRIMARY KEY,
    tag TEXT NOT NULL,
    dataset TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_channel TEXT NOT NULL,
    dataset_config TEXT NOT NULL,
    output_format TEXT NOT NULL,
    encryption_key TEXT,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    submitted_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    completed_ms INTEGER,
    execution_ms INTEGER,
    files TEXT NOT NULL DEFAULT '[]',
    rows INTEGER,
    holder TEXT,
    lease_until_ms INTEGER,
    retry_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS exhaust_jobs_tag ON exhaust_jobs (tag, submitted_ms);
CREATE INDEX IF NOT EXISTS exhaust_jobs_status ON exhaust_jobs (status, submitted_ms);
CREATE TABLE IF NOT EXISTS exhaust_audit (
    time_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    tag TEXT NOT NULL,
    file TEXT NOT NULL,
    client TEXT NOT NULL,
    outcome TEXT NOT NULL
);
"""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Job:
    request_id: str
    tag: str
    dataset: str
    requested_by: str
    requested_channel: str
    dataset_config: dict[str, Any]
    output_format: str
    encryption_key: str | None
    status: str
    status_message: str
    attempts: int
    submitted_ms: int
    updated_ms: int
    completed_ms: int | None
    execution_ms: int | None
    files: list[str] = field(default_factory=list)
    rows: int | None = None
    #: When a job waiting after a failed attempt may be tried again (epoch ms); else None.
    retry_at_ms: int | None = None

    @property
    def conversation_id(self) -> str:
        return str(self.dataset_config.get("conversationId", ""))


@dataclass(frozen=True)
class AuditRecord:
    time_ms: int
    action: str
    request_id: str
    dataset: str
    tag: str
    file: str
    client: str
    outcome: str


def holder_id() -> str:
    """Who holds a job: this process, on this machine."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_gone(holder: str | None) -> bool:
    """Whether the process holding a job is known to be gone (same machine, no such pid)."""
    if not holder:
        return True
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's: only its lease tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobsFileError(Exception):
    """The jobs file cannot be used as it is (an upgrade that could not be written)."""


class JobStore:
    """The jobs file. Safe to share between threads (a connection per call) and processes
    (SQLite's locks; changes in ``BEGIN IMMEDIATE`` transactions)."""

    def __init__(
        self,
        path: Path,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        retry_delays_seconds: tuple[float, ...] = RETRY_DELAYS_SECONDS,
        clock: Callable[[], int] = now_ms,
        busy_seconds: float = 30.0,
    ):
        """``clock`` gives the time in epoch ms (tests pass one they can move on);
        ``busy_seconds``, how long a change waits for another process's lock."""
        self.path = Path(path)
        self.busy_seconds = busy_seconds
        self.lease_ms = int(lease_seconds * 1000)
        self.retry_delays_ms = [int(seconds * 1000) for seconds in retry_delays_seconds]
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # executescript commits on its own; every statement is IF NOT EXISTS.
        db = self._connection()
        db.executescript(_SCHEMA)
        columns = {row["name"] for row in db.execute("PRAGMA table_info(exhaust_jobs)")}
        if "retry_at_ms" not in columns:  # a jobs file from before retries waited
            try:
                db.execute("ALTER TABLE exhaust_jobs ADD COLUMN retry_at_ms INTEGER")
            except sqlite3.OperationalError as error:
                # Another process added it first: nothing to do. Anything else (a file that
                # cannot be written, locked past the timeout, not our table) left the column
                # out, and every claim would fail later with "no such column".
                if "duplicate column" not in str(error):
                    raise JobsFileError(
                        f"cannot upgrade the exhaust jobs file {self.path} (adding its "
                        f"retry_at_ms column): {error}"
                    ) from error

    def _connection(self) -> sqlite3.Connection:
        found: sqlite3.Connection | None = getattr(self._local, "db", None)
        if found is None:
            found = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
            found.row_factory = sqlite3.Row
            found.execute("PRAGMA journal_mode=WAL")
            found.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")
            self._local.db = found
        return found

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        found: sqlite3.Connection | None = getattr(self._local, "db", None)
        if found is not None:
            found.close()
            self._local.db = None

    # --- requests -----------------------------------------------------------------------

    def submit(self, request: ExhaustRequest, request_id: str) -> tuple[Job, bool]:
        """The job for ``request``: a new one, or the existing one (a FAILED one submitted
        again with this request's key). Returns the job and whether it was created.
        ``JobConflict`` when the job with this id was asked with other parameters."""
        now = self.clock()
        with self._transaction() as db:
            existing = db.execute(
                "SELECT * FROM exhaust_jobs WHERE request_id = ?", [request_id]
            ).fetchone()
            if existing is not None:
                found = differences(_job(existing), request)
                if found:
                    raise JobConflict(_job(existing), found)
            if existing is None:
                db.execute(
                    "INSERT INTO exhaust_jobs (request_id, tag, dataset, requested_by, "
                    "requested_channel, dataset_config, output_format, encryption_key, status, "
                    "submitted_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        request_id,
                        request.stored_tag,
                        request.dataset,
                        request.requested_by,
                        request.requested_channel,
                        json.dumps(request.config.as_json()),
                        request.output_format,
                        request.encryption_key,
                        SUBMITTED,
                        now,
                        now,
                    ],
                )
                created = True
            else:
                created = False
                if existing["status"] == FAILED:
                    db.execute(
                        "UPDATE exhaust_jobs SET status = ?, status_message = '', attempts = 0, "
                        "encryption_key = ?, updated_ms = ?, completed_ms = NULL, "
                        "execution_ms = NULL, files = '[]', rows = NULL, holder = NULL, "
                        "lease_until_ms = NULL, retry_at_ms = NULL WHERE request_id = ?",
                        [SUBMITTED, request.encryption_key, now, request_id],
                    )
            row = db.execute(
                "SELECT * FROM exhaust_jobs WHERE request_id = ?", [request_id]
            ).fetchone()
        return _job(row), created

    def get(self, request_id: str) -> Job | None:
        row = (
            self._connection()
            .execute("SELECT * FROM exhaust_jobs WHERE request_id = ?", [request_id])
            .fetchone()
        )
        return _job(row) if row is not None else None

    def find(self, tag: str, request_id: str, channel: str | None = None) -> Job | None:
        """The job ``request_id`` if it has ``tag`` (the tag as submitted, or ``tag:channel``)."""
        job = self.get(request_id)
        if job is None or not _tag_matches(job.tag, tag, channel):
            return None
        return job

    def for_tag(self, tag: str, limit: int, channel: str | None = None) -> list[Job]:
        """The newest ``limit`` jobs with ``tag``."""
        rows = (
            self._connection()
            .execute(
                "SELECT * FROM exhaust_jobs WHERE tag = ? OR substr(tag, 1, ?) = ? "
                "ORDER BY submitted_ms DESC, request_id",
                [tag, len(tag) + 1, f"{tag}:"],
            )
            .fetchall()
        )
        jobs = [_job(row) for row in rows]
        return [job for job in jobs if _tag_matches(job.tag, tag, channel)][:limit]

    def tag_exists(self, tag: str, channel: str | None = None) -> bool:
        return bool(self.for_tag(tag, 1, channel))

    # --- the runner's side ----------------------------------------------------------------

    def claim(self, holder: str | None = None, *, retries_only: bool = False) -> Job | None:
        """Take the oldest submitted job (attempt + 1) after putting back jobs whose runner
        died, leaving those waiting to retry until their time; only jobs tried before with
        ``retries_only``. None when there is nothing to do."""
        holder = holder or holder_id()
        now = self.clock()
        with self._transaction() as db:
            self._recover(db, now)
            row = db.execute(
                "SELECT request_id FROM exhaust_jobs WHERE status = ? "
                "AND (retry_at_ms IS NULL OR retry_at_ms <= ?) AND (? = 0 OR attempts > 0) "
                "ORDER BY submitted_ms, request_id LIMIT 1",
                [SUBMITTED, now, int(retries_only)],
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE exhaust_jobs SET status = ?, attempts = attempts + 1, holder = ?, "
                "lease_until_ms = ?, updated_ms = ?, retry_at_ms = NULL WHERE request_id = ?",
                [PROCESSING, holder, now + self.lease_ms, now, row["request_id"]],
            )
            claimed = db.execute(
                "SELECT * FROM exhaust_jobs WHERE request_id = ?", [row["request_id"]]
            ).fetchone()
        return _job(claimed)

    def renew(self, request_id: str, holder: str) -> bool:
        """Extend the lease of a job ``holder`` still holds (a runner at work on it); False
        when it holds it no longer."""
        with self._transaction() as db:
            renewed = db.execute(
                "UPDATE exhaust_jobs SET lease_until_ms = ? "
                "WHERE request_id = ? AND status = ? AND holder = ?",
                [self.clock() + self.lease_ms, request_id, PROCESSING, holder],
            )
            return renewed.rowcount == 1

    def progress(self, request_id: str, holder: str, message: str) -> bool:
        """Say how a job ``holder`` still holds is getting on (its ``statusMessage`` while
        PROCESSING); False when it holds it no longer."""
        with self._transaction() as db:
            said = db.execute(
                "UPDATE exhaust_jobs SET status_message = ? "
                "WHERE request_id = ? AND status = ? AND holder = ?",
                [message, request_id, PROCESSING, holder],
            )
            return said.rowcount == 1

    def retry_now(self, request_id: str) -> Job:
        """A job waiting to retry after a failed attempt, made due now (the operator's "retry
        now": the store or network is back before the wait is over); the runner takes it at
        its next look, which ``serve`` makes at once. ``NotWaiting`` for a job that is not
        waiting (KeyError for none)."""
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM exhaust_jobs WHERE request_id = ?", [request_id]
            ).fetchone()
            if row is None:
                raise KeyError(request_id)
            job = _job(row)
            if job.status != SUBMITTED or job.retry_at_ms is None:
                raise NotWaiting(job)
            if job.retry_at_ms > now:
                # "retrying at <then>, attempt N of 3, last error: ..." says when it runs.
                message = job.status_message.replace(
                    f"retrying at {_utc(job.retry_at_ms)}",
                    f"retrying now (asked at {_utc(now)})",
                    1,
                )
                db.execute(
                    "UPDATE exhaust_jobs SET retry_at_ms = ?, status_message = ?, updated_ms = ? "
                    "WHERE request_id = ?",
                    [now, message, now, request_id],
                )
            row = db.execute(
                "SELECT * FROM exhaust_jobs WHERE request_id = ?", [request_id]
            ).fetchone()
        return _job(row)

    def next_retry_ms(self) -> int | None:
        """When the first job waiting after a failed attempt may be tried again (epoch ms)."""
        row = (
            self._connection()
            .execute("SELECT min(retry_at_ms) FROM exhaust_jobs WHERE status = ?", [SUBMITTED])
            .fetchone()
        )
        return int(row[0]) if row is not None and row[0] is not None else None

    def recover(self) -> int:
        """Put back (or fail) jobs whose runner died; how many."""
        with self._transaction() as db:
            return self._recover(db, self.clock())

    def _recover(self, db: sqlite3.Connection, now: int) -> int:
        stuck = db.execute(
            "SELECT request_id, attempts, holder, lease_until_ms FROM exhaust_jobs "
            "WHERE status = ?",
            [PROCESSING],
        ).fetchall()
        recovered = 0
        for row in stuck:
            expired = (row["lease_until_ms"] or 0) < now
            if not expired and not _holder_gone(row["holder"]):
                continue
            recovered += 1
            if row["attempts"] >= MAX_ATTEMPTS:
                db.execute(
                    "UPDATE exhaust_jobs SET status = ?, status_message = ?, holder = NULL, "
                    "lease_until_ms = NULL, encryption_key = NULL, updated_ms = ? "
                    "WHERE request_id = ?",
                    [
                        FAILED,
                        f"stopped before finishing {row['attempts']} times; not tried again",
                        now,
                        row["request_id"],
                    ],
                )
            else:
                # Not the dead attempt's progress, which would read as if it were still going.
                db.execute(
                    "UPDATE exhaust_jobs SET status = ?, status_message = ?, holder = NULL, "
                    "lease_until_ms = NULL, updated_ms = ? WHERE request_id = ?",
                    [
                        SUBMITTED,
                        f"attempt {row['attempts']} stopped before finishing; it is tried again",
                        now,
                        row["request_id"],
                    ],
                )
        return recovered

    def succeed(
        self,
        request_id: str,
        files: list[str],
        rows: int,
        started_ms: int,
        *,
        holder: str | None = None,
        message: str = "",
    ) -> Job | None:
        """The job done, ``message`` its statusMessage (what the file's reader must know);
        None when ``holder`` (if given) no longer holds it."""
        now = self.clock()
        with self._transaction() as db:
            done = db.execute(
                "UPDATE exhaust_jobs SET status = ?, status_message = ?, files = ?, rows = ?, "
                "completed_ms = ?, execution_ms = ?, updated_ms = ?, holder = NULL, "
                "lease_until_ms = NULL, encryption_key = NULL WHERE request_id = ?" + _HELD,
                [
                    SUCCESS,
                    message,
                    json.dumps(files),
                    rows,
                    now,
                    now - started_ms,
                    now,
                    request_id,
                    *_held(holder),
                ],
            )
            if done.rowcount != 1:
                return None
        return self.get(request_id)

    def fail(
        self, request_id: str, message: str, *, retry: bool, holder: str | None = None
    ) -> Job | None:
        """A failed attempt: submitted again while attempts remain (``retry``), to be tried
        after its delay (the statusMessage says when, and ``message`` as the last error),
        else FAILED; None when ``holder`` (if given) no longer holds the job."""
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT attempts FROM exhaust_jobs WHERE request_id = ?" + _HELD,
                [request_id, *_held(holder)],
            ).fetchone()
            if row is None:
                return None
            attempts = row["attempts"]
            if retry and attempts < MAX_ATTEMPTS:
                delays = self.retry_delays_ms or [0]
                retry_at = now + delays[min(attempts, len(delays)) - 1]
                waiting = (
                    f"retrying at {_utc(retry_at)}, attempt {attempts + 1} of {MAX_ATTEMPTS}, "
                    f"last error: {message}"
                )
                db.execute(
                    "UPDATE exhaust_jobs SET status = ?, status_message = ?, holder = NULL, "
                    "lease_until_ms = NULL, updated_ms = ?, retry_at_ms = ? "
                    "WHERE request_id = ?",
                    [SUBMITTED, waiting, now, retry_at, request_id],
                )
            else:
                db.execute(
                    "UPDATE exhaust_jobs SET status = ?, status_message = ?, completed_ms = ?, "
                    "holder = NULL, lease_until_ms = NULL, encryption_key = NULL, "
                    "updated_ms = ? WHERE request_id = ?",
                    [FAILED, message, now, now, request_id],
                )
        return self.get(request_id)

    # --- audit ----------------------------------------------------------------------------

    def audit(self, record: AuditRecord) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO exhaust_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.time_ms,
                    record.action,
                    record.request_id,
                    record.dataset,
                    record.tag,
                    record.file,
                    record.client,
                    record.outcome,
                ],
            )

    def audit_trail(self, request_id: str | None = None, limit: int = 100) -> list[AuditRecord]:
        rows = (
            self._connection()
            .execute(
                "SELECT * FROM exhaust_audit WHERE (? IS NULL OR request_id = ?) "
                "ORDER BY time_ms DESC, rowid DESC LIMIT ?",
                [request_id, request_id, limit],
            )
            .fetchall()
        )
        return [AuditRecord(*tuple(row)) for row in rows]


@dataclass(frozen=True)
class Difference:
    """A parameter of a request that differs from the job with its id."""

    field: str
    there: str
    here: str

    def __str__(self) -> str:
        return f"{self.field} is {self.there} there, {self.here} here"


class NotWaiting(Exception):
    """A job asked to retry now that is not waiting to retry: what it is instead."""

    def __init__(self, job: Job):
        self.job = job
        if job.status == SUBMITTED:
            said = (
                "it is SUBMITTED for its first attempt, which the next run takes "
                "(POST /api/exhaust/run or `bot-telemetry exhaust run` runs it now)"
            )
        elif job.status == PROCESSING:
            said = f"it is PROCESSING (attempt {job.attempts} is running)"
        elif job.status == FAILED:
            said = "it is FAILED: submit the same request again to start it afresh"
        else:
            said = f"it is {job.status}"
        super().__init__(f"job {job.request_id!r} is not waiting to retry: {said}")


class JobConflict(Exception):
    """A request whose id (dataset, tag, requestedBy, requestedChannel, day, type) is an
    existing job's, with other parameters: returning that job would answer another question."""

    def __init__(self, job: Job, found: list[Difference]):
        super().__init__(", ".join(str(d) for d in found))
        self.job = job
        self.differences = found


def differences(job: Job, request: ExhaustRequest) -> list[Difference]:
    """What ``request`` asks otherwise than ``job`` did (the fields its id leaves out). The
    encryption key is compared while the job holds it (until it ends); after that only
    whether there is one (a finished job's file is a ZIP or not); never shown."""
    found: list[Difference] = []
    asked = request.config.as_json()
    for key, value in asked.items():
        before = job.dataset_config.get(key)
        if before != value:
            found.append(Difference(f"request.datasetConfig.{key}", repr(before), repr(value)))
    if job.output_format != request.output_format:
        found.append(
            Difference(
                "request.output_format", repr(job.output_format), repr(request.output_format)
            )
        )
    had_key: bool | None = None
    if job.status in (SUBMITTED, PROCESSING):
        had_key = job.encryption_key is not None
    elif job.status == SUCCESS:
        had_key = any(name.endswith(".zip") for name in job.files)
    # FAILED: the job starts again with this request's key, whatever it had.
    if had_key is not None and had_key != (request.encryption_key is not None):
        found.append(
            Difference(
                "request.encryptionKey",
                "given" if had_key else "absent",
                "given" if request.encryption_key is not None else "absent",
            )
        )
    elif (
        job.encryption_key is not None
        and request.encryption_key is not None
        and not hmac.compare_digest(job.encryption_key.encode(), request.encryption_key.encode())
    ):
        found.append(Difference("request.encryptionKey", "one key", "another"))
    return found


#: The condition that the holder given still holds the job (``_held`` gives its values).
_HELD: Final = " AND (? IS NULL OR (status = 'PROCESSING' AND holder = ?))"


def _held(holder: str | None) -> list[str | None]:
    return [holder, holder]


def _utc(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_ms / 1000))


def _tag_matches(stored: str, tag: str, channel: str | None) -> bool:
    if channel:
        return stored == f"{tag}:{channel}"
    return stored == tag or stored.startswith(f"{tag}:")


def _job(row: sqlite3.Row) -> Job:
    return Job(
        request_id=row["request_id"],
        tag=row["tag"],
        dataset=row["dataset"],
        requested_by=row["requested_by"],
        requested_channel=row["requested_channel"],
        dataset_config=json.loads(row["dataset_config"]),
        output_format=row["output_format"],
        encryption_key=row["encryption_key"],
        status=row["status"],
        status_message=row["status_message"],
        attempts=row["attempts"],
        submitted_ms=row["submitted_ms"],
        updated_ms=row["updated_ms"],
        completed_ms=row["completed_ms"],
        execution_ms=row["execution_ms"],
        files=json.loads(row["files"]),
        rows=row["rows"],
        retry_at_ms=row["retry_at_ms"],
    )


__all__ = [
    "FAILED",
    "MAX_ATTEMPTS",
    "PROCESSING",
    "RETRY_DELAYS_SECONDS",
    "SUBMITTED",
    "SUCCESS",
    "AuditRecord",
    "Difference",
    "Job",
    "JobConflict",
    "JobStore",
    "JobsFileError",
    "NotWaiting",
    "differences",
    "holder_id",
    "now_ms",
]
