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
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from .._deprecated import renamed
from ..contract import (
    ATTR_DB_NAMESPACE,
    ATTR_DB_SYSTEM_NAME,
    ATTR_DEPENDENCY_COMPONENT,
    ATTR_PEER_SERVICE,
    ATTR_SERVER_ADDRESS,
    ATTR_SERVER_PORT,
    ATTR_SERVICE_PEER_NAME,
)
from ..correlation.dependency_context import with_dependency_span
from ..privacy import PrivacyPolicy, current_policy
from ..signals.metrics import dependency_call_ended, error_type
from ..signals.turn_context import TurnContextLike, current_turn_context
from .trace_activities import (
    DependencyReport,
    TraceActivities,
    send_dependency_trace,
    wants_trace,
)

#: What kind of component made the call: Recognizer, QnA, Storage, Middleware.
ATTR_COMPONENT: Final = ATTR_DEPENDENCY_COMPONENT
#: The call's result code: an HTTP or storage status when one is known, else ``OK`` or
#: the exception's type. Azure Monitor's ``resultCode``; the trace activity's too.
ATTR_RESULT_CODE: Final = "bot.dependency.result_code"
#: Semantic-convention error class, set when the call raised.
ATTR_ERROR_TYPE: Final = "error.type"
#: A status the HTTP client instrumentation may have put on the span while in scope.
_HTTP_STATUS: Final = "http.response.status_code"

RESULT_OK: Final = "OK"
_ESCAPED: Final = "exception.escaped"

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
        address, port = address_of(url)
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
        self.failed = False
        self.description: str | None = None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self.span.set_attribute(key, value)

    def set_result_code(self, code: str | int) -> None:
        self.result_code = str(code)

    def set_failed(self, code: str | int, description: str | None = None) -> None:
        """The call failed without raising (an HTTP error status read by a hook): ``code`` is
        its result code and ``error.type``, ``description`` its status's (never user data)."""
        self.result_code = str(code)
        self.failed = True
        self.description = description


def dependency_call(
    name: str,
    target: Target,
    *,
    component: str,
    turn_context: TurnContextLike | None = None,
    kind: SpanKind = SpanKind.CLIENT,
    attributes: Mapping[str, AttributeValue] | None = None,
    trace_activities: TraceActivities = TraceActivities.EMULATOR,
    privacy: PrivacyPolicy | None = None,
    policy: PrivacyPolicy | None = None,
    current: bool = True,
) -> DependencyScope:
    """Time the block as one call to ``target``; an exception is recorded and re-raised as is.

    Afterwards the call is sent to ``turn_context``'s conversation (or the turn this task is
    in) as a trace activity, unless ``trace_activities`` says otherwise.

    ``current=False`` leaves the span out of the context: for a call entered and exited by
    hooks (an HTTP client's request and response hooks), whose caller's code runs between.
    """
    privacy = renamed("dependency_call", "policy", "privacy", policy, privacy)
    return DependencyScope(
        name, target, component, turn_context, kind, attributes, trace_activities, privacy, current
    )


