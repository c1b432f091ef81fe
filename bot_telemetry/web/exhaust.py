"""Sunbird UCI's data exhaust API on ``serve``, and the downloads of its files.

    POST /dataset/v1/request/submit
    GET  /dataset/v1/request/read/{tag}?requestId=...
    GET  /dataset/v1/request/list/{tag}?limit=N
    GET  /dataset/v1/download/{file}?expires=...&signature=...   (files in the local folder)
    POST /api/exhaust/run                                           (run submitted jobs now)
    POST /api/exhaust/retry/{tag}?requestId=...                     (a waiting retry, now)

``X-Channel-ID`` narrows read and list to one channel's jobs (the stored tag is
``tag:channel``). The guard of every route applies (loopback host names, the token when
set). A private exhaust is never served without the token, even on loopback. Every download
(served or refused) is recorded in the jobs file's audit trail and, when ``serve`` stores
telemetry, as an ``ExhaustDownloaded`` event.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from .. import contract
from ..exhaust import envelope
from ..exhaust.jobs import AuditRecord
from ..exhaust.requests import PRIVATE_EXHAUST
from ..exhaust.schedule import Schedule, Scheduler
from ..exhaust.service import Exhaust, ExhaustSettings, ran
from ..store.engine import Engine
from ..store.rows import LOG_COLUMNS, Batch, to_json
from ..store.writer import StoreWriter
from .config import ServerConfig
from .routes import BodyTooLarge, json_body

T = TypeVar("T")
EXHAUST_KEY = web.AppKey("exhaust", Exhaust)
AUDIT_SERVICE = "bot-telemetry"
AUDIT_SCOPE = "bot_telemetry.exhaust"


def add_exhaust(
    app: web.Application, config: ServerConfig, engine: Engine, writer: StoreWriter | None
) -> Exhaust:
    """The exhaust service for ``serve``'s configuration: its folder (next to the store unless
    ``exhaust_dir``), its runner's schedule, its routes."""
    store = config.store if isinstance(config.store, Path) else None
    settings = ExhaustSettings.beside(
        store, config.exhaust_dir, expiry_seconds=config.exhaust_expiry_seconds
    )
    exhaust = Exhaust(engine, settings)
    scheduler = Scheduler(
        exhaust.run_pending,
        Schedule.parse(config.exhaust_schedule),
        retries=partial(exhaust.run_pending, retries_only=True),
        next_retry_ms=exhaust.jobs.next_retry_ms,
    )
    add_exhaust_routes(app, exhaust, scheduler, config, writer)
    return exhaust


