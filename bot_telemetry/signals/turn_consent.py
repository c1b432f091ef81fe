"""The turn's consent: whose turn it is and whether their consent stands, in the turn's
OpenTelemetry context, read by every custom event of the turn (see ``signals.consent``)."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import context

_TURN_CONSENT = context.create_key("bot_telemetry.turn_consent")


@dataclass
class TurnConsent:
    """One turn's user and whether their consent stands (None: never asked). Mutable, so
    that ``record_consent`` changes it for the rest of the turn."""

    user_key: str | None
    granted: bool | None = None


def with_turn_consent(
    consent: TurnConsent, parent: context.Context | None = None
) -> context.Context:
    """A context in which custom events follow ``consent`` (see the module's docstring)."""
    return context.set_value(_TURN_CONSENT, consent, parent)


def turn_consent() -> TurnConsent | None:
    """The turn's consent set by ``with_turn_consent``, if any."""
    found = context.get_value(_TURN_CONSENT)
    return found if isinstance(found, TurnConsent) else None


def turn_consent_granted() -> bool | None:
    found = context.get_value(_TURN_CONSENT)
    return found.granted if isinstance(found, TurnConsent) else None


__all__ = ["TurnConsent", "turn_consent", "turn_consent_granted", "with_turn_consent"]
