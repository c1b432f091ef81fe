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
import traceback as traceback_module
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import _logs as logs
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import contract
from ..privacy import PrivacyPolicy
from .custom_events import attribute_value, track_custom_event

_log = logging.getLogger(__name__)

_HTTP_TYPES = frozenset({"http", "https", "ajax"})
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def record_event(
    name: str,
    properties: Mapping[str, object] | None,
    measurements: Mapping[str, object] | None,
    policy: PrivacyPolicy,
) -> None:
    """A custom event: an Application Insights customEvents row and a span event."""
    try:
        track_custom_event(
            name, entity_names_only(properties, policy), numbers(measurements), privacy=policy
        )
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
    """The exception on the current span (or the turn's) and as a log record; message and
    stack go through the policy's redaction."""
    try:
        if value is None and exception_type is None:
            return
        if value is None:
            assert exception_type is not None
            value = exception_type()
        exception_type = exception_type or type(value)
        tb = tb or value.__traceback__
        attributes = attributes_of(properties, policy)
        attributes.update(numbers(measurements))
        message = policy.redact_text(str(value))
        kind = qualified_name(exception_type)
        stack = policy.redact_text(
            "".join(traceback_module.format_exception(exception_type, value, tb))
        )
        details = {
            "exception.type": kind,
            "exception.message": message,
            "exception.stacktrace": stack,
        }
        span = trace.get_current_span()
        if span.is_recording():
            # record_exception would format the raw message; pass ours, redacted.
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
        attributes.update(numbers(measurements))
        attributes.update(_target_attributes(target))
        if dependency_id:
            attributes["bot.dependency.id"] = dependency_id
        command = policy.redact_text(str(data)) if data else ""
        code = as_int(result_code)
        if (type_name or "").lower() in _HTTP_TYPES:
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
            name, kind=SpanKind.CLIENT, attributes=attributes, start_time=start_ns
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


def numbers(measurements: Mapping[str, object] | None) -> dict[str, float]:
    """The real numbers among ``measurements`` (bools are not), as floats."""
    found: dict[str, float] = {}
    for key, value in (measurements or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[key] = float(value)
    return found


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
        found[contract.ENTITIES] = policy.redact_text(text)
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


def _target_attributes(target: str | None) -> dict[str, Any]:
    if not target:
        return {}
    attributes: dict[str, Any] = {
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