class DependencyScope(AbstractAsyncContextManager[DependencyCall]):
    """``dependency_call``'s scope."""

    # A class rather than @asynccontextmanager: the generator machinery cost ~4 µs per call.
    def __init__(
        self,
        name: str,
        target: Target,
        component: str,
        turn_context: TurnContextLike | None,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        trace_activities: TraceActivities,
        policy: PrivacyPolicy | None,
        current: bool = True,
    ) -> None:
        self._name = name
        self._current = current
        self._target = target
        self._component = component
        self._turn_context = turn_context
        self._kind = kind
        self._attributes = attributes
        self._trace_activities = trace_activities
        self._policy = policy

    async def __aenter__(self) -> DependencyCall:
        attributes = self._target.attributes()
        attributes[ATTR_COMPONENT] = self._component
        if self._attributes:
            attributes.update(self._attributes)
        span = _tracer.start_span(
            self._name,
            kind=self._kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._call = DependencyCall(span)
        self._started = time.perf_counter_ns()
        self._token = (
            otel_context.attach(_call_context(span, self._kind)) if self._current else None
        )
        return self._call

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        duration_ms, code = self._end(error)
        # A cancelled task must stop now; anything else is reported before it propagates.
        if error is None or isinstance(error, Exception):
            await self._send(duration_ms, code, error is None and not self._call.failed)
        return False

    def end_unreported(self, error: BaseException | None = None) -> None:
        """End the call now, without its trace activity: for a call that ends outside its
        turn (a hook's call whose response was garbage-collected)."""
        self._end(error)

    def _end(self, error: BaseException | None) -> tuple[float, str]:
        """End the span and count the call; its duration in ms and its result code."""
        if self._token is not None:
            otel_context.detach(self._token)
        elapsed_ns = time.perf_counter_ns() - self._started
        code = _finish(self._call, self._name, error, self._policy)
        dependency_call_ended(self._target.name, self._component, elapsed_ns / 1e9, error)
        return elapsed_ns / 1e6, code

    async def _send(self, duration_ms: float, code: str, success: bool) -> None:
        context = self._turn_context
        if context is None:
            context = current_turn_context()
        mode = self._trace_activities
        # Checked before the report is built: most channels drop trace activities anyway.
        if context is None:
            return
        try:
            wanted = wants_trace(context, mode)
        except Exception:  # send_dependency_trace logs it
            wanted = True
        if not wanted:
            return
        span_context = self._call.span.get_span_context()
        report = DependencyReport(
            component=self._component,
            name=self._name,
            target=self._target.name,
            duration_ms=duration_ms,
            success=success,
            result_code=code,
            trace_id=trace.format_trace_id(span_context.trace_id),
            span_id=trace.format_span_id(span_context.span_id),
        )
        await send_dependency_trace(context, report, mode, self._policy or current_policy())


def _call_context(span: trace.Span, kind: SpanKind) -> otel_context.Context:
    # One context, attached once: two nested scopes cost ~10 µs per call.
    current = trace.set_span_in_context(span)
    if kind is SpanKind.CLIENT:
        # HTTP calls made for this dependency report under its span, not a nested one.
        current = with_dependency_span(span, current)
    return current


def _finish(
    call: DependencyCall, name: str, error: BaseException | None, policy: PrivacyPolicy | None
) -> str:
    """End the span with its outcome; the result code."""
    try:
        return _record_outcome(call, error, policy)
    except Exception:  # recording must never replace the call's own outcome
        _log.warning("could not record the outcome of %r", name, exc_info=True)
        return RESULT_OK if error is None else type(error).__name__
    finally:
        call.span.end()


def _record_outcome(
    call: DependencyCall, error: BaseException | None, policy: PrivacyPolicy | None
) -> str:
    span = call.span
    status = _recorded_status(span)
    if error is None and call.failed:
        code = call.result_code or RESULT_OK
        span.set_attribute(ATTR_ERROR_TYPE, code)
        span.set_status(Status(StatusCode.ERROR, call.description))
    elif error is None:
        # A library may retry or shrug off a failed request (a blob that is not there is
        # an empty read); the call as a whole succeeded, whatever the last response said.
        failed_request = status is not None and status >= 400
        code = call.result_code or (str(status) if status and not failed_request else RESULT_OK)
    else:
        code = call.result_code or _error_code(error, status)
        span.set_attribute(ATTR_ERROR_TYPE, error_type(error))
    span.set_attribute(ATTR_RESULT_CODE, code)
    if error is not None:
        # Not span.record_exception: exception messages quote data (a URL with the user's
        # question, a storage key with their id); the policy says what may be recorded.
        policy = policy or current_policy()
        span.set_status(Status(StatusCode.ERROR, policy.error_description(error)))
        span.add_event("exception", {**policy.exception_attributes(error), _ESCAPED: True})
    return code


def _recorded_status(span: trace.Span) -> int | None:
    attributes: Any = getattr(span, "attributes", None)
    status = attributes.get(_HTTP_STATUS) if isinstance(attributes, Mapping) else None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _error_code(error: BaseException, recorded: int | None) -> str:
    # azure-core's HttpResponseError has status_code, aiohttp's ClientResponseError status;
    # httpx's HTTPStatusError (raise_for_status) and requests' HTTPError keep the response.
    response = getattr(error, "response", None)
    for owner, attribute in ((error, "status_code"), (error, "status"), (response, "status_code")):
        status = getattr(owner, attribute, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return str(status)
    if recorded is not None and recorded >= 400:
        return str(recorded)
    return type(error).__name__


def address_of(url: str | None) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` of ``url`` (the scheme's port by default)."""
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
