"""``OpenTelemetryBotTelemetryClient``: botbuilder's ``BotTelemetryClient`` in OpenTelemetry terms.

Hand it to botbuilder's components (dialogs, ``LuisRecognizer``, ``QnAMaker``) and what
they report lands in the current trace, filtered by the privacy policy:

    client = OpenTelemetryBotTelemetryClient()
    set_telemetry_client(dialog, client)
    recognizer = LuisRecognizer(app, LuisRecognizerOptionsV3(telemetry_client=client))
"""

from __future__ import annotations

import logging
import re
import sys
from types import TracebackType

from botbuilder.core import BotTelemetryClient, Severity
from botbuilder.core.bot_telemetry_client import TelemetryDataPointType
from opentelemetry import _logs as logs
from opentelemetry import context, metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..privacy import PrivacyPolicy, current_policy
from ..signals.custom_events import track_custom_event, turn_personal_values
from ..signals.telemetry_client import (
    add_measurements,
    as_int,
    attributes_of,
    flush_providers,
    record_dependency,
    record_event,
    record_exception,
    text_of,
    timing,
)

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("bot_telemetry.bot")
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
        record_event(name, properties, measurements, self.privacy)

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
        if value is None and exception_type is None:
            exception_type, value, trace = sys.exc_info()
        record_exception(
            exception_type, value, trace, properties, measurements, self.privacy, _logger
        )

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
            histogram.record(float(value), attributes=attributes_of(properties, self.privacy))
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
                attributes=attributes_of(properties, policy),
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
            start_ns, end_ns = timing(start_time, duration)
            attributes = attributes_of(properties, policy)
            add_measurements(attributes, measurements)
            attributes["url.full"] = policy.url(str(url))
            if http_method:
                attributes["http.request.method"] = http_method.upper()
            status_code = as_int(response_code)
            if status_code is not None:
                attributes["http.response.status_code"] = status_code
            if request_id:
                attributes["bot.request.id"] = request_id
            span = _tracer.start_span(
                policy.name(text_of(name)),
                kind=SpanKind.SERVER,
                attributes=attributes,
                start_time=start_ns,
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
        record_dependency(
            _tracer,
            name,
            data,
            type_name,
            target,
            duration,
            success,
            result_code,
            properties,
            measurements,
            dependency_id,
            self.privacy,
        )

    def flush(self) -> None:
        """Export everything queued so far by the global providers (blocking)."""
        flush_providers()


def _severity(severity: Severity | str | None) -> Severity:
    if isinstance(severity, Severity):
        return severity
    if isinstance(severity, str):
        return _SEVERITY_NAMES.get(severity.upper(), Severity.information)
    return Severity.information
