"""OTLP partial success: a backend that stores part of a batch answers 200 with
``partial_success`` (``rejected_spans`` / ``rejected_log_records`` and an
``error_message``). The SDK's HTTP client keeps only the status of the answer, so every
item counted as delivered; ``PartialSuccess`` reads the body from the client's transport
(the result it hands the client) and counts the rejected items as lost (``rejected``), the
others delivered, said once per signal (``refusals``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from .._private import otlp_http_transport
from ..delivery.queue import Delivery, Outcome
from .refusals import REJECTED, Refusals, without_item_data

#: By the client's ``kind``: the response message, its count field, what the items are.
_RESPONSES: dict[str, tuple[type[Message], str, str]] = {
    "spans": (ExportTraceServiceResponse, "rejected_spans", "spans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records", "log records"),
}

_answered = threading.local()  # the transport's last result on this thread


class _Remembering:
    """The transport's ``request``, remembering its result on the calling thread."""

    def __init__(self, request: Callable[..., Any]) -> None:
        self.request = request

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.request(*args, **kwargs)
        _answered.result = result
        return result


class PartialSuccess:
    """Reads the partial success of the answers of one OTLP/HTTP client (``kind``: "spans"
    or "logs"); ``watching`` is False when its transport cannot be read (then every 200
    counts as delivered, as before)."""

    def __init__(self, client: object, kind: str) -> None:
        self._response = _RESPONSES.get(kind)
        self._refusals = Refusals()
        transport = otlp_http_transport(client) if self._response is not None else None
        self.watching = transport is not None
        if transport is not None and not isinstance(transport.request, _Remembering):
            transport.request = _Remembering(transport.request)

    def send(self, export: Callable[[], bool], items: int) -> Outcome:
        """``export()`` (True: the backend answered 2xx), and the items it rejected."""
        _answered.result = None
        if not export():
            return False
        result, _answered.result = getattr(_answered, "result", None), None
        if not self.watching or self._response is None or result is None:
            return True
        kind, field, noun = self._response
        try:
            response = kind.FromString(result.content())
        except (DecodeError, ValueError, OSError, TypeError, AttributeError):
            return True  # not an OTLP answer (an empty body is one: no partial success)
        partial = getattr(response, "partial_success")  # noqa: B009 - not on Message's type
        rejected = min(int(getattr(partial, field)), items)
        if rejected <= 0:
            return True
        delivery = Delivery(delivered=items - rejected)
        delivery.drop(REJECTED, rejected)
        text = without_item_data(str(partial.error_message))
        self._refusals.tell(
            noun,
            f"the OTLP endpoint refused {rejected} of {items} {noun}"
            + (f" ({text})" if text else ""),
        )
        return delivery
