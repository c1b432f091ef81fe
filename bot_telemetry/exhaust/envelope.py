"""Sunbird's API envelope, as UCI's data exhaust API answers:

    {"id": "ekstep.analytics.dataset.request.submit", "ver": "1.0", "ts": "...",
     "params": {"resmsgid": "...", "status": "successful", "client_key": null},
     "responseCode": "OK", "result": {...}}

Errors: ``responseCode`` ``CLIENT_ERROR``, ``params.status`` ``failed``, ``params.err`` a
code and ``params.errmsg`` naming the field and what was expected; ``result`` empty.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

from .jobs import Job

SUBMIT_ID: Final = "ekstep.analytics.dataset.request.submit"
READ_ID: Final = "ekstep.analytics.dataset.request.info"
LIST_ID: Final = "ekstep.analytics.dataset.request.list"
#: Our download route's (UCI's API has none: its links go to cloud storage).
DOWNLOAD_ID: Final = "bot-telemetry.exhaust.download"
#: Our "retry now" route's (``POST /api/exhaust/retry/{tag}``).
RETRY_ID: Final = "bot-telemetry.exhaust.retry"
VERSION: Final = "1.0"


def _ts() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+00:00"


def ok(api_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": api_id,
        "ver": VERSION,
        "ts": _ts(),
        "params": {"resmsgid": str(uuid.uuid4()), "status": "successful", "client_key": None},
        "responseCode": "OK",
        "result": result,
    }


def error(
    api_id: str,
    field: str,
    message: str,
    err: str = "INVALID_REQUEST",
    code: str = "CLIENT_ERROR",
) -> dict[str, Any]:
    """An error answer; ``errmsg`` starts with the field (``err``: INVALID_REQUEST,
    RESOURCE_NOT_FOUND, CONFLICT, LINK_EXPIRED)."""
    return {
        "id": api_id,
        "ver": VERSION,
        "ts": _ts(),
        "params": {
            "resmsgid": str(uuid.uuid4()),
            "status": "failed",
            "client_key": None,
            "err": err,
            "errmsg": f"{field}: {message}",
        },
        "responseCode": code,
        "result": {},
    }


def job_result(
    job: Job, download_urls: list[str], expires_ms: int, *, with_message: bool = True
) -> dict[str, Any]:
    """A job as UCI's ``result`` (submit leaves ``statusMessage`` out, as UCI does)."""
    result: dict[str, Any] = {
        "attempts": job.attempts,
        "lastUpdated": job.updated_ms,
        "tag": job.tag,
        "expiresAt": expires_ms,
        "datasetConfig": job.dataset_config,
        "downloadUrls": download_urls,
        "requestedBy": job.requested_by,
        "jobStats": {
            "dtJobSubmitted": job.submitted_ms,
            "dtJobCompleted": job.completed_ms,
            "executionTime": job.execution_ms,
        },
        "status": job.status,
        "dataset": job.dataset,
        "requestId": job.request_id,
        "requestedChannel": job.requested_channel,
    }
    if with_message:
        result["statusMessage"] = job.status_message
        # Ours, beside UCI's fields: when a job waiting after a failed attempt is tried
        # again (epoch ms; null otherwise), so a page can offer to retry it now.
        result["retryAt"] = job.retry_at_ms
    return result


__all__ = [
    "DOWNLOAD_ID",
    "LIST_ID",
    "READ_ID",
    "RETRY_ID",
    "SUBMIT_ID",
    "error",
    "job_result",
    "ok",
]
