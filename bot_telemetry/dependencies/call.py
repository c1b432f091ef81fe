"""One dependency call: the span, its outcome and its trace activity.

Every wrapper in this package (recognizers, Q&A, storage, middleware) reports through
``dependency_call`` and nothing else, so every dependency looks the same to a tracing
backend: a CLIENT span (INTERNAL for in-process middleware) naming its peer, timed,
marked failed with the exception recorded when the call raises, and then reported to the
conversation as a trace activity.

    async with dependency_call("Recognizer Query", Target.for_url("nlu", url),
                               component="Recognizer", turn_context=turn_context) as call:
        result = await recognizer.recognize(turn_context)
        call.set_attribute("bot.recognizer.intent", top_intent)
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from ..bot.contract import (
    ATTR_DB_NAMESPACE,
    ATTR_DB_SYSTEM_NAME,
    ATTR_PEER_SERVICE,
    ATTR_SERVER_ADDRESS,
    ATTR_SERVER_PORT,
    ATTR_SERVICE_PEER_NAME,
)
from ..bot.turn_context import current_turn_context
from ..correlation.dependency_context import with_dependency_span
from ..export import current_privacy
from ..privacy import PrivacyPolicy
from .trace_activities import DependencyReport, TraceActivities, send_dependency_trace

if TYPE_CHECKING:
    from botbuilder.core import TurnContext

#: What kind of component made the call: Recognizer, QnA, Storage, Middleware.
ATTR_COMPONENT: Final = "bot.dependency.component"
#: The call's result code: an HTTP or storage status when one is known, else ``OK`` or
#: the exception's type. Azure Monitor's ``resultCode``; the trace activity's too.
ATTR_RESULT_CODE: Final = "bot.dependency.result_code"
#: Semantic-convention error class, set when the call raised.
ATTR_ERROR_TYPE: Final = "error.type"
#: A status the HTTP client instrumentation may have put on the span while in scope.
_HTTP_STATUS: Final = "http.response.status_code"

RESULT_OK: Final = "OK"

_tracer = trace.get_tracer("bot_telemetry.dependencies")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """The other end of a dependency: the node an app map draws for it.

    ``name`` becomes ``peer.service`` and ``service.peer.name``; storage adds
    ``db.system.name`` and ``db.namespace``.
    """

    name: str
    server_address: str | None = None
    server_port: int | None = None
    db_system: str | None = None
    db_namespace: str | None = None

    @classmethod
    def for_url(cls, name: str, url: str | None, **storage: str | None) -> Target:
        """A target whose server address and port come from ``url`` (if it parses).

        >>> Target.for_url("nlu", "http://127.0.0.1:8081/predict").server_port
        8081
        """
        address, port = _address_of(url)
        return cls(name, address, port, **storage)

    def attributes(self) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue | None] = {
            ATTR_PEER_SERVICE: self.name,
            ATTR_SERVICE_PEER_NAME: self.name,
            ATTR_SERVER_ADDRESS: self.server_address,
            ATTR_SERVER_PORT: self.server_port,
            ATTR_DB_SYSTEM_NAME: self.db_system,
            ATTR_DB_NAMESPACE: self.db_namespace,
        }
        return {key: value for key, value in found.items() if value is not None}


class DependencyCall:
    """The call in progress; a wrapper adds what it learns from the result."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.result_code: str | None = None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self.span.set_attribute(key, value)

    def set_result_code(self, code: str | int) -> None:
        self.result_code = str(code)