def add_exhaust_routes(
    app: web.Application,
    exhaust: Exhaust,
    scheduler: Scheduler,
    config: ServerConfig,
    writer: StoreWriter | None,
) -> None:
    app[EXHAUST_KEY] = exhaust

    def base_url(request: web.Request) -> str:
        # Behind a proxy the address asked on is the proxy's upstream (http://127.0.0.1:4318)
        # and plain HTTP: links built from it do not open for the people it serves.
        if config.public_url:
            return config.public_url.rstrip("/")
        return f"{request.scheme}://{request.host}"

    async def blocking(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # SQLite and file work off the event loop.
        return await asyncio.get_running_loop().run_in_executor(
            None, partial(call, *args, **kwargs)
        )

    async def submit(request: web.Request) -> web.Response:
        try:
            # Bytes, for json to decode (request.json() raised on a charset Python does not
            # know: a 500), read up to the API's limit.
            body = json.loads(await json_body(request))
        except BodyTooLarge:
            answer = envelope.error(envelope.SUBMIT_ID, "body", BodyTooLarge.message)
            return web.json_response(answer, status=413)
        except ValueError:  # UnicodeDecodeError is one
            answer = envelope.error(envelope.SUBMIT_ID, "body", "expected a JSON object")
            return web.json_response(answer, status=400)
        except RecursionError:  # a client's deep nesting is bad input, not a 500
            answer = envelope.error(
                envelope.SUBMIT_ID, "body", "expected a JSON object nested less deeply"
            )
            return web.json_response(answer, status=400)
        status, answer = await blocking(
            exhaust.submit, body, base_url=base_url(request), client=_client(request)
        )
        if status == 200:
            scheduler.wake()
        return web.json_response(answer, status=status)

    async def read(request: web.Request) -> web.Response:
        status, answer = await blocking(
            exhaust.read,
            request.match_info["tag"],
            request.query.get("requestId"),
            base_url=base_url(request),
            channel=request.headers.get("X-Channel-ID"),
            client=_client(request),
        )
        return web.json_response(answer, status=status)

    async def list_jobs(request: web.Request) -> web.Response:
        status, answer = await blocking(
            exhaust.list_jobs,
            request.match_info["tag"],
            request.query.get("limit"),
            base_url=base_url(request),
            channel=request.headers.get("X-Channel-ID"),
            client=_client(request),
        )
        return web.json_response(answer, status=status)

    async def download(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        local = exhaust.local
        if local is None:  # files are in Azure Blob Storage: links go there
            return web.json_response({"error": f"no exhaust file {name!r}"}, status=404)
        # The link first: whether a file exists is told only to a link this server signed
        # (request ids are predictable, so a 404 for a forged link would say which exist).
        checked = local.signer.check(
            name,
            request.query.get("expires"),
            request.query.get("signature"),
            int(time.time()),
        )
        refusal = None if checked.ok else checked.reason
        job = await blocking(exhaust.job_for_file, name)
        path = local.path(name)
        exists = job is not None and path is not None and path.is_file()
        if refusal is None and not exists:
            return web.json_response({"error": f"no exhaust file {name!r}"}, status=404)
        if refusal is None and job is not None and job.dataset == PRIVATE_EXHAUST:
            if not config.token:
                refusal = (
                    "private exhausts are served only with a token: start bot-telemetry serve "
                    "with --token (even on loopback) and send Authorization: Bearer TOKEN"
                )
        outcome = "served" if refusal is None else f"refused: {refusal}"
        record = await blocking(
            exhaust.audit_file, "download", job, name, _client(request), outcome
        )
        _store_audit(writer, record)
        if checked.expired_at is not None:
            # Signed here, so whose link it is may be told: say where a fresh one is.
            status, answer = exhaust.expired_link(job, checked.expired_at, base_url(request))
            return web.json_response(answer, status=status)
        if refusal is not None:
            return web.json_response({"error": refusal}, status=403)
        assert path is not None
        return web.FileResponse(
            path,
            headers={
                "Content-Disposition": f'attachment; filename="{path.name}"',
                "Cache-Control": "no-store",
            },
        )

    async def retry_now(request: web.Request) -> web.Response:
        status, answer = await blocking(
            exhaust.retry,
            request.match_info["tag"],
            request.query.get("requestId"),
            channel=request.headers.get("X-Channel-ID"),
        )
        if status == 200:
            scheduler.wake()  # the runner takes it now, not at the retry's old time
        return web.json_response(answer, status=status)

    async def run_now(request: web.Request) -> web.Response:
        done = await blocking(exhaust.run_pending)
        return web.json_response(ran(done))

    app.router.add_post("/dataset/v1/request/submit", submit)
    app.router.add_get("/dataset/v1/request/read/{tag}", read)
    app.router.add_get("/dataset/v1/request/list/{tag}", list_jobs)
    app.router.add_get("/dataset/v1/download/{name:.+}", download)
    app.router.add_post("/api/exhaust/run", run_now)
    app.router.add_post("/api/exhaust/retry/{tag}", retry_now)

    async def start(_: web.Application) -> None:
        scheduler.start()

    async def stop(_: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, scheduler.stop)
        exhaust.close()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)


def _client(request: web.Request) -> str:
    return request.remote or ""


def _store_audit(writer: StoreWriter | None, record: AuditRecord) -> None:
    """The audit record as an event beside the telemetry (only when serve stores it)."""
    if writer is None:
        return
    attributes = {
        contract.CUSTOM_EVENT_NAME: contract.EXHAUST_DOWNLOADED,
        contract.EXHAUST_REQUEST_ID: record.request_id,
        contract.EXHAUST_DATASET: record.dataset,
        contract.EXHAUST_TAG: record.tag,
        contract.EXHAUST_FILE: record.file,
        contract.EXHAUST_CLIENT: record.client,
        "exhaust.outcome": record.outcome,
    }
    row = {
        "record_id": uuid.uuid4().hex,
        "time_ns": record.time_ms * 1_000_000,
        "service_name": AUDIT_SERVICE,
        "severity_number": 9,
        "severity_text": "INFO",
        "body": contract.EXHAUST_DOWNLOADED,
        "event_name": contract.EXHAUST_DOWNLOADED,
        "attributes": to_json(attributes),
        "scope_name": AUDIT_SCOPE,
    }
    batch = Batch()
    for column in LOG_COLUMNS:
        batch.logs[column].append(row.get(column))
    try:
        writer.submit(batch)
    except Exception:  # the audit trail in the jobs file has it; the event is a convenience
        pass


__all__ = ["EXHAUST_KEY", "add_exhaust", "add_exhaust_routes"]
