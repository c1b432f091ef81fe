"""Consent in a botbuilder bot: record a decision from a turn, keep decisions in the bot's
storage.

    from bot_telemetry.bot.consent import StorageConsentRegistry, record_consent
    set_consent_registry(StorageConsentRegistry(storage))   # optional: survive restarts
    configure(service_name="bot", privacy=PrivacyPolicy(consent_mode=True))
    ...
    await record_consent(step.context, step.result)          # the answer to a consent prompt

See ``bot_telemetry.signals.consent`` for what a decision changes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from botbuilder.core import Storage, TurnContext

from ..privacy import IdentityVault, PrivacyPolicy
from ..signals import consent as signals_consent

_log = logging.getLogger(__name__)
KEY_PREFIX = "bot-telemetry/consent/"


async def record_consent(
    turn_context: TurnContext,
    granted: bool,
    *,
    privacy: PrivacyPolicy | None = None,
    vault: IdentityVault | None = None,
) -> None:
    """Record that the user of ``turn_context`` granted (True) or withdrew (False) consent;
    their real channel id (``from.id``) goes into the identity vault on a grant."""
    sender = turn_context.activity.from_property if turn_context.activity else None
    await signals_consent.record_consent(
        bool(granted),
        user_id=sender.id if sender else None,
        privacy=privacy,
        vault=vault,
    )


class StorageConsentRegistry:
    """Decisions kept in a botbuilder ``Storage`` (Blob, Cosmos, memory), one item per user
    under ``bot-telemetry/consent/<pseudonymous id>``, so every instance of the bot and every
    restart sees them. A user's decision is remembered for ``remember_seconds`` (the most
    recent ``capacity`` users), so a turn costs a storage read only now and then; a decision
    taken on another instance reaches this one within that time (exports apply the latest
    decision whatever the bot recorded meanwhile)."""

    def __init__(
        self, storage: Storage, *, capacity: int = 100_000, remember_seconds: float = 30.0
    ):
        self.storage = storage
        self.capacity = capacity
        self.remember_seconds = remember_seconds
        self._known: OrderedDict[str, tuple[bool | None, float]] = OrderedDict()

    async def get(self, user_key: str) -> bool | None:
        known = self._known.get(user_key)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        key = KEY_PREFIX + user_key
        items: dict[str, Any] = await self.storage.read([key])
        item = items.get(key)
        granted = item.get("granted") if isinstance(item, dict) else None
        found = granted if isinstance(granted, bool) else None
        self._remember(user_key, found)
        return found

    async def set(self, user_key: str, granted: bool) -> None:
        await self.storage.write({KEY_PREFIX + user_key: {"granted": granted}})
        self._remember(user_key, granted)

    def _remember(self, user_key: str, granted: bool | None) -> None:
        self._known[user_key] = (granted, time.monotonic() + self.remember_seconds)
        self._known.move_to_end(user_key)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)


__all__ = ["KEY_PREFIX", "StorageConsentRegistry", "record_consent"]
