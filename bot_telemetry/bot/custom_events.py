"""Custom events: the ``BotMessage*``, ``LuisIntent.*`` and ``QnAMessage`` signals.

One event is written twice, on purpose: as an OpenTelemetry log record carrying
``microsoft.custom_event.name`` (Azure Monitor turns it into a customEvents row; our
collector stores it as an event) and as a span event on the current span, because trace
viewers such as Jaeger and Tempo show span events but not log records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import _logs as logs
from opentelemetry import context, trace

from ..export import current_privacy
from ..privacy import PrivacyPolicy

CUSTOM_EVENT_NAME = "microsoft.custom_event.name"

_logger = logs.get_logger("bot_telemetry.events")
_log = logging.getLogger(__name__)


def track_custom_event(
    name: str,
    properties: Mapping[str, Any] | None = None,
    measurements: Mapping[str, float] | None = None,
    *,
    policy: PrivacyPolicy | None = None,
    span: trace.Span | None = None,
) -> None:
    """Record one custom event in the current trace, filtered by the privacy policy.

        track_custom_event("OrderPlaced", {"conversationId": cid}, {"items": 3})
    """
    try:
        policy = policy or current_privacy()
        attributes: dict[str, Any] = {
            key: _attribute_value(value) for key, value in policy.apply(properties or {}).items()
        }
        for key, number in (measurements or {}).items():
            attributes[key] = float(number)
        attributes[CUSTOM_EVENT_NAME] = name
        _logger.emit(
            body=name,
            event_name=name,
            attributes=attributes,
            context=context.get_current(),
            severity_number=logs.SeverityNumber.INFO,
            severity_text="INFO",
        )
        target = span or trace.get_current_span()
        if target.is_recording():
            target.add_event(name, attributes)
    except Exception:  # telemetry must never raise into a turn
        _log.exception("could not record custom event %r", name)


def _attribute_value(value: Any) -> str | bool | int | float:
    if isinstance(value, str | bool | int | float):
        return value
    try:
        return json.dumps(value, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)
