"""The span of one outgoing HTTP request, shared by every HTTP client we instrument.

A request gets a CLIENT span, child of the current span, unless a dependency wrapper has
already opened the call's span (``dependency_span_scope``): then that span is the one
injected and described, so the callee's SERVER span is its direct child.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from yarl import URL

from .dependency_context import current_dependency_span
from .http_attributes import full_url, method_attributes, record_error, span_method

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("bot_telemetry.correlation.client")
_peer_services: dict[str, str] = {}
_PEER_KEYS = ("peer.service", "service.peer.name")
_ADOPTED_KEYS = frozenset({"server.address", "server.port", *_PEER_KEYS})


def set_peer_service(address: str, name: str) -> None:
    """Name the service at ``address`` (``"host:port"`` or ``"host"``) for later requests.

    set_peer_service("127.0.0.1:5001", "nlu")
    """
    _peer_services[address.strip().lower()] = name


#: The channel the turn in progress answers: its address (host, port) and its name.
_channel: ContextVar[tuple[str, int | None, str] | None] = ContextVar(
    "bot_telemetry_channel", default=None
)


@contextmanager
def channel_peer_scope(service_url: object, channel: str | None) -> Iterator[None]:
    """Within, requests to ``service_url``'s host and port are named ``channel`` (the
    activity's channel id: ``msteams``, ``webchat``, ``emulator``) unless the peer map names
    that address: a turn's replies then reach a node named after the channel, not its host.

    with channel_peer_scope(activity.service_url, "msteams"):
        await logic()
    """
    named = _channel_at(service_url, channel)
    token = _channel.set(named) if named is not None else None
    try:
        yield
    finally:
        if token is not None:
            _channel.reset(token)


def name_channel_requests(service_url: object, channel: str | None) -> None:
    """``channel_peer_scope`` without an end: requests to ``service_url`` are named
    ``channel`` until the enclosing scope ends, else for the rest of the current task.

    For sends that happen after the turn's scope ended (botbuilder's adapters call
    ``on_turn_error`` with the turn's context once its pipeline raised): a send handler calls
    it and the adapter then sends, in the same task.
    """
    named = _channel_at(service_url, channel)
    if named is not None and _channel.get() != named:
        _channel.set(named)


def _channel_at(service_url: object, channel: str | None) -> tuple[str, int | None, str] | None:
    try:
        if isinstance(service_url, str) and channel:
            url = URL(service_url)
            if url.host:
                return (url.host.lower(), url.port, channel.split(":", 1)[0])
    except ValueError:  # not a URL: the replies keep their host's name
        pass
    return None


def peer_service(host: str | None, port: int | None) -> str | None:
    """The name of the service at ``host:port``: the peer map's (by ``host:port``, then
    ``host``), else the current turn's channel's when it is that channel's address."""
    if not host:
        return None
    host = host.lower()
    named = _peer_services.get(f"{host}:{port}") or _peer_services.get(host)
    if named is None:
        channel = _channel.get()
        if channel is not None and channel[0] == host and channel[1] == port:
            return channel[2]
    return named


class OutgoingRequest:
    """The span of one request: ``start`` before sending, then ``finish`` or ``fail``."""

    def __init__(self, span: trace.Span, owned: bool) -> None:
        self.span = span
        #: False when the span belongs to a dependency wrapper, which ends it.
        self.owned = owned

    @classmethod
    def start(cls, method: str, url: URL, headers: MutableMapping[str, Any]) -> OutgoingRequest:
        """Open (or adopt) the span and write its context into ``headers``."""
        attributes = request_attributes(method, url)
        span = current_dependency_span()
        owned = span is None
        if span is None:
            span = _tracer.start_span(
                span_method(attributes), kind=SpanKind.CLIENT, attributes=attributes
            )
        else:
            # The wrapper describes its call (name, peer, outcome). We add only where it went:
            # not the URL, whose path can hold personal data (a blob's name is botbuilder's
            # state key, with the user id in it), nor the method, which would make Azure
            # Monitor file a storage call under HTTP.
            existing = getattr(span, "attributes", None) or {}
            span.set_attributes(
                {
                    k: v
                    for k, v in attributes.items()
                    if k in _ADOPTED_KEYS and not (k in _PEER_KEYS and k in existing)
                }
            )
        # Keep the caller's baggage: only the span changes.
        propagate.inject(headers, context=trace.set_span_in_context(span, context.get_current()))
        return cls(span, owned)

    def finish(self, status: int) -> None:
        try:
            self.span.set_attribute("http.response.status_code", status)
            # Under a wrapper a 404 or 409 may be an answer, not a failure (a blob not there
            # yet): the wrapper decides from what the call returns or raises.
            if status >= 400 and self.owned:
                self.span.set_attribute("error.type", str(status))
                self.span.set_status(Status(StatusCode.ERROR))
        except Exception:
            _log.debug("could not finish an outgoing request span", exc_info=True)
        finally:
            self._end()

    def fail(self, error: BaseException) -> None:
        try:
            if self.owned:  # a wrapper records what propagates out of its call, once
                record_error(self.span, error)
        except Exception:
            _log.debug("could not record an outgoing request failure", exc_info=True)
        finally:
            self._end()

    def _end(self) -> None:
        if self.owned:
            self.span.end()


def request_attributes(method: str, url: URL) -> dict[str, Any]:
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


def start_quietly(
    method: str, url: URL, headers: MutableMapping[str, Any]
) -> OutgoingRequest | None:
    """``OutgoingRequest.start``, or None if telemetry failed: the request goes on regardless."""
    try:
        return OutgoingRequest.start(method, url, headers)
    except Exception:
        _log.debug("could not trace an outgoing request", exc_info=True)
        return None
