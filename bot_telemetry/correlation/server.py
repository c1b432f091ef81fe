"""Server side: one SERVER span per aiohttp request, in the trace the caller sent.

    app = web.Application()
    instrument_app(app)          # or web.Application(middlewares=[telemetry_middleware])

The span follows the stable HTTP semantic conventions and is named ``"METHOD route"``.
The response carries ``traceresponse`` (Trace Context Level 2) naming this span.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..privacy import current_policy
from .excluded import excluded
from .headers import header_getter
from .http_attributes import (
    MAX_URL_LENGTH,
    bounded,
    default_port,
    host_and_port,
    method_attributes,
    record_error,
    span_method,
)
from .propagators import traceparent_of

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("bot_telemetry.correlation.server")

TRACERESPONSE = "traceresponse"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def telemetry_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Open the request's SERVER span around ``handler``; errors are recorded and re-raised.
    Paths matched by ``OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS`` get none (``excluded``)."""
    if excluded(request.path):
        return await handler(request)
    try:
        span, token = _start(request)
    except Exception:
        _log.debug("could not start the request span", exc_info=True)
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        # aiohttp's way of answering 404s, redirects and the like: a response, not a fault.
        _finish(span, error.status, error)
        raise
    except BaseException as error:
        _fail(span, error)
        raise
    else:
        _finish(span, response.status, response)
        return response
    finally:
        try:
            span.end()
        finally:
            context.detach(token)


def instrument_app(app: web.Application) -> None:
    """Add ``telemetry_middleware`` first in ``app``'s middlewares (once; before startup)."""
    if telemetry_middleware in app.middlewares:
        return
    if app.frozen:
        raise RuntimeError("instrument_app(app) must be called before the application starts")
    app.middlewares.insert(0, telemetry_middleware)


def _start(request: web.Request) -> tuple[trace.Span, Any]:
    parent = propagate.extract(request.headers, getter=header_getter)
    attributes: dict[str, Any] = method_attributes(request.method)
    route = _route(request)
    name = span_method(attributes)
    if route:
        attributes["http.route"] = route
        name = f"{name} {route}"
    scheme = request.scheme
    path = current_policy().url_path(request.rel_url.raw_path)
    address, port = host_and_port(request.host, default_port(scheme))
    attributes.update(
        {
            # The route's values may be personal (``/users/{email}``): the route says
            # which resource was asked for, the path only what the policy lets through.
            "url.path": bounded(path, MAX_URL_LENGTH),
            "url.scheme": bounded(scheme),
            "server.address": address,
            "network.protocol.version": f"{request.version.major}.{request.version.minor}",
        }
    )
    if port is not None:
        attributes["server.port"] = port
    agent = request.headers.get("User-Agent")
    if agent:
        attributes["user_agent.original"] = bounded(agent)
    span = _tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
    token = context.attach(trace.set_span_in_context(span, parent))
    return span, token


def _route(request: web.Request) -> str:
    try:
        resource = request.match_info.route.resource
    except AttributeError:
        return ""
    return bounded(resource.canonical) if resource is not None else ""


def _finish(span: trace.Span, status: int, response: web.StreamResponse) -> None:
    try:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span_context = span.get_span_context()
        # Without a tracing SDK the span is the caller's own context: nothing of ours to name.
        if span_context.is_valid and not span_context.is_remote and not response.prepared:
            response.headers[TRACERESPONSE] = traceparent_of(span_context)
    except Exception:
        _log.debug("could not finish the request span", exc_info=True)


def _fail(span: trace.Span, error: BaseException) -> None:
    try:
        if isinstance(error, Exception):
            # aiohttp answers any other exception with a 500.
            span.set_attribute("http.response.status_code", 500)
        record_error(span, error)
    except Exception:
        _log.debug("could not record the request failure", exc_info=True)
