"""Running exhaust jobs: claim, query the model, write the file, put it in place.

    runner = Runner(engine, jobs, destination, vault, work=folder / "tmp")
    runner.run_pending()            # every submitted job, one after the other

Each attempt writes under ``tmp/<request id>.<attempt>/`` and only a finished file is moved
(or uploaded) to its name, so a runner that dies midway leaves nothing a link could serve;
the next attempt clears what it left. A query or write that fails is retried (at most
``MAX_ATTEMPTS`` attempts, after a growing delay: ``RETRY_DELAYS_SECONDS``); a window with no
answers (or users) fails at once with ``No data found``, as UCI's job does.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..privacy import IdentityVault
from ..store.engine import Engine
from . import files, queries
from .destinations import Destination
from .jobs import Job, JobStore, holder_id, now_ms
from .requests import PRIVATE_EXHAUST, RESPONSE_EXHAUST, DatasetConfig

_log = logging.getLogger(__name__)
NO_DATA = "No data found"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class NoData(Exception):
    """The window holds nothing to export."""


@dataclass(frozen=True)
class Produced:
    name: str
    rows: int
    #: What the analyst must know about the file (its job's statusMessage on success).
    note: str = ""


def file_name(job: Job) -> str:
    """``<dataset>/<request id>/<bot>_<response|private>_<yyyyMMdd>.<csv|zip>``, as UCI names
    its files (the date is the job's submission day)."""
    kind = "private" if job.dataset == PRIVATE_EXHAUST else "response"
    day = time.strftime("%Y%m%d", time.gmtime(job.submitted_ms / 1000))
    bot = _UNSAFE.sub("_", job.conversation_id) or "bot"
    extension = "zip" if job.encryption_key else "csv"
    return f"{job.dataset}/{job.request_id}/{bot}_{kind}_{day}.{extension}"


class Runner:
    def __init__(
        self,
        engine: Engine,
        jobs: JobStore,
        destination: Destination,
        vault: IdentityVault | None,
        work: Path,
        *,
        batch_rows: int = 10_000,
    ):
        self.engine = engine
        self.jobs = jobs
        self.destination = destination
        self.vault = vault
        self.work = Path(work)
        self.batch_rows = batch_rows

    def run_pending(self, limit: int | None = None, *, retries_only: bool = False) -> list[Job]:
        """Run submitted jobs until none is left (or ``limit``), only those tried before
        with ``retries_only``; the jobs as they ended. A job waiting to retry after a failed
        attempt is left until its time (a failed attempt is among the jobs returned, waiting)."""
        done: list[Job] = []
        holder = holder_id()
        while limit is None or len(done) < limit:
            job = self.jobs.claim(holder, retries_only=retries_only)
            if job is None:
                break
            ended = self.run(job, holder)
            if ended is not None:
                done.append(ended)
        return done

    def run(self, job: Job, holder: str | None = None) -> Job | None:
        """One attempt at a job claimed by ``holder`` (this process by default); None when
        the attempt lost the job to another runner before it ended."""
        holder = holder or holder_id()
        started = now_ms()
        attempt_dir = self.work / f"{job.request_id}.{job.attempts}"
        self._clear(job.request_id)
        ended = threading.Event()
        keeping = threading.Thread(
            target=self._keep_lease,
            args=(job.request_id, holder, ended),
            name="bot-telemetry-exhaust-lease",
            daemon=True,
        )
        keeping.start()
        try:
            attempt_dir.mkdir(parents=True)
            produced = self.produce(job, attempt_dir, _Progress(self.jobs, job.request_id, holder))
        except NoData:
            return self.jobs.fail(job.request_id, NO_DATA, retry=False, holder=holder)
        except Exception as error:
            _log.exception("exhaust job %s failed (attempt %d)", job.request_id, job.attempts)
            message = f"{type(error).__name__}: {error}"
            return self.jobs.fail(job.request_id, message, retry=True, holder=holder)
        finally:
            ended.set()
            keeping.join()
            shutil.rmtree(attempt_dir, ignore_errors=True)
        return self.jobs.succeed(
            job.request_id,
            [produced.name],
            produced.rows,
            started,
            holder=holder,
            message=produced.note,
        )

    def _keep_lease(self, request_id: str, holder: str, ended: threading.Event) -> None:
        """Renew the job's lease while the attempt works (a third of the lease apart), so a
        job that takes longer than its lease is not taken by another runner."""
        interval = self.jobs.lease_ms / 3000
        if interval <= 0:
            return
        while not ended.wait(interval):
            if not self.jobs.renew(request_id, holder):
                _log.warning("exhaust job %s was taken by another runner", request_id)
                return

    def produce(
        self, job: Job, directory: Path, progress: Callable[[int], None] | None = None
    ) -> Produced:
        """Write the job's file under ``directory`` and put it in place; ``progress`` is told
        the rows written so far."""
        config = DatasetConfig(
            job.dataset_config["type"],
            job.dataset_config["conversationId"],
            _date(job.dataset_config["startDate"]),
            _date(job.dataset_config["endDate"]),
        )
        start, end = config.bounds_ns
        bot = config.conversation_id
        values = {"bot": bot, "start": start, "end": end}
        csv_path = directory / Path(file_name(job)).with_suffix(".csv").name
        note = ""
        if job.dataset == RESPONSE_EXHAUST:
            batches = self.engine.stream(queries.RESPONSES.sql, values, batch_rows=self.batch_rows)
            rows = files.write_csv(
                csv_path, files.RESPONSE_HEADERS, files.response_rows(batches), progress
            )
        else:
            undecrypted = [0]
            batches = self.engine.stream(queries.USERS.sql, values, batch_rows=self.batch_rows)
            rows = files.write_csv(
                csv_path,
                files.PRIVATE_HEADERS,
                files.private_rows(batches, bot, self.vault, undecrypted),
                progress,
            )
            note = _vault_note(self.vault, undecrypted[0])
            if note:
                # In the job's statusMessage too: the file alone does not show that a
                # "Decrypted Device ID" is a pseudonymous id, and the analyst never sees logs.
                _log.warning("exhaust job %s: %s", job.request_id, note)
        if rows == 0:
            raise NoData()
        if progress is not None:
            progress(rows)  # the whole count, whatever the last batch's timing
        final = csv_path
        if job.encryption_key:
            final = directory / Path(file_name(job)).name
            files.encrypted_zip(csv_path, final, job.encryption_key)
        name = file_name(job)
        self.destination.put(final, name)
        return Produced(name, rows, note)

    def _clear(self, request_id: str) -> None:
        # What an earlier attempt that died left behind.
        for left in self.work.glob(f"{request_id}.*"):
            shutil.rmtree(left, ignore_errors=True)


class _Progress:
    """Tells the jobs file how many rows an attempt has written: after its first batch, then
    at most once a second (one SQLite write, not one per 10,000 rows), and at the end."""

    def __init__(self, jobs: JobStore, request_id: str, holder: str) -> None:
        self.jobs = jobs
        self.request_id = request_id
        self.holder = holder
        self._said_at: float | None = None
        self._rows = 0

    def __call__(self, rows: int) -> None:
        # The same count again is the end (produce repeats write_csv's last): said whatever
        # the time, so the final count is never one a throttle skipped.
        now = time.monotonic()
        if rows == self._rows or self._said_at is None or now - self._said_at >= 1.0:
            self._said_at = now
            self.jobs.progress(self.request_id, self.holder, f"{rows:,} rows written")
        self._rows = rows


def _vault_note(vault: IdentityVault | None, undecrypted: int) -> str:
    """Why a private file's Decrypted Device IDs are pseudonymous ids where consent stands;
    "" when the vault opened every token."""
    if vault is None:
        return (
            "no vault key on this collector (BOT_TELEMETRY_VAULT_KEYS is not set): Decrypted "
            "Device ID is the pseudonymous id for every user, consenting ones included; set the "
            "bots' key on serve (or exhaust run) and submit again"
        )
    if undecrypted:
        users = "user's id was" if undecrypted == 1 else "users' ids were"
        return (
            f"{undecrypted} consenting {users} encrypted with a key the vault lacks: their "
            "Decrypted Device ID is the pseudonymous id; add that key to BOT_TELEMETRY_VAULT_KEYS "
            "and submit again"
        )
    return ""


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


__all__ = ["NO_DATA", "NoData", "Produced", "Runner", "file_name"]
