"""What every OTLP transport (HTTP, gRPC) does with an export: decode it off the event loop,
hand its rows to the store's writer, wait for the commit, answer with partial success.

    batch = await decode_export(Signal.TRACES, body, "protobuf", None, max_body)
    await store_export(writer, batch)         # raises OtlpError(503 or 500)
    response = export_response(Signal.TRACES, batch)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from ..privacy import PrivacyPolicy, current_policy
from ..store.engine import EngineUnavailable
from ..store.rows import Batch, logs_batch, metrics_batch, spans_batch
from ..store.writer import StoreWriter, WriterBusy
from . import otlp, services
from .otlp import Encoding, OtlpError, Signal

_log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: Where the receivers read the policy for other services' telemetry (``services.py``), at
#: each export: ``ServerConfig.policy`` in ``serve``; the process's, unless told otherwise.
PolicySource = Callable[[], PrivacyPolicy]

_FLATTEN: dict[Signal, Callable[[Any], Batch]] = {
    Signal.TRACES: spans_batch,
    Signal.LOGS: logs_batch,
    Signal.METRICS: metrics_batch,
}
_REJECTED = {
    Signal.TRACES: "rejected_spans",
    Signal.LOGS: "rejected_log_records",
    Signal.METRICS: "rejected_data_points",
}


def parse(
    signal: Signal,
    body: bytes,
    encoding: Encoding,
    content_encoding: str | None,
    limit: int,
    policy: PolicySource = current_policy,
) -> Batch:
    """Body bytes to rows; CPU work, so the servers run it off their event loop."""
    message = otlp.decode(signal, otlp.decompress(body, content_encoding, limit), encoding)
    services.make_safe(signal, message, policy())
    return _FLATTEN[signal](message)


async def decode_export(
    signal: Signal,
    body: bytes,
    encoding: Encoding,
    content_encoding: str | None,
    limit: int,
    policy: PolicySource = current_policy,
) -> Batch:
    """``parse`` on a worker thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, parse, signal, body, encoding, content_encoding, limit, policy
    )


async def store_export(writer: StoreWriter, batch: Batch, where: str) -> None:
    """Returns once the batch is committed; OtlpError 503 when the writer is backed up or
    the store cannot be reached (the sender retries), 500 when the store refused the batch."""
    try:
        written = writer.submit(batch)
    except WriterBusy as error:
        raise OtlpError(503, str(error)) from error
    try:
        await asyncio.wrap_future(written)
    except EngineUnavailable as error:
        _log.warning("export to %s not stored, the store is unavailable: %s", where, error)
        raise OtlpError(503, f"the store is unavailable: {error}") from error
    except Exception as error:
        _log.exception("export to %s not stored", where)
        raise OtlpError(500, f"the batch could not be stored: {error}") from error


def export_response(signal: Signal, batch: Batch) -> Message:
    """The Export*ServiceResponse: empty on full success, else the partial success."""
    response: Message = signal.response()
    if batch.rejected:
        partial = getattr(response, "partial_success")  # noqa: B009 - not on Message's type
        setattr(partial, _REJECTED[signal], batch.rejected)
        # Each problem once: rows refused for the same reason (ClickHouse's) say the same.
        partial.error_message = "; ".join(dict.fromkeys(batch.problems))
    return response
