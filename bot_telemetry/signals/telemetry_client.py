"""What a runtime's telemetry client records, whichever runtime calls it.

botbuilder's components report through a ``BotTelemetryClient`` (8 methods), the Agents
SDK's dialogs through an ``AgentTelemetryClient`` (4 of them: event, exception,
dependency, flush). Both clients (``bot_telemetry.bot.telemetry_client`` and
``bot_telemetry.agents.telemetry_client``) record through these functions, so an event,
exception or dependency looks the same from either: a custom event, a span event plus a
log record, a CLIENT span under the current span. Nothing here raises.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

from opentelemetry import _logs as logs
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import contract
from ..privacy import PrivacyPolicy
from ..privacy.exceptions import already_recorded
from ..privacy.policy import plain_key
from .custom_events import (
    attribute_value,
    measurement_json,
    track_custom_event,
    turn_personal_values,
)
from .metrics import dialog_event

_log = logging.getLogger(__name__)
#: Waterfall dialogs' events (botbuilder's and the Agents SDK's), as bot.dialog.runs counts them.
_DIALOG_OUTCOMES = {
    contract.WATERFALL_START: contract.DIALOG_STARTED,
    contract.WATERFALL_COMPLETE: contract.DIALOG_COMPLETED,
    contract.WATERFALL_CANCEL: contract.DIALOG_CANCELLED,
}

_HTTP_TYPES = frozenset({"http", "https", "ajax"})
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def record_event(
    name: str,
    properties: Mapping[str, object] | None,
    measurements: Mapping[str, object] | None,
    policy: PrivacyPolicy,
) -> None:
    """A custom event: an Application Insights customEvents row and a span event (a
    waterfall dialog's start, completion or cancellation also counts in bot.dialog.runs)."""
    try:
        track_custom_event(
            name,
            entity_names_only(properties, policy),
            measurements,  # type: ignore[arg-type]  # track_custom_event keeps the numbers
            privacy=policy,
        )
        outcome = _DIALOG_OUTCOMES.get(name)
        if outcome is not None:
            dialog = (properties or {}).get(contract.DIALOG_ID)
            dialog_event(dialog if isinstance(dialog, str) else None, outcome)
    except Exception:
        _log.exception("could not track event %r", name)


def record_exception(
    exception_type: type | None,
    value: BaseException | None,
    tb: TracebackType | None,
    properties: Mapping[str, object] | None,
    measurements: Mapping[str, object] | None,
    policy: PrivacyPolicy,
    logger: logs.Logger,
) -> None:
    """The exception on the current span and as a log record; its message only when
    personal data may be logged, then redacted (``bot_telemetry.privacy.exceptions``)."""
    try:
        if value is None and exception_type is None:
            return
        if value is None:
            assert exception_type is not None
            value = exception_type()
        exception_type = exception_type or type(value)
        if value.__traceback__ is None and tb is not None:
            value = value.with_traceback(tb)
        attributes = attributes_of(properties, policy)
        add_measurements(attributes, measurements)
        details: dict[str, str] = policy.exception_attributes(value)
        kind = qualified_name(exception_type)
        details["exception.type"] = kind
        message = details.get("exception.message", kind)
        span = trace.get_current_span()
        if already_recorded(value):
            # The failed turn's span has it (an on_turn_error handler tracking the turn's
            # error): the log record says which type, and it is counted once.
            attributes["error.type"] = kind
        elif span.is_recording():
            # record_exception would format the raw message; pass ours.
            span.add_event("exception", {**attributes, **details})
            # Azure Monitor turns both the span event and an exception.* log record into
            # an exceptions row; the log record keeps only error.type so it is counted once.
            attributes["error.type"] = kind
        else:
            attributes.update(details)
        logger.emit(
            body=message,
            attributes=attributes,
            context=context.get_current(),
            severity_number=logs.SeverityNumber.ERROR,
            severity_text="ERROR",
        )
    except Exception:
        _log.exception("could not track an exception")


def record_dependency(
    tracer: trace.Tracer,
    name: str,
    data: str | None,
    type_name: str | None,
    target: str | None,
    duration: float | None,
    success: bool | None,
    result_code: str | None,
    properties: Mapping[str, object] | None,
    measurements: Mapping[str, object] | None,
    dependency_id: str | None,
    policy: PrivacyPolicy,
) -> None:
    """A CLIENT span under the current span that ended now and lasted ``duration`` ms.

    ``type_name`` HTTP becomes HTTP attributes; any other type is carried in
    ``db.system.name``, the one attribute Azure Monitor copies verbatim into the
    dependency type (otherwise it would show "N/A"). ``target`` becomes ``peer.service``
    and ``server.address``/``server.port``, which every backend draws as a node.
    """
    try:
        start_ns, end_ns = timing(None, duration)
        attributes = attributes_of(properties, policy)
        add_measurements(attributes, measurements)
        attributes.update(_target_attributes(target))
        if dependency_id:
            attributes["bot.dependency.id"] = dependency_id
        type_name = text_of(type_name) if type_name else type_name
        http = (type_name or "").lower() in _HTTP_TYPES
        command = ""
        if data:
            text = str(data)
            command = policy.url(text) if http else policy.free_text(text, turn_personal_values())
        code = as_int(result_code)
        if http:
            method = (name or "").split(" ", 1)[0].upper()
            attributes["http.request.method"] = method if method in _HTTP_METHODS else "_OTHER"
            if command:
                attributes["url.full"] = command
            if code is not None:
                attributes["http.response.status_code"] = code
        else:
            if type_name:
                attributes[contract.ATTR_DB_SYSTEM_NAME] = type_name
            if command:
                attributes["db.query.text"] = command
            if result_code:
                attributes["db.response.status_code"] = str(result_code)
        span = tracer.start_span(
            policy.name(text_of(name)),
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=start_ns,
        )
        if success is not None:
            span.set_status(Status(StatusCode.OK if success else StatusCode.ERROR))
        span.end(end_time=end_ns)
    except Exception:
        _log.exception("could not track dependency %r", name)


def flush_providers() -> None:
    """Export everything queued so far by the global providers (blocking)."""
    try:
        for provider in (trace.get_tracer_provider(), logs.get_logger_provider()):
            force_flush = getattr(provider, "force_flush", None)
            if callable(force_flush):
                force_flush()
    except Exception:
        _log.exception("could not flush telemetry")


def attributes_of(
    properties: Mapping[str, object] | None, policy: PrivacyPolicy
) -> dict[str, str | bool | int | float]:
    """``properties`` the policy allows, as attribute values."""
    allowed = policy.apply(properties or {})
    return {key: attribute_value(value) for key, value in allowed.items()}


def add_measurements(
    attributes: dict[str, str | bool | int | float], measurements: Mapping[str, object] | None
) -> None:
    """Azure Monitor: the customMeasurements of a request, dependency or exception."""
    numbers = measurement_json(measurements)
    if numbers is not None:
        attributes[contract.CUSTOM_MEASUREMENTS] = numbers


def text_of(value: object) -> str:
    """A name botbuilder may pass as an Enum member, as its value."""
    return value if type(value) is str else plain_key(value)


def entity_names_only(
    properties: Mapping[str, object] | None, policy: PrivacyPolicy
) -> dict[str, object]:
    """LUIS puts the recognized entity *values* (pieces of the user's message) in
    ``entities``: unless personal data may be logged keep only the entity names, and when
    it may, redact them like any other text."""
    found = dict(properties or {})
    raw = found.get(contract.ENTITIES)
    if raw is None:
        return found
    if policy.log_personal_information:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        # Inside the JSON's strings only: a score such as 0.8446753 is not a phone number.
        found[contract.ENTITIES] = policy.redact_value(text)
        return found
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        found[contract.ENTITIES] = ",".join(sorted(k for k in parsed if not k.startswith("$")))
    else:
        del found[contract.ENTITIES]
    return found


def timing(start_time: str | None, duration_ms: float | None) -> tuple[int, int]:
    """Start and end in ns: from an ISO ``start_time``, or ending now."""
    duration_ns = int(max(duration_ms or 0, 0) * 1_000_000)
    if start_time:
        started = datetime.fromisoformat(start_time)
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        start_ns = int(started.timestamp() * 1_000_000_000)
        return start_ns, start_ns + duration_ns
    end_ns = time.time_ns()
    return end_ns - duration_ns, end_ns


def as_int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def qualified_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _target_attributes(target: str | None) -> dict[str, str | int]:
    if not target:
        return {}
    attributes: dict[str, str | int] = {
        contract.ATTR_PEER_SERVICE: target,
        contract.ATTR_SERVICE_PEER_NAME: target,
    }
    parsed = urlsplit(target if "//" in target else f"//{target}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if host:
        attributes[contract.ATTR_SERVER_ADDRESS] = host
    if port:
        attributes[contract.ATTR_SERVER_PORT] = port
    return attributes
