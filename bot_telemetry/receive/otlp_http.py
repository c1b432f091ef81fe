"""OTLP/HTTP endpoints: ``/v1/traces``, ``/v1/logs`` and ``/v1/metrics``.

An export is answered 200 only after its rows are committed. Refusals follow the OTLP/HTTP
specification: 400 undecodable, 413 too large, 415 wrong content type or encoding, 503 when
the writer is backed up (OTLP exporters retry 503), each with a ``google.rpc.Status`` body
whose message is the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from google.protobuf.message import Message

from ..store.rows import Batch, logs_batch, metrics_batch, spans_batch
from ..store.writer import StoreWriter, WriterBusy
from . import otlp
from .otlp import Encoding, OtlpError, Signal

_log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 16 * 1024 * 1024

_FLATTEN: dict[Signal, Callable[[Any], Batch]] = {
    Signal.TRACES: spans_batch,
    Signal.LOGS: logs_batch,
    Signal.METRICS: metrics_batch,
}


def parse(
    signal: Signal, body: bytes, encoding: Encoding, content_encoding: str | None, limit: int
) -> Batch:
    """Body bytes to rows; CPU work, so the server runs it off its event loop."""
    message = otlp.decode(signal, otlp.decompress(body, content_encoding, limit), encoding)
    return _FLATTEN[signal](message)


def _answer(status: int, body: bytes, content_type: str) -> web.Response:
    return web.Response(status=status, body=body, content_type=content_type)


def _refusal(error: OtlpError, encoding: Encoding | None) -> web.Response:
    body, content_type = otlp.status_body(error, encoding)
    response = _answer(error.status, body, content_type)
    if error.status == 503:
        response.headers["Retry-After"] = "1"
    return response


def _success(signal: Signal, batch: Batch, encoding: Encoding) -> web.Response:
    response: Message = signal.response()
    if batch.rejected:
        partial = response.partial_success
        counter = {
            Signal.TRACES: "rejected_spans",
            Signal.LOGS: "rejected_log_records",
            Signal.METRICS: "rejected_data_points",
        }[signal]
        setattr(partial, counter, batch.rejected)
        partial.error_message = "; ".join(batch.problems)
    body, content_type = otlp.encode(response, encoding)
    return _answer(200, body, content_type)


def otlp_handler(
    signal: Signal, writer: StoreWriter, max_body: int = DEFAULT_MAX_BODY
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for one signal's export path."""

    async def handle(request: web.Request) -> web.Response:
        encoding: Encoding | None = None
        try:
            encoding = otlp.encoding_of(request.headers.get("Content-Type"))
            if request.content_length is not None and request.content_length > max_body:
                raise OtlpError(
                    413,
                    f"body of {request.content_length} bytes is over the limit "
                    f"of {max_body} bytes; send smaller batches",
                )
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge as error:
                raise OtlpError(
                    413, f"body is over the limit of {max_body} bytes; send smaller batches"
                ) from error
            loop = asyncio.get_running_loop()
            batch = await loop.run_in_executor(
                None,
                parse,
                signal,
                body,
                encoding,
                request.headers.get("Content-Encoding"),
                max_body,
            )
            try:
                written = writer.submit(batch)
            except WriterBusy as error:
                raise OtlpError(503, str(error)) from error
            try:
                await asyncio.wrap_future(written)
            except Exception as error:
                _log.exception("export to %s not stored", request.path)
                raise OtlpError(500, f"the batch could not be stored: {error}") from error
        except OtlpError as error:
            if error.status >= 500:
                _log.warning("%s refused: %s", request.path, error)
            return _refusal(error, encoding)
        return _success(signal, batch, encoding)

    return handle


def add_routes(app: web.Application, writer: StoreWriter, max_body: int) -> None:
    for path, signal in (
        ("/v1/traces", Signal.TRACES),
        ("/v1/logs", Signal.LOGS),
        ("/v1/metrics", Signal.METRICS),
    ):
        app.router.add_post(path, otlp_handler(signal, writer, max_body))
