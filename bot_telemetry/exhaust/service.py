"""The data exhaust service: UCI's three API calls over the jobs, the runner and the files.

    exhaust = Exhaust(engine, ExhaustSettings(folder=Path(".bot-telemetry/exhaust")))
    status, answer = exhaust.submit(body, base_url=...)      # 200 and the envelope
    status, answer = exhaust.read(tag, request_id, base_url=...)
    status, answer = exhaust.list_jobs(tag, limit, base_url=...)
    exhaust.run_pending()

What is kept in the exhaust folder (next to the store by default; name it with
``--exhaust-dir`` when the telemetry is in ClickHouse):

* ``jobs.sqlite3``: the jobs and the audit trail of downloads (``exhaust.jobs``);
* ``files/``: finished files, when they are not sent to Azure Blob Storage;
* ``tmp/``: attempts being written (cleared by the next attempt);
* ``link.key``: the key signing download links (unless ``BOT_TELEMETRY_EXHAUST_SECRET``).

A folder it creates is its user's only (mode 0700); one that exists keeps its mode.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..privacy import IdentityVault
from ..store.engine import Engine
from . import envelope
from .destinations import AzureBlobFolder, Destination, LinkSigner, LocalFolder
from .jobs import SUCCESS, AuditRecord, Job, JobConflict, JobStore, NotWaiting, now_ms
from .requests import RequestError, parse_submit
from .runner import Runner

BLOB_ENV: Final = "BOT_TELEMETRY_EXHAUST_BLOB"
DEFAULT_EXPIRY_SECONDS: Final = 30 * 60
MAX_LIST: Final = 1000


@dataclass(frozen=True)
class ExhaustSettings:
    folder: Path
    #: How long a download link works after each read (UCI's default: 30 minutes).
    expiry_seconds: float = DEFAULT_EXPIRY_SECONDS
    #: An Azure Blob Storage connection string: files go there instead of ``files/``.
    blob_connection_string: str | None = None
    blob_container: str = "exhausts"
    lease_seconds: float = 600.0

    @classmethod
    def beside(
        cls, store: Path | None, folder: Path | None = None, **options: Any
    ) -> ExhaustSettings:
        """Settings for a store: the folder ``exhaust/`` next to the store file unless
        ``folder`` is given; the Blob connection string from ``BOT_TELEMETRY_EXHAUST_BLOB``."""
        if folder is None:
            base = store.parent if store is not None else Path(".bot-telemetry")
            folder = base / "exhaust"
        options.setdefault("blob_connection_string", os.environ.get(BLOB_ENV) or None)
        return cls(folder=Path(folder), **options)


class Exhaust:
    def __init__(
        self,
        engine: Engine | None,
        settings: ExhaustSettings,
        vault: IdentityVault | None = None,
    ):
        self.engine = engine
        self.settings = settings
        self.vault = vault if vault is not None else IdentityVault.from_environment()
        # Its own user's only, as the client journal: the files are people's answers (and
        # user ids), jobs.sqlite3 holds a pending private export's password. Under the
        # usual umask (022) they were readable by every user of the machine.
        settings.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.jobs = JobStore(settings.folder / "jobs.sqlite3", lease_seconds=settings.lease_seconds)
        self.local: LocalFolder | None = None
        self.destination: Destination
        if settings.blob_connection_string:
            self.destination = AzureBlobFolder(
                settings.blob_connection_string, settings.blob_container
            )
        else:
            signer = LinkSigner.for_folder(settings.folder)
            self.local = LocalFolder(settings.folder / "files", signer)
            self.destination = self.local
        # No engine: the API only (submit, read, list), e.g. a shell while serve holds the store.
        self.runner = (
            Runner(engine, self.jobs, self.destination, self.vault, settings.folder / "tmp")
            if engine is not None
            else None
        )
        self._run_lock = threading.Lock()

    # --- the API ----------------------------------------------------------------------

    def submit(self, body: Any, *, base_url: str, client: str = "") -> tuple[int, dict[str, Any]]:
        """A new job, or the job this request already is (as read answers it: a finished
        one with fresh links); 400 for a bad request, 409 when the job with its id was asked
        with other parameters."""
        try:
            request = parse_submit(body)
        except RequestError as error:
            return error.status, envelope.error(envelope.SUBMIT_ID, error.field, _message(error))
        request_id = request.request_id(dt.datetime.now(dt.UTC).date())
        try:
            job, _ = self.jobs.submit(request, request_id)
        except JobConflict as conflict:
            return 409, _conflict(conflict)
        expires = self._expires()
        urls = self.links(job, expires, base_url, client)
        return 200, envelope.ok(
            envelope.SUBMIT_ID, envelope.job_result(job, urls, expires, with_message=False)
        )

    def read(
        self,
        tag: str,
        request_id: str | None,
        *,
        base_url: str,
        channel: str | None = None,
        client: str = "",
    ) -> tuple[int, dict[str, Any]]:
        if not request_id:
            return 400, envelope.error(
                envelope.READ_ID, "requestId", "is missing: expected the id submit returned"
            )
        job = self.jobs.find(tag, request_id, channel)
        if job is None:
            return self._not_found(envelope.READ_ID, tag, request_id, channel)
        expires = self._expires()
        urls = self.links(job, expires, base_url, client)
        return 200, envelope.ok(envelope.READ_ID, envelope.job_result(job, urls, expires))

    def retry(
        self, tag: str, request_id: str | None, *, channel: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The operator's "retry now": a job waiting to retry after a failed attempt is made
        due at once (the runner takes it at its next look; ``serve`` wakes it), answered as
        read answers; 409 for a job that is not waiting, naming what it is instead."""
        if not request_id:
            return 400, envelope.error(
                envelope.RETRY_ID, "requestId", "is missing: expected the id submit returned"
            )
        job = self.jobs.find(tag, request_id, channel)
        if job is None:
            return self._not_found(envelope.RETRY_ID, tag, request_id, channel)
        try:
            job = self.jobs.retry_now(job.request_id)
        except NotWaiting as waiting:
            return 409, envelope.error(envelope.RETRY_ID, "requestId", str(waiting), "CONFLICT")
        return 200, envelope.ok(envelope.RETRY_ID, envelope.job_result(job, [], self._expires()))

    def _not_found(
        self, api_id: str, tag: str, request_id: str, channel: str | None
    ) -> tuple[int, dict[str, Any]]:
        field, message = (
            ("tag", f"no job has the tag {tag!r}")
            if not self.jobs.tag_exists(tag, channel)
            else ("requestId", f"no job {request_id!r} has the tag {tag!r}")
        )
        return 404, envelope.error(api_id, field, message, "RESOURCE_NOT_FOUND")

    def list_jobs(
        self,
        tag: str,
        limit: str | int | None,
        *,
        base_url: str,
        channel: str | None = None,
        client: str = "",
    ) -> tuple[int, dict[str, Any]]:
        try:
            count = int(limit) if limit not in (None, "") else 10
            if not 1 <= count <= MAX_LIST:
                raise ValueError(count)
        except ValueError:
            return 400, envelope.error(
                envelope.LIST_ID, "limit", f"expected a number from 1 to {MAX_LIST}, got {limit!r}"
            )
        jobs = self.jobs.for_tag(tag, count, channel)
        if not jobs:
            return 404, envelope.error(
                envelope.LIST_ID, "tag", f"no job has the tag {tag!r}", "RESOURCE_NOT_FOUND"
            )
        expires = self._expires()
        found = [
            envelope.job_result(job, self.links(job, expires, base_url, client), expires)
            for job in jobs
        ]
        return 200, envelope.ok(envelope.LIST_ID, {"count": len(found), "jobs": found})

    def links(self, job: Job, expires_ms: int, base_url: str, client: str = "") -> list[str]:
        """Fresh links to a finished job's files (signed again on every read). With Azure
        Blob Storage the link is the download, so handing it out is what the audit records."""
        if job.status != SUCCESS:
            return []
        urls = [self.destination.url(name, expires_ms, base_url) for name in job.files]
        if self.local is None:
            for name in job.files:
                self.audit("link", job, name, client, "issued")
        return urls

    # --- jobs ---------------------------------------------------------------------------

    def run_pending(self, limit: int | None = None, *, retries_only: bool = False) -> list[Job]:
        """Run every submitted job now (one runner at a time in this process), except those
        waiting to retry after a failed attempt, whose time has not come."""
        if self.runner is None:
            raise RuntimeError("this exhaust service has no store to read: give it an engine")
        with self._run_lock:
            return self.runner.run_pending(limit, retries_only=retries_only)

    def audit(self, action: str, job: Job, name: str, client: str, outcome: str) -> AuditRecord:
        record = AuditRecord(
            now_ms(), action, job.request_id, job.dataset, job.tag, name, client, outcome
        )
        self.jobs.audit(record)
        return record

    def audit_file(
        self, action: str, job: Job | None, name: str, client: str, outcome: str
    ) -> AuditRecord:
        """``audit`` for a file named in a link, whether or not it is a job's (a forged link
        is recorded as refused either way, under the dataset and request id its name gives)."""
        if job is not None:
            return self.audit(action, job, name, client, outcome)
        parts = name.split("/")
        dataset, request_id = (parts[0], parts[1]) if len(parts) == 3 else ("", "")
        record = AuditRecord(now_ms(), action, request_id, dataset, "", name, client, outcome)
        self.jobs.audit(record)
        return record

    def expired_link(
        self, job: Job | None, expired_at_s: int, base_url: str
    ) -> tuple[int, dict[str, Any]]:
        """The answer to a genuine link past its time (410 Gone): when it expired, and where
        a fresh one is (each read of the job signs new links)."""
        moment = dt.datetime.fromtimestamp(expired_at_s, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        minutes = self.settings.expiry_seconds / 60
        lasting = f"{minutes:g} minutes" if minutes != 1 else "1 minute"
        if job is not None:
            tag = _asked_tag(job)
            fresh = (
                f"open {base_url.rstrip('/')}/#/exhausts/{urllib.parse.quote(tag, safe='')} "
                f"or run `bot-telemetry exhaust status {shlex.quote(tag)} {job.request_id}` "
                f"(or GET /dataset/v1/request/read/{tag}?requestId={job.request_id})"
            )
        else:
            fresh = (
                f"open {base_url.rstrip('/')}/#/exhausts and look up the job's tag, or run "
                "`bot-telemetry exhaust status TAG REQUEST_ID`"
            )
        message = (
            f"the link expired at {moment} (links last {lasting} from the read that signed "
            f"them); for a fresh link, {fresh}"
        )
        return 410, envelope.error(envelope.DOWNLOAD_ID, "expires", message, err="LINK_EXPIRED")

    def job_for_file(self, name: str) -> Job | None:
        """The job a file name belongs to (``<dataset>/<request id>/<file>``)."""
        parts = name.split("/")
        if len(parts) != 3:
            return None
        job = self.jobs.get(parts[1])
        return job if job is not None and name in job.files else None

    def _expires(self) -> int:
        return now_ms() + int(self.settings.expiry_seconds * 1000)

    def close(self) -> None:
        self.jobs.close()


def ran(done: list[Job]) -> dict[str, Any]:
    """What running the submitted jobs answers (``POST /api/exhaust/run`` and
    ``bot-telemetry exhaust run``, on the store or through serve): each job as it ended, its
    message under read's name for it, ``statusMessage``."""
    return {
        "ran": [
            {"requestId": job.request_id, "status": job.status, "statusMessage": job.status_message}
            for job in done
        ]
    }


def _conflict(conflict: JobConflict) -> dict[str, Any]:
    first, *_ = conflict.differences
    job = conflict.job
    return envelope.error(
        envelope.SUBMIT_ID,
        first.field,
        f"differs from job {job.request_id!r}, which has this request's id (the same dataset, "
        f"tag, requestedBy, requestedChannel, type and day) and is {job.status}: "
        + "; ".join(str(d) for d in conflict.differences)
        + ". Read that job as it is, or submit these parameters with another tag",
        err="CONFLICT",
    )


def _asked_tag(job: Job) -> str:
    """The tag as the requester gave it (stored as ``tag:channel``)."""
    suffix = f":{job.requested_channel}"
    return job.tag[: -len(suffix)] if job.tag.endswith(suffix) else job.tag


def _message(error: RequestError) -> str:
    text = str(error)
    prefix = f"{error.field}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


__all__ = ["BLOB_ENV", "DEFAULT_EXPIRY_SECONDS", "Exhaust", "ExhaustSettings", "ran"]
