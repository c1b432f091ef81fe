"""Consent in an Agents SDK agent: record a decision from a turn.

    await record_consent(context, True)        # the answer to a consent prompt

See ``bot_telemetry.signals.consent`` for what a decision changes; decisions are kept in the
registry in force (``bot_telemetry.signals.set_consent_registry``).
"""

from __future__ import annotations

from typing import Any

from ..privacy import IdentityVault, PrivacyPolicy
from ..signals import consent as signals_consent


async def record_consent(
    context: Any,
    granted: bool,
    *,
    privacy: PrivacyPolicy | None = None,
    vault: IdentityVault | None = None,
) -> None:
    """Record that the user of ``context`` (a ``TurnContext``) granted (True) or withdrew
    (False) consent; their real channel id (``from.id``) goes into the identity vault on a
    grant."""
    activity = getattr(context, "activity", None)
    sender = getattr(activity, "from_property", None)
    await signals_consent.record_consent(
        bool(granted),
        user_id=getattr(sender, "id", None),
        privacy=privacy,
        vault=vault,
    )


__all__ = ["record_consent"]
