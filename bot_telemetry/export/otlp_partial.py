"""OTLP partial success: a backend that stores part of a batch answers 200 (gRPC: OK) with
``partial_success`` (``rejected_spans`` / ``rejected_log_records`` and an
``error_message``). The SDK's exporters keep only the status of the answer, so every item
counted as delivered; ``PartialSuccess`` reads the answer where the exporter gets it (the
OTLP/HTTP client's transport's result, the OTLP/gRPC stub's ``Export`` response) and counts
the rejected items as lost (``rejected``), the others delivered, said once per signal
(``refusals``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from .._private import (
    otlp_grpc_client,
    otlp_grpc_stub,
    otlp_http_transport,
    replace_otlp_grpc_stub,
)
from ..delivery.queue import Delivery, Outcome
from .refusals import REJECTED, Refusals, without_item_data

#: By the client's ``kind``: the response message, its count field, what the items are.
_RESPONSES: dict[str, tuple[type[Message], str, str]] = {
    "spans": (ExportTraceServiceResponse, "rejected_spans", "spans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records", "log records"),
}

_answered = threading.local()  # the transport's (or stub's) last answer on this thread


class _Remembering:
    """The transport's ``request`` (or a gRPC stub's ``Export``), remembering its result on
    the calling thread."""

    def __init__(self, request: Callable[..., Any]) -> None:
        self.request = request

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.request(*args, **kwargs)
        _answered.result = result
        return result


class PartialSuccess:
    """Reads the partial success of one exporter's answers (``kind``: "spans" or "logs");
    ``watching`` is False when they cannot be read (then every 200 counts as delivered, as
    before). ``over_http`` and ``over_grpc`` make one for the SDK's OTLP exporters."""

    def __init__(self, kind: str, watching: bool) -> None:
        self._response = _RESPONSES.get(kind)
        self._refusals = Refusals()
        self.watching = watching and self._response is not None

    @classmethod
    def over_http(cls, client: object, kind: str) -> PartialSuccess:
        """For an OTLP/HTTP exporter's client: its transport's results hold the body."""
        transport = otlp_http_transport(client) if kind in _RESPONSES else None
        if transport is not None and not isinstance(transport.request, _Remembering):
            transport.request = _Remembering(transport.request)
        return cls(kind, transport is not None)

    @classmethod
    def over_grpc(cls, exporter: object, kind: str) -> PartialSuccess:
        """For an OTLP/gRPC exporter: each client it makes from its stub (now, and again
        when it rebuilds its channel after UNAVAILABLE) remembers ``Export``'s answer."""
        stub = otlp_grpc_stub(exporter) if kind in _RESPONSES else None
        client = otlp_grpc_client(exporter) if stub is not None else None
        if stub is None or client is None:
            return cls(kind, False)
        if not isinstance(stub, _RememberingStub):
            replace_otlp_grpc_stub(exporter, _RememberingStub(stub), _remember_export(client))
        return cls(kind, True)

    def send(self, export: Callable[[], bool], items: int) -> Outcome:
        """``export()`` (True: the backend answered 2xx), and the items it rejected."""
        _answered.result = None
        if not export():
            return False
        result, _answered.result = getattr(_answered, "result", None), None
        if not self.watching or self._response is None or result is None:
            return True
        kind, field, noun = self._response
        if isinstance(result, kind):
            response = result  # gRPC's answer, deserialized already
        else:
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


def _remember_export(client: Any) -> Any:
    if not isinstance(client.Export, _Remembering):
        client.Export = _Remembering(client.Export)
    return client


class _RememberingStub:
    """An OTLP/gRPC exporter's stub factory whose clients remember ``Export``'s answer."""

    def __init__(self, stub: Callable[[Any], Any]) -> None:
        self.stub = stub

    def __call__(self, channel: Any) -> Any:
        return _remember_export(self.stub(channel))
