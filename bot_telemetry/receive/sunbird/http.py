"""``POST /v1/telemetry``: Sunbird telemetry v3 bundles over HTTP, in ``bot-telemetry serve`` or
any aiohttp application.

    app = web.Application(middlewares=[cors_middleware(["https://chat.example.com"])])
    receiver = add_telemetry_routes(app, StoreWriter(Store.open(path)))

Answers as Sunbird's ingest service does (``{"id": "api.telemetry", "ver": "1.0", "ets",
"params", "responseCode"}``) with a ``result`` saying what became of each event: 200
``SUCCESS`` when the bundle was read, with ``params.status`` ``"partial"`` when some events
were invalid (they are kept in the failed set and listed with their reasons; the SDK would
retry a refused batch forever, so invalid events never fail the request); 400/413/415
``CLIENT_ERROR`` when the bundle is refused whole; 503 (``Retry-After``) when the store's
writer is backed up or the store cannot be reached, and 500 ``SERVER_ERROR`` when the write
failed, so the client retries.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ... import contract
from ...store.writer import StoreWriter
from .ingest import BundleError, ClientHeaders, Outcome, SunbirdReceiver

_log = logging.getLogger(__name__)

TELEMETRY_PATH = "/v1/telemetry"
#: Media types a bundle may come as: the SDK's, and a beacon's (``navigator.sendBeacon``
#: sends a string as text/plain, which needs no CORS preflight).
ACCEPTED_TYPES = frozenset({"", "application/json", "text/plain"})
RECEIVER_KEY = web.AppKey("sunbird_receiver", SunbirdReceiver)


def _answer(
    status: int,
    code: str,
    params: dict[str, Any],
    result: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "id": "api.telemetry",
        "ver": "1.0",
        "ets": time.time_ns() // 1_000_000,
        "params": {"resmsgid": str(uuid.uuid4()), **params},
        "responseCode": code,
    }
    if result is not None:
        body["result"] = result
    try:
        # orjson: ~0.3 µs where json.dumps took ~4 (per request); a reason or failure
        # listing a lone surrogate from the client's JSON is written by json, escaped.
        text = orjson.dumps(body)
    except orjson.JSONEncodeError:
        text = json.dumps(body).encode()
    return web.Response(
        body=text,
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def _success(outcome: Outcome) -> web.Response:
    partial = outcome.failed > 0
    params = {
        "msgid": outcome.msgid,
        "status": "partial" if partial else "successful",
        "err": "INVALID_EVENTS" if partial else None,
        "errmsg": (
            f"{outcome.failed} of {outcome.received} events are invalid; they are kept in "
            "the failed set (bot-telemetry client-events --failed)"
            if partial
            else None
        ),
    }
    result = {
        "received": outcome.received,
        "stored": outcome.stored,
        "duplicates": outcome.duplicates,
        "failed": outcome.failed,
        "repeatedBundle": outcome.repeated_bundle,
        "failures": outcome.failures,
    }
    return _answer(200, "SUCCESS", params, result)


def _refusal(error: BundleError) -> web.Response:
    code = "SERVER_ERROR" if error.status >= 500 else "CLIENT_ERROR"
    err = {400: "INVALID_BUNDLE", 413: "BUNDLE_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}.get(
        error.status, "SERVER_ERROR" if error.status == 500 else "BUSY"
    )
    headers = {"Retry-After": "1"} if error.status == 503 else None
    params = {"status": "failed", "err": err, "errmsg": error.reason}
    return _answer(error.status, code, params, headers=headers)


_GZIP_MAGIC = b"\x1f\x8b"


async def _read(request: web.Request, limit: int) -> bytes:
    """The body, refusing it once past ``limit`` bytes (whatever Content-Length said)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BundleError(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def telemetry_handler(
    receiver: SunbirdReceiver,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for ``POST /v1/telemetry``."""

    async def handle(request: web.Request) -> web.Response:
        try:
            media_type = (request.headers.get("Content-Type") or "").split(";", 1)[0]
            if media_type.strip().lower() not in ACCEPTED_TYPES:
                raise BundleError(
                    415, f"unsupported content type {media_type!r}: send application/json"
                )
            limit = receiver.max_body
            if request.content_length is not None and request.content_length > limit:
                raise BundleError(
                    413, f"body of {request.content_length} bytes is over the limit of {limit}"
                )
            body = await _read(request, limit)
            headers = request.headers
            encoding = headers.get("Content-Encoding")
            if encoding and encoding.strip().lower() == "gzip" and body[:2] != _GZIP_MAGIC:
                # An app run with aiohttp's auto_decompress has inflated it already (bounded
                # by the limit all the same, as we read it).
                encoding = None
            outcome = await receiver.ingest(
                body,
                encoding,
                ClientHeaders(
                    device=headers.get(contract.HEADER_DEVICE_ID, ""),
                    channel=headers.get(contract.HEADER_CHANNEL_ID, ""),
                    app=headers.get(contract.HEADER_APP_ID, ""),
                ),
            )
        except BundleError as error:
            if error.status >= 500:
                _log.warning("%s refused: %s", request.path, error.reason)
            return _refusal(error)
        return _success(outcome)

    return handle


def add_telemetry_routes(
    app: web.Application, writer: StoreWriter, **options: Any
) -> SunbirdReceiver:
    """Serve ``POST /v1/telemetry`` on ``app``, storing through ``writer``; returns the receiver
    (its ``counts`` say what it took). ``options`` go to ``SunbirdReceiver``: ``dedup_window``
    (seconds, default 3600), ``max_body``, ``max_events``, ``policy``, ``journal`` (a
    ``receive.journal.Journal``: bundles are answered once kept there, not once committed).

    Pages on other origins also need ``cors_middleware`` on the app: it answers their
    preflights, and refuses (403) pages of origins it does not list, even for a ``text/plain``
    POST that needs no preflight, as ``serve`` does; without it any site's page may send."""
    receiver = SunbirdReceiver(writer, **options)
    app[RECEIVER_KEY] = receiver
    app.router.add_post(TELEMETRY_PATH, telemetry_handler(receiver))
    return receiver