@asynccontextmanager
async def dependency_call(
    name: str,
    target: Target,
    *,
    component: str,
    turn_context: TurnContext | None = None,
    kind: SpanKind = SpanKind.CLIENT,
    attributes: Mapping[str, AttributeValue] | None = None,
    trace_activities: TraceActivities = TraceActivities.EMULATOR,
    policy: PrivacyPolicy | None = None,
) -> AsyncIterator[DependencyCall]:
    """Time the block as one call to ``target``; an exception is recorded and re-raised as is.

    Afterwards the call is sent to ``turn_context``'s conversation (or the turn this task is
    in) as a trace activity, unless ``trace_activities`` says otherwise.
    """
    span = _tracer.start_span(
        name,
        kind=kind,
        attributes={**target.attributes(), ATTR_COMPONENT: component, **(attributes or {})},
        record_exception=False,
        set_status_on_exception=False,
    )
    call = DependencyCall(span)
    started = time.perf_counter_ns()
    token = otel_context.attach(_call_context(span, kind))
    try:
        yield call
    except BaseException as error:
        otel_context.detach(token)
        report = _finish(call, name, target, component, started, error)
        # A cancelled task must stop now; anything else is reported before it propagates.
        if isinstance(error, Exception):
            await _send(report, turn_context, trace_activities, policy)
        raise
    otel_context.detach(token)
    report = _finish(call, name, target, component, started, None)
    await _send(report, turn_context, trace_activities, policy)


def _call_context(span: trace.Span, kind: SpanKind) -> otel_context.Context:
    # One context, attached once: two nested scopes cost ~10 µs per call.
    current = trace.set_span_in_context(span)
    if kind is SpanKind.CLIENT:
        # HTTP calls made for this dependency report under its span, not a nested one.
        current = with_dependency_span(span, current)
    return current


def _finish(
    call: DependencyCall,
    name: str,
    target: Target,
    component: str,
    started: int,
    error: BaseException | None,
) -> DependencyReport:
    span = call.span
    duration_ms = (time.perf_counter_ns() - started) / 1e6
    try:
        code = _record_outcome(call, error)
    except Exception:  # recording must never replace the call's own outcome
        _log.warning("could not record the outcome of %r", name, exc_info=True)
        code = RESULT_OK if error is None else type(error).__name__
    finally:
        span.end()
    context = span.get_span_context()
    return DependencyReport(
        component=component,
        name=name,
        target=target.name,
        duration_ms=duration_ms,
        success=error is None,
        result_code=code,
        trace_id=trace.format_trace_id(context.trace_id),
        span_id=trace.format_span_id(context.span_id),
    )


def _record_outcome(call: DependencyCall, error: BaseException | None) -> str:
    span = call.span
    status = _recorded_status(span)
    if error is None:
        # A library may retry or shrug off a failed request (a blob that is not there is
        # an empty read); the call as a whole succeeded, whatever the last response said.
        failed_request = status is not None and status >= 400
        code = call.result_code or (str(status) if status and not failed_request else RESULT_OK)
    else:
        code = call.result_code or _error_code(error, status)
        span.set_attribute(ATTR_ERROR_TYPE, _qualified_name(type(error)))
        span.set_status(Status(StatusCode.ERROR, _describe(error)))
    span.set_attribute(ATTR_RESULT_CODE, code)
    if error is not None:
        span.record_exception(error, escaped=True)  # last: it calls str(error)
    return code


async def _send(
    report: DependencyReport,
    turn_context: TurnContext | None,
    mode: TraceActivities,
    policy: PrivacyPolicy | None,
) -> None:
    context = turn_context if turn_context is not None else current_turn_context()
    if context is None or mode is TraceActivities.OFF:
        return
    await send_dependency_trace(context, report, mode, policy or current_privacy())


def _recorded_status(span: trace.Span) -> int | None:
    attributes: Any = getattr(span, "attributes", None)
    status = attributes.get(_HTTP_STATUS) if isinstance(attributes, Mapping) else None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _error_code(error: BaseException, recorded: int | None) -> str:
    # azure-core's HttpResponseError has status_code, aiohttp's ClientResponseError status.
    for attribute in ("status_code", "status"):
        status = getattr(error, attribute, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return str(status)
    if recorded is not None and recorded >= 400:
        return str(recorded)
    return type(error).__name__


def _describe(error: BaseException) -> str:
    try:
        message = str(error)
    except Exception:  # an exception whose __str__ fails must not replace the real one
        message = ""
    return f"{type(error).__name__}: {message}"[:512] if message else type(error).__name__


def _qualified_name(kind: type[BaseException]) -> str:
    return kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}"
    )


def _address_of(url: str | None) -> tuple[str | None, int | None]:
    if not url:
        return None, None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if parts.hostname is None:
        return None, None
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.hostname, port
