"""``OpenTelemetryAgentTelemetryClient``: the Agents SDK dialogs' telemetry client in
OpenTelemetry terms.

microsoft-agents-hosting-dialogs reports through a client with four methods
(``track_event``, ``track_exception``, ``track_dependency``, ``flush``; its
``AgentTelemetryClient`` lives in a private module, so this one has the same methods
rather than its base class). Only ``WaterfallDialog`` calls it, with botbuilder's event
names and properties (``WaterfallStart``, ``WaterfallStep``, ``WaterfallComplete``,
``WaterfallCancel``); they are recorded exactly as botbuilder's client records them:

    client = OpenTelemetryAgentTelemetryClient()
    set_telemetry_client(booking_dialog, client)
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import _logs as logs
from opentelemetry import trace

from ..privacy import PrivacyPolicy, current_policy
from ..signals.telemetry_client import (
    flush_providers,
    record_dependency,
    record_event,
    record_exception,
)

__all__ = ["OpenTelemetryAgentTelemetryClient"]

_tracer = trace.get_tracer("bot_telemetry.agents")
_logger = logs.get_logger("bot_telemetry.agents")


class OpenTelemetryAgentTelemetryClient:
    """Every method of the Agents SDK's ``AgentTelemetryClient``, recorded in the current
    OpenTelemetry trace and filtered by the privacy policy.

    ``privacy`` defaults to the policy of the current ``configure()`` call. No method
    raises: a failure to record is logged and the agent carries on.
    """

    def __init__(self, privacy: PrivacyPolicy | None = None) -> None:
        if privacy is not None and not isinstance(privacy, PrivacyPolicy):
            # Accepted, it failed every event later, one logged traceback each.
            raise TypeError(
                "OpenTelemetryAgentTelemetryClient(privacy=...) takes a PrivacyPolicy or None, "
                f"got {type(privacy).__name__}; for botbuilder's log_personal_information "
                "flag write PrivacyPolicy(log_personal_information=True)"
            )
        self._privacy = privacy

    @property
    def privacy(self) -> PrivacyPolicy:
        return self._privacy or current_policy()

    def track_event(
        self,
        name: str,
        properties: Mapping[str, object] | None = None,
        metrics: Mapping[str, object] | None = None,
    ) -> None:
        """A custom event: an Application Insights customEvents row and a span event."""
        record_event(name, properties, metrics, self.privacy)

    def track_exception(
        self,
        exception: BaseException,
        properties: Mapping[str, object] | None = None,
        measurements: Mapping[str, object] | None = None,
    ) -> None:
        """The exception on the current span and as a log record, message redacted."""
        record_exception(
            type(exception),
            exception,
            exception.__traceback__,
            properties,
            measurements,
            self.privacy,
            _logger,
        )

    def track_dependency(
        self,
        name: str,
        data: str | None = None,
        type_name: str | None = None,
        target: str | None = None,
        duration: float | None = None,
        success: bool = True,
        result_code: str | None = None,
        properties: Mapping[str, object] | None = None,
    ) -> None:
        """A CLIENT span under the current span that ended now and lasted ``duration`` ms,
        as botbuilder's client records it (``target`` names the app-map node)."""
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
            None,
            None,
            self.privacy,
        )

    def flush(self) -> None:
        """Export everything queued so far by the global providers (blocking)."""
        flush_providers()
