"""Client side: every aiohttp request carries the trace, under a CLIENT span.

    instrument_aiohttp_client({"127.0.0.1:5001": "nlu"})   # once, at startup

Every ``aiohttp.ClientSession`` created afterwards, in our code or inside libraries
(botframework-connector's replies to the channel, azure-storage-blob, recognizers), gets a
``TraceConfig`` that opens a CLIENT span per request and injects ``traceparent``,
``tracestate`` and ``baggage`` through the global propagator. Sessions created before the
call are not instrumented, so call it before building the adapter.

When a dependency wrapper already opened the call's span (``dependency_span_scope``), that
span is the one injected and it receives the HTTP attributes: no nested CLIENT span, so
the callee's SERVER span is the wrapper span's direct child.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .dependency_context import current_dependency_span
from .http_attributes import full_url, method_attributes, record_error, span_method

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("bot_telemetry.correlation.client")

_peer_services: dict[str, str] = {}
_lock = threading.Lock()
_installed = False


def instrument_aiohttp_client(peer_services: Mapping[str, str] | None = None) -> None:
    """Instrument every ``aiohttp.ClientSession`` created from now on. Idempotent.

    ``peer_services`` maps ``"host:port"`` (or just ``"host"``) to the logical name of the
    service there; it becomes ``peer.service`` and ``service.peer.name`` on the span, which
    tracing backends draw as a node of the app map. Later calls add to the map.
    """
    global _installed
    for address, name in (peer_services or {}).items():
        set_peer_service(address, name)
    with _lock:
        if _installed:
            return
        original = aiohttp.ClientSession.__init__

        @functools.wraps(original)
        def __init__(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            configs = list(kwargs.get("trace_configs") or ())
            if _TRACE_CONFIG not in configs:
                configs.append(_TRACE_CONFIG)
            kwargs["trace_configs"] = configs
            original(self, *args, **kwargs)

        aiohttp.ClientSession.__init__ = __init__  # type: ignore[method-assign]
        _installed = True


def set_peer_service(address: str, name: str) -> None:
    """Name the service at ``address`` (``"host:port"`` or ``"host"``) for later requests."""
    _peer_services[address.strip().lower()] = name


def peer_service(host: str | None, port: int | None) -> str | None:
    """The configured name of the service at ``host:port`` (or ``host``), if any."""
    if not host:
        return None
    host = host.lower()
    return _peer_services.get(f"{host}:{port}") or _peer_services.get(host)


def _request_attributes(method: str, url: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = method_attributes(method)
    attributes["url.full"] = full_url(url)
    if url.host:
        attributes["server.address"] = url.host
    if url.port is not None:
        attributes["server.port"] = url.port
    name = peer_service(url.host, url.port)
    if name:
        attributes["peer.service"] = name
        attributes["service.peer.name"] = name
    return attributes


async def _on_request_start(
    session: aiohttp.ClientSession,
    trace_context: SimpleNamespace,
    params: aiohttp.TraceRequestStartParams,
) -> None:
    trace_context.bot_telemetry_span = None
    try:
        attributes = _request_attributes(params.method, params.url)
        span = current_dependency_span()
        owned = span is None
        if span is None:
            span = _tracer.start_span(
                span_method(attributes), kind=SpanKind.CLIENT, attributes=attributes
            )
        else:
            span.set_attributes(_not_yet_set(span, attributes))
        trace_context.bot_telemetry_span = span
        trace_context.bot_telemetry_owned = owned
        # Keep the caller's baggage: only the span changes.
        carrier_context = trace.set_span_in_context(span, context.get_current())
        propagate.inject(params.headers, context=carrier_context)
    except Exception:
        _log.debug("could not trace an outgoing request", exc_info=True)


def _not_yet_set(span: trace.Span, attributes: dict[str, Any]) -> dict[str, Any]:
    # A wrapper names its own peer; ours must not overwrite it.
    existing = getattr(span, "attributes", None) or {}
    return {
        key: value
        for key, value in attributes.items()
        if not (key in ("peer.service", "service.peer.name") and key in existing)
    }


async def _on_request_end(
    session: aiohttp.ClientSession,
    trace_context: SimpleNamespace,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    span: trace.Span | None = getattr(trace_context, "bot_telemetry_span", None)
    if span is None:
        return
    try:
        status = params.response.status
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
    except Exception:
        _log.debug("could not finish an outgoing request span", exc_info=True)
    finally:
        _end(trace_context, span)


async def _on_request_exception(
    session: aiohttp.ClientSession,
    trace_context: SimpleNamespace,
    params: aiohttp.TraceRequestExceptionParams,
) -> None:
    span: trace.Span | None = getattr(trace_context, "bot_telemetry_span", None)
    if span is None:
        return
    try:
        record_error(span, params.exception)
    except Exception:
        _log.debug("could not record an outgoing request failure", exc_info=True)
    finally:
        _end(trace_context, span)


def _end(trace_context: SimpleNamespace, span: trace.Span) -> None:
    trace_context.bot_telemetry_span = None
    if getattr(trace_context, "bot_telemetry_owned", False):
        span.end()


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    config.on_request_end.append(_on_request_end)
    config.on_request_exception.append(_on_request_exception)
    config.freeze()
    return config


_TRACE_CONFIG = _trace_config()
