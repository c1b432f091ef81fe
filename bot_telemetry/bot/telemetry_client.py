"""``OpenTelemetryBotTelemetryClient``: botbuilder's ``BotTelemetryClient`` in OpenTelemetry terms.

Hand it to botbuilder's components (dialogs, ``LuisRecognizer``, ``QnAMaker``) and what
they report lands in the current trace, filtered by the privacy policy:

    client = OpenTelemetryBotTelemetryClient()
    set_telemetry_client(dialog, client)
    recognizer = LuisRecognizer(app, LuisRecognizerOptionsV3(telemetry_client=client))
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

from botbuilder.core import BotTelemetryClient, Severity
from botbuilder.core.bot_telemetry_client import TelemetryDataPointType
from opentelemetry import _logs as logs
from opentelemetry import context, metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import contract
from ..privacy import PrivacyPolicy, current_policy
from ..privacy.policy import plain_key
from ..signals.custom_events import (
    attribute_value,
    measurement_json,
    track_custom_event,
    turn_personal_values,
)
from ..signals.metrics import dialog_event

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("bot_telemetry.bot")
#: botbuilder's waterfall events, as the bot.dialog.runs metric counts them.
_DIALOG_OUTCOMES = {
    contract.WATERFALL_START: contract.DIALOG_STARTED,
    contract.WATERFALL_COMPLETE: contract.DIALOG_COMPLETED,
    contract.WATERFALL_CANCEL: contract.DIALOG_CANCELLED,
}
_logger = logs.get_logger("bot_telemetry.bot")

_SEVERITIES: dict[Severity, tuple[logs.SeverityNumber, str]] = {
    Severity.verbose: (logs.SeverityNumber.DEBUG, "DEBUG"),
    Severity.information: (logs.SeverityNumber.INFO, "INFO"),
    Severity.warning: (logs.SeverityNumber.WARN, "WARN"),
    Severity.error: (logs.SeverityNumber.ERROR, "ERROR"),
    Severity.critical: (logs.SeverityNumber.FATAL, "FATAL"),
}
# botbuilder's docstring also allows the logging level names.
_SEVERITY_NAMES: dict[str, Severity] = {
    "DEBUG": Severity.verbose,
    "VERBOSE": Severity.verbose,
    "INFO": Severity.information,
    "INFORMATION": Severity.information,
    "WARNING": Severity.warning,
    "WARN": Severity.warning,
    "ERROR": Severity.error,
    "CRITICAL": Severity.critical,
    "FATAL": Severity.critical,
}
_HTTP_TYPES = frozenset({"http", "https", "ajax"})
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_INVALID_INSTRUMENT_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]")
# A page view's own fields: its URL has been made safe already (policy.url).
_PAGE_VIEW_KEYS = frozenset({"url"})


class OpenTelemetryBotTelemetryClient(BotTelemetryClient):  # type: ignore[misc]
    """Every ``BotTelemetryClient`` method, recorded in the current OpenTelemetry trace.

    ``privacy`` defaults to the policy of the current ``configure()`` call. No method
    raises: a failure to record is logged and the bot carries on.
    """

    def __init__(self, privacy: PrivacyPolicy | None = None) -> None:
        self._privacy = privacy

    @property
    def privacy(self) -> PrivacyPolicy:
        return self._privacy or current_policy()

    def track_event(
        self,
        name: str,
        properties: dict[str, object] | None = None,
        measurements: dict[str, object] | None = None,
    ) -> None:
        """A custom event: an Application Insights customEvents row and a span event."""
        try:
            policy = self.privacy
            track_custom_event(
                name,
                _entity_names_only(properties, policy),
                measurements,  # type: ignore[arg-type]  # track_custom_event keeps the numbers
                privacy=policy,
            )
            outcome = _DIALOG_OUTCOMES.get(name)
            if outcome is not None:
                dialog = (properties or {}).get(contract.DIALOG_ID)
                dialog_event(dialog if isinstance(dialog, str) else None, outcome)
        except Exception:
            _log.exception("could not track event %r", name)

    def track_pageview(
        self,
        name: str,
        url: str,
        duration: int = 0,
        properties: dict[str, object] | None = None,
        measurements: dict[str, object] | None = None,
    ) -> None:
        """A page view, recorded as a custom event named ``name`` with ``url`` and ``duration``."""
        try:
            policy = self.privacy
            track_custom_event(
                name,
                {**(properties or {}), "url": policy.url(str(url))},
                {**(measurements or {}), "duration": float(duration or 0)},  # type: ignore[dict-item]
                privacy=policy,
                known_safe=_PAGE_VIEW_KEYS,
            )
        except Exception:
            _log.exception("could not track page view %r", name)

    def track_exception(
        self,
        exception_type: type | None = None,
        value: BaseException | None = None,
        trace: TracebackType | None = None,
        properties: dict[str, object] | None = None,
        measurements: dict[str, object] | None = None,
    ) -> None:
        """The exception (default: the one being handled) on the current span and as a log
        record."""
        try:
            if value is None and exception_type is None:
                exception_type, value, trace = sys.exc_info()
            if value is None and exception_type is None:
                return
            if value is None:
                assert exception_type is not None
                value = exception_type()
            exception_type = exception_type or type(value)
            if value.__traceback__ is None and trace is not None:
                value = value.with_traceback(trace)
            policy = self.privacy
            attributes = _attributes(properties, policy)
            _add_measurements(attributes, measurements)
            # The message only when personal data may be logged (then redacted): see
            # bot_telemetry.privacy.exceptions.
            details: dict[str, str] = policy.exception_attributes(value)
            kind = _qualified_name(exception_type)
            details["exception.type"] = kind
            message = details.get("exception.message", kind)
            span = _current_span()
            if span.is_recording():
                # record_exception would format the raw message; pass ours.
                span.add_event("exception", {**attributes, **details})
                # Azure Monitor turns both the span event and an exception.* log record into
                # an exceptions row; the log record keeps only error.type so it is counted once.
                attributes["error.type"] = kind
            else:
                attributes.update(details)
            _logger.emit(
                body=message,
                attributes=attributes,
                context=context.get_current(),
                severity_number=logs.SeverityNumber.ERROR,
                severity_text="ERROR",
            )
        except Exception:
            _log.exception("could not track an exception")

    def track_metric(
        self,
        name: str,
        value: float,
        tel_type: TelemetryDataPointType | None = None,
        count: int | None = None,
        min_val: float | None = None,
        max_val: float | None = None,
        std_dev: float | None = None,
        properties: dict[str, object] | None = None,
    ) -> None:
        """One data point on a histogram named ``name``.

        OpenTelemetry aggregates itself, so a pre-aggregated point (``count``, ``min_val``,
        ...) is recorded as its value alone.
        """
        try:
            instrument_name = _INVALID_INSTRUMENT_CHARS.sub("_", name)[:255]
            if not instrument_name[:1].isalpha():
                instrument_name = f"metric_{instrument_name}"[:255]
            histogram = metrics.get_meter("bot_telemetry.bot").create_histogram(instrument_name)
            histogram.record(float(value), attributes=_attributes(properties, self.privacy))
        except Exception:
            _log.exception("could not track metric %r", name)

    def track_trace(
        self,
        name: str,
        properties: dict[str, object] | None = None,
        severity: Severity | str | None = None,
    ) -> None:
        """A log record with the mapped severity; the message goes through the redaction."""
        try:
            policy = self.privacy
            number, text = _SEVERITIES[_severity(severity)]
            _logger.emit(
                body=policy.free_text(str(name), turn_personal_values()),
                attributes=_attributes(properties, policy),
                context=context.get_current(),
                severity_number=number,
                severity_text=text,
            )
        except Exception:
            _log.exception("could not track a trace")

    def track_request(
        self,
        name: str,
        url: str,
        success: bool,
        start_time: str | None = None,
        duration: int | None = None,
        response_code: str | None = None,
        http_method: str | None = None,
        properties: dict[str, object] | None = None,
        measurements: dict[str, object] | None = None,
        request_id: str | None = None,
    ) -> None:
        """A SERVER span under the current span, with the given timing and outcome."""
        try:
            policy = self.privacy
            start_ns, end_ns = _timing(start_time, duration)
            attributes = _attributes(properties, policy)
            _add_measurements(attributes, measurements)
            attributes["url.full"] = policy.url(str(url))
            if http_method:
                attributes["http.request.method"] = http_method.upper()
            status_code = _int(response_code)
            if status_code is not None:
                attributes["http.response.status_code"] = status_code
            if request_id:
                attributes["bot.request.id"] = request_id
            span = _tracer.start_span(
                _text(name), kind=SpanKind.SERVER, attributes=attributes, start_time=start_ns
            )
            span.set_status(Status(StatusCode.OK if success else StatusCode.ERROR))
            span.end(end_time=end_ns)
        except Exception:
            _log.exception("could not track request %r", name)

    def track_dependency(
        self,
        name: str,
        data: str,
        type_name: str | None = None,
        target: str | None = None,
        duration: int | None = None,
        success: bool | None = None,
        result_code: str | None = None,
        properties: dict[str, object] | None = None,
        measurements: dict[str, object] | None = None,
        dependency_id: str | None = None,
    ) -> None:
        """A CLIENT span under the current span that ended now and lasted ``duration`` ms.

        ``type_name`` HTTP becomes HTTP attributes; any other type is carried in
        ``db.system.name``, the one attribute Azure Monitor copies verbatim into the
        dependency type (otherwise it would show "N/A"). ``target`` becomes ``peer.service``
        and ``server.address``/``server.port``, which every backend draws as a node.
        """
        try:
            policy = self.privacy
            start_ns, end_ns = _timing(None, duration)
            attributes = _attributes(properties, policy)
            _add_measurements(attributes, measurements)
            attributes.update(_target_attributes(target))
            if dependency_id:
                attributes["bot.dependency.id"] = dependency_id
            type_name = _text(type_name) if type_name else type_name
            http = (type_name or "").lower() in _HTTP_TYPES
            command = ""
            if data:
                text = str(data)
                command = (
                    policy.url(text) if http else policy.free_text(text, turn_personal_values())
                )
            code = _int(result_code)
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
            span = _tracer.start_span(
                _text(name), kind=SpanKind.CLIENT, attributes=attributes, start_time=start_ns
            )
            if success is not None:
                span.set_status(Status(StatusCode.OK if success else StatusCode.ERROR))
            span.end(end_time=end_ns)
        except Exception:
            _log.exception("could not track dependency %r", name)

    def flush(self) -> None:
        """Export everything queued so far by the global providers (blocking)."""
        try:
            for provider in (trace.get_tracer_provider(), logs.get_logger_provider()):
                force_flush = getattr(provider, "force_flush", None)
                if callable(force_flush):
                    force_flush()
        except Exception:
            _log.exception("could not flush telemetry")


def _current_span() -> trace.Span:
    # botbuilder's parameter named ``trace`` shadows the module inside track_exception.
    return trace.get_current_span()


def _attributes(
    properties: Mapping[str, object] | None, policy: PrivacyPolicy
) -> dict[str, str | bool | int | float]:
    allowed = policy.apply(properties or {})
    return {key: attribute_value(value) for key, value in allowed.items()}


def _add_measurements(
    attributes: dict[str, str | bool | int | float], measurements: Mapping[str, object] | None
) -> None:
    # Azure Monitor: the customMeasurements of the request, dependency or exception.
    numbers = measurement_json(measurements)
    if numbers is not None:
        attributes[contract.CUSTOM_MEASUREMENTS] = numbers


def _text(value: object) -> str:
    """A name botbuilder may pass as an Enum member, as its value."""
    return value if type(value) is str else plain_key(value)


def _entity_names_only(
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


def _severity(severity: Severity | str | None) -> Severity:
    if isinstance(severity, Severity):
        return severity
    if isinstance(severity, str):
        return _SEVERITY_NAMES.get(severity.upper(), Severity.information)
    return Severity.information


def _timing(start_time: str | None, duration_ms: int | None) -> tuple[int, int]:
    duration_ns = int(max(duration_ms or 0, 0) * 1_000_000)
    if start_time:
        started = datetime.fromisoformat(start_time)
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        start_ns = int(started.timestamp() * 1_000_000_000)
        return start_ns, start_ns + duration_ns
    end_ns = time.time_ns()
    return end_ns - duration_ns, end_ns


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


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _qualified_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
