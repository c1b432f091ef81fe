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

from .._deprecated import renamed
from ..contract import CUSTOM_EVENT_NAME
from ..privacy import PrivacyPolicy, current_policy

_logger = logs.get_logger("bot_telemetry.events")
_log = logging.getLogger(__name__)
_TURN_PROPERTIES = context.create_key("bot_telemetry.turn_properties")
_TURN_SPAN = context.create_key("bot_telemetry.turn_span")


def with_turn_properties(
    properties: Mapping[str, str],
    parent: context.Context | None = None,
    *,
    span: trace.Span | None = None,
) -> context.Context:
    """A context in which every custom event also carries these properties (unless it sets
    them itself). ``TelemetryMiddleware`` uses it so that events from dialogs, recognizers
    and Q&A carry the turn's ``activityId``/``conversationId`` like the BotMessage* ones.
    ``span`` is the turn's span: events recorded where the current span does not record
    (a span switched off, such as the Agents SDK's own) become its span events.
    """
    found = context.set_value(_TURN_PROPERTIES, dict(properties), parent)
    return context.set_value(_TURN_SPAN, span, found) if span is not None else found


def turn_properties() -> Mapping[str, str]:
    """The properties set by ``with_turn_properties`` in the current context, if any."""
    found = context.get_value(_TURN_PROPERTIES)
    return found if isinstance(found, dict) else {}


def turn_span() -> trace.Span:
    """The span of the turn this code runs in (set by ``with_turn_properties``), or an
    invalid, non-recording span outside a turn."""
    found = context.get_value(_TURN_SPAN)
    return found if isinstance(found, trace.Span) else trace.INVALID_SPAN


def track_custom_event(
    name: str,
    properties: Mapping[str, Any] | None = None,
    measurements: Mapping[str, float] | None = None,
    *,
    privacy: PrivacyPolicy | None = None,
    span: trace.Span | None = None,
    policy: PrivacyPolicy | None = None,
) -> None:
    """Record one custom event in the current trace, filtered by the privacy policy.

    track_custom_event("OrderPlaced", {"conversationId": cid}, {"items": 3})
    """
    try:
        policy = renamed("track_custom_event", "policy", "privacy", policy, privacy)
        policy = policy or current_policy()
        merged = dict(turn_properties())
        merged.update((k, v) for k, v in (properties or {}).items() if v is not None)
        attributes: dict[str, Any] = {
            key: attribute_value(value) for key, value in policy.apply(merged).items()
        }
        for key, number in (measurements or {}).items():
            if isinstance(number, int | float) and not isinstance(number, bool):
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
        if not target.is_recording():
            target = turn_span()
        if target.is_recording():
            target.add_event(name, attributes)
    except Exception:  # telemetry must never raise into a turn
        _log.exception("could not record custom event %r", name)


def attribute_value(value: Any) -> str | bool | int | float:
    """``value`` as an OpenTelemetry attribute: scalars as they are, the rest as JSON."""
    if isinstance(value, str | bool | int | float):
        return value
    try:
        return json.dumps(value, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)
