"""Signals layer: what a bot records through the OpenTelemetry API, for any runtime
(botbuilder or the Agents SDK): custom events (a log record and a span event each), the
properties every event of a turn carries, the turn a task is working on, what an activity
says in a BotMessage* event, the turn span with its events (``TurnTelemetry``, the base of
both runtimes' ``TelemetryMiddleware``), prompt answers and users' consent.

    from bot_telemetry.signals import track_custom_event
    track_custom_event("OrderPlaced", {"conversationId": cid}, {"items": 3})
"""

from .consent import (
    ConsentRegistry,
    MemoryConsentRegistry,
    consent_registry,
    lookup_consent,
    record_consent,
    set_consent_registry,
)
from .custom_events import (
    attribute_value,
    measurement_json,
    track_custom_event,
    turn_personal_values,
    turn_properties,
    turn_span,
    with_turn_personal_values,
    with_turn_properties,
)
from .prompts import PromptAnswer, track_prompt_answer
from .setup_check import warn_if_not_recording
from .turn_consent import TurnConsent, turn_consent, with_turn_consent
from .turn_context import current_turn_context, turn_context_scope
from .turns import TurnTelemetry, fail_current_turn

__all__ = [
    "ConsentRegistry",
    "MemoryConsentRegistry",
    "PromptAnswer",
    "TurnConsent",
    "TurnTelemetry",
    "attribute_value",
    "consent_registry",
    "current_turn_context",
    "fail_current_turn",
    "lookup_consent",
    "measurement_json",
    "record_consent",
    "set_consent_registry",
    "track_custom_event",
    "track_prompt_answer",
    "turn_consent",
    "turn_context_scope",
    "turn_personal_values",
    "turn_properties",
    "turn_span",
    "warn_if_not_recording",
    "with_turn_consent",
    "with_turn_personal_values",
    "with_turn_properties",
]
