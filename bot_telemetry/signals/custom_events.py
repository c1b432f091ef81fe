"""Custom events: the ``BotMessage*``, ``LuisIntent.*`` and ``QnAMessage`` signals.

One event is written twice, on purpose: as an OpenTelemetry log record carrying
``microsoft.custom_event.name`` (Azure Monitor turns it into a customEvents row; our
collector stores it as an event) and as a span event on the current span, because trace
viewers such as Jaeger and Tempo show span events but not log records.

Names, keys and values are what botbuilder means by them: an ``Enum`` member (botbuilder
passes ``LuisTelemetryConstants.luis_result``) is its value (``LuisResult``), and numeric
measurements travel as one ``microsoft.custom_measurements`` JSON object, which Azure
Monitor files under customMeasurements.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection, Iterable, Mapping
from enum import Enum
from typing import Any

from opentelemetry import _logs as logs
from opentelemetry import context, trace

from .._deprecated import renamed
from ..contract import CUSTOM_EVENT_NAME, CUSTOM_MEASUREMENTS
from ..privacy import PrivacyPolicy, current_policy
from ..privacy.policy import plain_key
from .turn_consent import turn_consent_granted

_logger = logs.get_logger("bot_telemetry.events")
_log = logging.getLogger(__name__)
_TURN_PROPERTIES = context.create_key("bot_telemetry.turn_properties")
_TURN_PERSONAL = context.create_key("bot_telemetry.turn_personal_values")
_TURN_SPAN = context.create_key("bot_telemetry.turn_span")
#: Personal values shorter than this are not looked for in free text (they match too much).
MIN_PERSONAL_VALUE_LENGTH = 3


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


def turn_span() -> trace.Span:
    """The span of the turn this code runs in (set by ``with_turn_properties``), or an
    invalid, non-recording span outside a turn."""
    found = context.get_value(_TURN_SPAN)
    return found if isinstance(found, trace.Span) else trace.INVALID_SPAN


def turn_properties() -> Mapping[str, str]:
    """The properties set by ``with_turn_properties`` in the current context, if any."""
    found = context.get_value(_TURN_PROPERTIES)
    return found if isinstance(found, dict) else {}


def with_turn_personal_values(
    values: Iterable[str | None], parent: context.Context | None = None
) -> context.Context:
    """A context in which free text the developer records (trace messages, dependency
    commands) has these values replaced: the turn's message text, the user's name and id.
    The runtime's middleware sets them; ``turn_personal_values`` reads them back."""
    found = tuple(
        sorted(
            {v for v in values if isinstance(v, str) and len(v) >= MIN_PERSONAL_VALUE_LENGTH},
            key=len,
            reverse=True,  # longest first, so a name inside the text goes with the text
        )
    )
    return context.set_value(_TURN_PERSONAL, found, parent)


def turn_personal_values() -> tuple[str, ...]:
    """The values set by ``with_turn_personal_values`` in the current context, if any."""
    found = context.get_value(_TURN_PERSONAL)
    return found if isinstance(found, tuple) else ()


def track_custom_event(
    name: str,
    properties: Mapping[str, Any] | None = None,
    measurements: Mapping[str, float] | None = None,
    *,
    privacy: PrivacyPolicy | None = None,
    span: trace.Span | None = None,
    policy: PrivacyPolicy | None = None,
    known_safe: Collection[str] = (),
) -> None:
    """Record one custom event in the current trace, filtered by the privacy policy.

    Properties whose value is None are left out. Measurements must be finite numbers; they
    go into ``microsoft.custom_measurements`` (Azure Monitor: customMeasurements).
    ``known_safe`` names properties the caller built and made safe itself (see
    ``PrivacyPolicy.apply``). Under ``consent_mode`` the policy follows the turn's consent
    (``signals.consent``).

    track_custom_event("OrderPlaced", {"conversationId": cid}, {"items": 3})
    """
    try:
        policy = renamed("track_custom_event", "policy", "privacy", policy, privacy)
        policy = policy or current_policy()
        if policy.consent_mode:
            policy = policy.for_consent(turn_consent_granted())
        if type(name) is not str:
            name = plain_key(name)
        name = policy.name(name)
        merged = dict(turn_properties())
        for key, value in (properties or {}).items():
            if value is not None:
                merged[key if type(key) is str else plain_key(key)] = value
        attributes: dict[str, Any] = {
            key: attribute_value(value) for key, value in policy.apply(merged, known_safe).items()
        }
        numbers = measurement_json(measurements)
        if numbers is not None:
            attributes[CUSTOM_MEASUREMENTS] = numbers
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


def measurement_json(measurements: Mapping[Any, Any] | None) -> str | None:
    """Finite numbers among ``measurements`` as one compact JSON object (None if there are
    none): the value of ``microsoft.custom_measurements``. Booleans are not numbers here.

    >>> measurement_json({"score": 1, "flag": True, "nan": float("nan")})
    '{"score":1.0}'
    """
    numbers: dict[str, float] = {}
    for key, value in (measurements or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                numbers[key if type(key) is str else plain_key(key)] = number
    if not numbers:
        return None
    return json.dumps(numbers, separators=(",", ":"))


def attribute_value(value: Any) -> str | bool | int | float:
    """``value`` as an OpenTelemetry attribute: scalars as they are, an ``Enum`` member as
    its value, the rest as JSON."""
    if isinstance(value, Enum):
        value = value.value
    if type(value) in _SCALARS:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str | bool | int | float):
        return _scalar(value)
    try:
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)


_SCALARS = (str, bool, int, float)


def _scalar(value: str | bool | int | float) -> str | bool | int | float:
    # A subclass (a str Enum's value class, numpy-ish ints): the plain built-in value.
    for kind in _SCALARS:
        if isinstance(value, kind):
            return kind(value)
    return value


def _json_default(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else str(value)
