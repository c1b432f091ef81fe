"""One clear warning when telemetry would go nowhere.

A bot that adds the middleware but never calls ``configure()`` (and sets up no
OpenTelemetry SDK of its own) records nothing: the OpenTelemetry API hands out no-op spans.
Silence there looks like success, so the first turn that finds its span is not recording
says so, once per process.
"""

from __future__ import annotations

import logging

from opentelemetry import trace

_log = logging.getLogger("bot_telemetry")
_warned = False

NOT_CONFIGURED = (
    "bot_telemetry: no OpenTelemetry SDK is set up, so this bot's telemetry goes nowhere "
    "(turn spans, custom events, dependencies). Call bot_telemetry.configure(service_name="
    "...) once at start-up, or install an OpenTelemetry SDK TracerProvider and "
    "LoggerProvider yourself. This warning is shown once."
)


def warn_if_not_recording(span: trace.Span) -> bool:
    """Warn once if ``span`` comes from no SDK at all (the API's no-op tracer); True if it
    did. A span an SDK sampled out still has a valid context, and gets no warning."""
    global _warned
    if _warned or span.get_span_context().is_valid:
        return False
    _warned = True
    _log.warning(NOT_CONFIGURED)
    return True


def reset_warning() -> None:
    """Let the next unrecorded turn warn again (for tests)."""
    global _warned
    _warned = False
