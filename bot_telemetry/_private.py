"""Every use of another library's private API, in one place.

Each accessor below names what it reads and the versions it was checked against (the ranges
in pyproject.toml end before the next release we have not checked). ``tests/test_private.py``
builds the real objects of the installed versions and fails when one of them changes. At run
time an accessor that does not find what it expects logs one warning naming the change and
returns ``None``; its caller then does the documented, public-API thing instead — a missing
private never breaks a bot, and it is never silent.

No module of ours reads another library's private attribute except through this one.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import FrameType
from typing import Any, Final

# opentelemetry-api 1.45: the context key the SDK's exporters and the HTTP instrumentations
# check so an export's own HTTP request is not traced. Not exported under a public name.
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_INSTRUMENTATION_KEY

# opentelemetry-api 1.45: the decorator the API's Tracer.start_as_current_span carries, so the
# result works as a context manager and as a decorator of sync and async functions alike.
from opentelemetry.util._decorator import _agnosticcontextmanager as agnosticcontextmanager

_log = logging.getLogger("bot_telemetry")
_warned: set[str] = set()
_lock = threading.Lock()

#: The private attributes we read, by library: (attribute, what for).
USES: Final = {
    "opentelemetry-exporter-otlp-proto-http 1.45": [
        ("OTLPSpanExporter._client / OTLPLogExporter._client (.export)", "post our encoding"),
        ("._shutdown", "leave a shut-down exporter's batches to its own export()"),
        ("._max_request_size", "leave an oversized batch to its own export()"),
        ("._client._transport (.request)", "read an answer's partial_success"),
    ],
    "opentelemetry-exporter-otlp-proto-grpc 1.45": [
        (
            "OTLPSpanExporter._stub / OTLPLogExporter._stub, ._client (.Export)",
            "read an answer's partial_success (export() drops the Export call's answer)",
        ),
        ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter's only home"),
    ],
    "opentelemetry-api 1.45": [
        ("opentelemetry.context._SUPPRESS_INSTRUMENTATION_KEY", "exports are not traced"),
        ("opentelemetry.util._decorator._agnosticcontextmanager", "the tracer proxy"),
        ("opentelemetry._logs", "the logs API's only home (custom events are log records)"),
    ],
    "opentelemetry-sdk 1.45": [
        ("opentelemetry.sdk._logs", "the logs SDK's only home"),
        ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter's only home"),
    ],
    "botbuilder-dialogs 4.17": [
        ("DialogSet._dialogs", "set_telemetry_client walks a dialog set's dialogs"),
        ("ComponentDialog._dialogs", "set_telemetry_client reaches a component's children"),
    ],
    "botbuilder-azure 4.17": [
        ("BlobStorage._BlobStorage__container_client", "the app-map node of blob storage"),
    ],
    "microsoft-agents-hosting-dialogs 1.9": [
        ("DialogSet._dialogs", "set_telemetry_client walks a dialog set's dialogs"),
        ("ComponentDialog._dialogs", "set_telemetry_client reaches a component's children"),
    ],
    "microsoft-agents-storage-blob 1.9": [
        ("BlobStorage._container_client", "the app-map node of blob storage"),
    ],
    "microsoft-agents-hosting-core 1.9": [
        ("AgentApplication._on_error", "record_application_errors: failed turns stay failed"),
    ],
    "azure-monitor-opentelemetry-exporter 1.0.0b58": [
        (
            "._handle_transmit_from_storage",
            "tell a batch it stored to send again (deferred) from one it lost",
        ),
    ],
    "botbuilder-ai 4.17": [
        ("LuisRecognizer._application", "the LUIS endpoint (app-map node and server.address)"),
        ("QnAMaker._endpoint", "the QnA host and knowledge base id"),
    ],
    "httpcore 1.0": [
        (
            "AsyncHTTPConnection._connect's local retries_left, up the stack of a trace hook",
            "a connect httpcore will retry does not end a model call's span",
        ),
    ],
}

#: How far up the stack of httpcore's trace hook its connection's ``_connect`` may be.
_CONNECT_FRAMES: Final = 8


def _changed(what: str) -> None:
    with _lock:
        if what in _warned:
            return
        _warned.add(what)
    _log.warning(
        "%s is not there any more (a dependency changed); bot-telemetry carries on without it. "
        "Please report the versions you run.",
        what,
    )


def _read(owner: object, attribute: str, what: str) -> Any:
    value = getattr(owner, attribute, _MISSING)
    if value is _MISSING:
        _changed(what)
        return None
    return value


_MISSING: Final = object()


def dialog_set_dialogs(dialog_set: object) -> list[Any]:
    """The dialogs a ``DialogSet`` holds (no public way to list them): botbuilder's, and
    the Agents SDK's, which keeps them under the same name."""
    found = _read(dialog_set, "_dialogs", f"{_runtime(dialog_set)} DialogSet._dialogs")
    return list(found.values()) if isinstance(found, dict) else []


