"""Consent, for any runtime: a user granting or withdrawing consent to keep their personal
data, the registry that remembers each user's decision, and the turn's view of it.

Under ``PrivacyPolicy(consent_mode=True)`` every custom event of a turn whose user's consent
stands is recorded with personal data (message text, names, prompt answers), as
``log_personal_information`` would; other users' events are not. The runtime's middleware
looks the user up once per turn (``lookup_consent``) and puts the answer in the turn's
context (``with_turn_consent``); ``record_consent`` changes it for the rest of the turn, for
the user's later turns (the registry), and for exports (a ``ConsentChanged`` event: the
latest per user decides, so a withdrawal also hides what was recorded before it).

    await record_consent(True, user_id=activity.from_property.id)    # from a consent prompt

On a grant, when the identity vault has a key (``BOT_TELEMETRY_VAULT_KEYS``), the event
also carries the user's real channel id encrypted (``bot_telemetry.privacy.vault``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from typing import Protocol

from .. import contract
from ..privacy import PrivacyPolicy, current_policy
from ..privacy.vault import VAULT_KEYS_ENV, IdentityVault, VaultError
from .custom_events import track_custom_event, turn_properties
from .turn_consent import TurnConsent, turn_consent

_log = logging.getLogger(__name__)
#: How long a turn waits for its user's consent before treating it as not given.
LOOKUP_SECONDS = 2.0


class ConsentRegistry(Protocol):
    """Where each user's latest decision is kept, by pseudonymous user id."""

    async def get(self, user_key: str) -> bool | None: ...

    async def set(self, user_key: str, granted: bool) -> None: ...


class MemoryConsentRegistry:
    """Decisions in this process's memory, the most recent ``capacity`` users. The default:
    enough for one bot process; a bot with several instances, or that restarts, keeps them
    in its storage (``bot_telemetry.bot.consent.StorageConsentRegistry``)."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._decisions: OrderedDict[str, bool] = OrderedDict()

    async def get(self, user_key: str) -> bool | None:
        return self._decisions.get(user_key)

    async def set(self, user_key: str, granted: bool) -> None:
        self._decisions[user_key] = granted
        self._decisions.move_to_end(user_key)
        while len(self._decisions) > self.capacity:
            self._decisions.popitem(last=False)


_registry: ConsentRegistry = MemoryConsentRegistry()


def consent_registry() -> ConsentRegistry:
    """The registry in force (a ``MemoryConsentRegistry`` until ``set_consent_registry``)."""
    return _registry


def set_consent_registry(registry: ConsentRegistry | None) -> None:
    """Keep decisions in ``registry`` (None: a new in-memory one)."""
    global _registry
    _registry = registry if registry is not None else MemoryConsentRegistry()


async def lookup_consent(user_key: str | None, policy: PrivacyPolicy) -> TurnConsent:
    """The turn's consent for ``user_key`` (pseudonymous). Looked up only under
    ``consent_mode``; a registry that fails or is slow counts as no consent, never fails the
    turn."""
    consent = TurnConsent(user_key)
    if not policy.consent_mode or user_key is None:
        return consent
    try:
        consent.granted = await asyncio.wait_for(_registry.get(user_key), LOOKUP_SECONDS)
    except Exception:
        _log.warning("could not look up the consent of a user; treated as not given", exc_info=True)
    return consent


_vault_cache: tuple[str, IdentityVault | None] | None = None


def environment_vault() -> IdentityVault | None:
    """The vault ``BOT_TELEMETRY_VAULT_KEYS`` describes (parsed once per value); None when
    unset or malformed (logged)."""
    global _vault_cache
    text = os.environ.get(VAULT_KEYS_ENV, "")
    if _vault_cache is None or _vault_cache[0] != text:
        vault = None
        try:
            vault = IdentityVault.parse(text) if text.strip() else None
        except VaultError as error:
            _log.error("the identity vault is off: %s", error)
        _vault_cache = (text, vault)
    return _vault_cache[1]


async def record_consent(
    granted: bool,
    *,
    user_id: str | None = None,
    privacy: PrivacyPolicy | None = None,
    vault: IdentityVault | None = None,
) -> None:
    """Record that the turn's user granted (True) or withdrew (False) consent.

    ``user_id`` is the user's real channel id; the turn's pseudonymous id is used when the
    runtime's middleware set one, else ``user_id``'s pseudonym. On a grant with a vault
    (``vault`` or the environment's), the real id is kept, encrypted, in the event. Never
    raises into the turn.
    """
    try:
        policy = privacy or current_policy()
        user_key = turn_properties().get(contract.ATTR_ENDUSER_PSEUDO_ID)
        if user_key is None and user_id:
            user_key = policy.pseudonymize(user_id)
        if user_key is None:
            _log.warning("record_consent: no user in this turn and no user_id given; not recorded")
            return
        turn = turn_consent()
        if turn is not None and turn.user_key in (None, user_key):
            turn.granted = granted
        properties: dict[str, object] = {
            contract.CONSENT: contract.CONSENT_GRANTED if granted else contract.CONSENT_WITHDRAWN,
            contract.ATTR_ENDUSER_PSEUDO_ID: user_key,
        }
        vault = vault or environment_vault()
        if granted and user_id and vault is not None:
            properties[contract.ENCRYPTED_USER_ID] = vault.encrypt(user_id, user_key)
        track_custom_event(contract.CONSENT_CHANGED, properties, privacy=policy)
        await _registry.set(user_key, granted)
    except Exception:  # telemetry must never raise into a turn
        _log.exception("could not record a consent decision")


__all__ = [
    "ConsentRegistry",
    "MemoryConsentRegistry",
    "consent_registry",
    "environment_vault",
    "lookup_consent",
    "record_consent",
    "set_consent_registry",
]
