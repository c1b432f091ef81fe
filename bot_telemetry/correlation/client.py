"""Client side: every outgoing HTTP call carries the trace, under a CLIENT span.

    instrument_aiohttp_client({"127.0.0.1:5001": "nlu"})   # once, at startup

Every ``aiohttp.ClientSession`` created afterwards, in our code or inside libraries
(azure-storage-blob's aio transport, recognizers, Q&A clients), gets a ``TraceConfig`` that
opens a CLIENT span per request and injects ``traceparent``, ``tracestate`` and ``baggage``
through the global propagator. botframework-connector sends the bot's replies with msrest
over ``requests`` (in a worker thread), not aiohttp, so its sender is instrumented too.
Sessions created before the call are not instrumented: call it before building the adapter.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp

from . import msrest_sender
from .outgoing import OutgoingRequest, set_peer_service, start_quietly

_lock = threading.Lock()
_installed = False

__all__ = ["instrument_aiohttp_client", "set_peer_service"]


def instrument_aiohttp_client(peer_services: Mapping[str, str] | None = None) -> None:
    """Instrument every ``aiohttp.ClientSession`` created from now on, and msrest. Idempotent.

    ``peer_services`` maps ``"host:port"`` (or just ``"host"``) to the logical name of the
    service there; it becomes ``peer.service`` and ``service.peer.name`` on the span, which
    tracing backends draw as a node of the app map. Later calls, and ``set_peer_service``,
    add to the map.
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
            if TRACE_CONFIG not in configs:
                configs.append(TRACE_CONFIG)
            kwargs["trace_configs"] = configs
            original(self, *args, **kwargs)

        aiohttp.ClientSession.__init__ = __init__  # type: ignore[method-assign]
        msrest_sender.instrument()
        _installed = True


async def _on_request_start(
    session: aiohttp.ClientSession,
    trace_context: SimpleNamespace,
    params: aiohttp.TraceRequestStartParams,
) -> None:
    trace_context.bot_telemetry = start_quietly(params.method, params.url, params.headers)


async def _on_request_end(
    session: aiohttp.ClientSession,
    trace_context: SimpleNamespace,
    params: aiohttp.TraceRequestEndParams,
) -> None:
    outgoing: OutgoingRequest | None = getattr(trace_context, "bot_telemetry", None)
    if outgoing is not None:
        outgoing.finish(params.response.status)


async def _on_request_exception(
    session: aiohttp.ClientSession,
    trace_context: SimpleNamespace,
    params: aiohttp.TraceRequestExceptionParams,
) -> None:
    outgoing: OutgoingRequest | None = getattr(trace_context, "bot_telemetry", None)
    if outgoing is not None:
        outgoing.fail(params.exception)


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    config.on_request_end.append(_on_request_end)
    config.on_request_exception.append(_on_request_exception)
    config.freeze()
    return config


#: The ``TraceConfig`` added to every session; pass it yourself to a session created earlier.
TRACE_CONFIG = _trace_config()