def component_dialog_set(component: object) -> Any:
    """The ``DialogSet`` of a ``ComponentDialog`` (its setter never reaches it), botbuilder's
    or the Agents SDK's."""
    return _read(component, "_dialogs", f"{_runtime(component)} ComponentDialog._dialogs")


def blob_container_client(storage: object) -> Any:
    """A ``BlobStorage``'s container client: botbuilder-azure's (name-mangled) or
    microsoft-agents-storage-blob's (underscored)."""
    if _runtime(storage) == "Agents SDK":
        return _read(storage, "_container_client", "Agents SDK BlobStorage._container_client")
    return _read(storage, "_BlobStorage__container_client", "BlobStorage.__container_client")


def application_error_dispatch(app: object) -> Any:
    """An Agents SDK ``AgentApplication``'s error dispatch, ``_on_error(context, error)``:
    it runs the ``@app.error`` handlers and re-raises only when there are none."""
    return _read(app, "_on_error", "Agents SDK AgentApplication._on_error")


def replace_application_error_dispatch(app: object, dispatch: Any) -> None:
    """Put ``dispatch`` in place of the application's own (an instance attribute, so the
    class and other applications are untouched)."""
    setattr(app, "_on_error", dispatch)  # noqa: B010 (a private name: this module's job)


def _runtime(owner: object) -> str:
    return "Agents SDK" if type(owner).__module__.startswith("microsoft_agents") else "botbuilder"


def luis_application(recognizer: object) -> Any:
    """A botbuilder-ai ``LuisRecognizer``'s ``LuisApplication`` (endpoint, app id)."""
    return _read(recognizer, "_application", "LuisRecognizer._application")


def qna_endpoint(client: object) -> Any:
    """A botbuilder-ai ``QnAMaker``'s ``QnAMakerEndpoint`` (host, knowledge base id)."""
    return _read(client, "_endpoint", "QnAMaker._endpoint")


def otlp_http_client(exporter: object) -> Any:
    """The HTTP client of the SDK's OTLP/HTTP span or log exporter (``export(bytes)`` posts
    with the exporter's endpoint, headers, TLS, compression and retries), or ``None``."""
    client = _read(exporter, "_client", f"{type(exporter).__name__}._client")
    if client is not None and not callable(getattr(client, "export", None)):
        _changed(f"{type(exporter).__name__}._client.export")
        return None
    return client


def otlp_http_transport(client: object) -> Any:
    """The transport of an OTLP/HTTP exporter's client: its ``request`` answers a result
    whose ``content()`` is the response body (the client's ``export`` keeps only the
    status), or ``None``."""
    transport = _read(client, "_transport", f"{type(client).__name__}._transport")
    if transport is not None and not callable(getattr(transport, "request", None)):
        _changed(f"{type(client).__name__}._transport.request")
        return None
    return transport


def otlp_http_is_shut_down(exporter: object) -> bool:
    shut_down = _read(exporter, "_shutdown", f"{type(exporter).__name__}._shutdown")
    return shut_down is not False


def otlp_http_max_request_size(exporter: object) -> int:
    """The exporter's request size limit in bytes; 0 when it has none."""
    limit = getattr(exporter, "_max_request_size", 0)
    return limit if isinstance(limit, int) and limit > 0 else 0


