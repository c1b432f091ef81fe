"""OTLP/HTTP endpoints: ``/v1/traces``, ``/v1/logs`` and ``/v1/metrics``.

An export is answered 200 only after its rows are committed. Refusals follow the OTLP/HTTP
specification: 400 undecodable, 413 too large, 415 wrong content type or encoding, 503 when
the writer is backed up or the store cannot be reached (OTLP exporters retry 503), each with
a ``google.rpc.Status`` body whose message is the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..privacy import current_policy
from ..store.writer import StoreWriter
from . import otlp
from .export import (
    DEFAULT_MAX_BODY,
    PolicySource,
    decode_export,
    export_response,
    parse,
    store_export,
)
from .otlp import Encoding, OtlpError, Signal

_log = logging.getLogger(__name__)


def _answer(status: int, body: bytes, content_type: str) -> web.Response:
    return web.Response(status=status, body=body, content_type=content_type)


def _refusal(error: OtlpError, encoding: Encoding | None) -> web.Response:
    body, content_type = otlp.status_body(error, encoding)
    response = _answer(error.status, body, content_type)
    if error.status == 503:
        response.headers["Retry-After"] = "1"
    return response


def otlp_handler(
    signal: Signal,
    writer: StoreWriter,
    max_body: int = DEFAULT_MAX_BODY,
    policy: PolicySource = current_policy,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for one signal's export path; ``policy`` makes other services'
    telemetry safe (``services.py``)."""

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
            batch = await decode_export(
                signal, body, encoding, request.headers.get("Content-Encoding"), max_body, policy
            )
            await store_export(writer, batch, request.path)
        except OtlpError as error:
            if error.status >= 500:
                _log.warning("%s refused: %s", request.path, error)
            return _refusal(error, encoding)
        body, content_type = otlp.encode(export_response(signal, batch), encoding)
        return _answer(200, body, content_type)

    return handle


def add_routes(
    app: web.Application,
    writer: StoreWriter,
    max_body: int,
    policy: PolicySource = current_policy,
) -> None:
    for path, signal in (
        ("/v1/traces", Signal.TRACES),
        ("/v1/logs", Signal.LOGS),
        ("/v1/metrics", Signal.METRICS),
    ):
        app.router.add_post(path, otlp_handler(signal, writer, max_body, policy))


__all__ = ["DEFAULT_MAX_BODY", "add_routes", "otlp_handler", "parse"]