def otlp_grpc_stub(exporter: object) -> Any:
    """What the SDK's OTLP/gRPC span or log exporter makes its client with: ``_stub(channel)``
    (the service's stub class), called again whenever the exporter rebuilds its channel (after
    UNAVAILABLE); or ``None``."""
    stub = _read(exporter, "_stub", f"{type(exporter).__name__}._stub")
    if stub is not None and not callable(stub):
        _changed(f"{type(exporter).__name__}._stub")
        return None
    return stub


def otlp_grpc_client(exporter: object) -> Any:
    """The OTLP/gRPC exporter's current client (its ``Export`` answers the response message,
    which the exporter's ``export()`` drops), or ``None``."""
    client = _read(exporter, "_client", f"{type(exporter).__name__}._client")
    if client is not None and not callable(getattr(client, "Export", None)):
        _changed(f"{type(exporter).__name__}._client.Export")
        return None
    return client


def replace_otlp_grpc_stub(exporter: object, stub: Any, client: Any) -> None:
    """Put ``stub`` in place of the exporter's stub factory and ``client`` in place of the
    client it made already (instance attributes)."""
    setattr(exporter, "_stub", stub)  # noqa: B010 (a private name: this module's job)
    setattr(exporter, "_client", client)  # noqa: B010


def httpcore_connect_retries_left(depth: int) -> int | None:
    """How many retries httpcore's connection has left for the connect that just failed, read
    from its ``_connect`` up the stack ``depth`` frames above the caller's caller (a trace
    hook httpcore calls); ``None`` when no such frame is there (another transport, another
    httpcore: the caller then treats the failure as final)."""
    frame: FrameType | None = sys._getframe(depth + 1)
    for _ in range(_CONNECT_FRAMES):
        if frame is None:
            return None
        code = frame.f_code
        if code.co_name == "_connect" and "httpcore" in code.co_filename:
            left = frame.f_locals.get("retries_left")
            return left if isinstance(left, int) else None
        frame = frame.f_back
    return None


def azure_transmit_handler(exporter: object) -> Any:
    """An Azure Monitor exporter's ``_handle_transmit_from_storage(envelopes, result)``: it
    gets the result of each transmission (``FAILED_RETRYABLE`` when the batch went to its
    offline storage) and puts the batch there."""
    return _read(
        exporter,
        "_handle_transmit_from_storage",
        f"{type(exporter).__name__}._handle_transmit_from_storage",
    )


def azure_span_to_envelope(exporter: object) -> Any:
    """An Azure Monitor trace exporter's ``_span_to_envelope(span)``: the telemetry item it
    sends for a span (``data.base_data`` a ``RemoteDependencyData`` for a dependency)."""
    return _read(exporter, "_span_to_envelope", f"{type(exporter).__name__}._span_to_envelope")


def replace_azure_span_to_envelope(exporter: object, convert: Any) -> None:
    """Put ``convert`` in place of the exporter's own (an instance attribute)."""
    setattr(exporter, "_span_to_envelope", convert)  # noqa: B010 (this module's job)


def replace_azure_transmit_handler(exporter: object, handler: Any) -> None:
    """Put ``handler`` in place of the exporter's own (an instance attribute)."""
    setattr(exporter, "_handle_transmit_from_storage", handler)  # noqa: B010 (this module's job)


__all__ = [
    "SUPPRESS_INSTRUMENTATION_KEY",
    "USES",
    "agnosticcontextmanager",
    "application_error_dispatch",
    "azure_span_to_envelope",
    "azure_transmit_handler",
    "blob_container_client",
    "component_dialog_set",
    "dialog_set_dialogs",
    "httpcore_connect_retries_left",
    "luis_application",
    "otlp_grpc_client",
    "otlp_grpc_stub",
    "otlp_http_client",
    "otlp_http_is_shut_down",
    "otlp_http_max_request_size",
    "otlp_http_transport",
    "qna_endpoint",
    "replace_application_error_dispatch",
    "replace_azure_span_to_envelope",
    "replace_azure_transmit_handler",
    "replace_otlp_grpc_stub",
]
