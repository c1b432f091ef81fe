"""One privacy policy for every signal: span attributes, custom events, trace activities,
stored rows and exports.

    policy = PrivacyPolicy()                                  # the default: no personal data
    policy = PrivacyPolicy(log_personal_information=True)     # text allowed, redacted
    configure(service_name="bot", privacy=policy)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_log = logging.getLogger(__name__)

#: Keys whose values are personal data: botbuilder's camelCase property keys and the
#: OpenTelemetry attribute keys we would otherwise emit. Recorded only when allowed.
PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        "text",
        "speak",
        "fromName",
        "attachments",
        "question",
        "originalQuestion",
        "username",
        "userName",
        "enduser.id",
        "user.id",
        "user.name",
        "user.email",
        "message.text",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)

#: Keys whose values identify a user: recorded as a keyed hash (see ``pseudonymize``) so
#: one user's events still join up without the raw id leaving the bot.
PSEUDONYMOUS_KEYS: frozenset[str] = frozenset(
    {"fromId", "recipientId", "userId", "TeamsUserAadObjectId"}
)

#: Built-in redaction patterns, applied in this order to text that is allowed.
BUILTIN_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    # Cards before phones: a 16-digit card number also looks like a long phone number.
    "card": re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
    "phone": re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]{6,}\d\b"),
}

PSEUDONYM_KEY_ENV = "BOT_TELEMETRY_PSEUDONYM_KEY"
#: How many keys a policy remembers its decision for; keys past that are decided each time.
_REMEMBERED_KEYS = 1024
_process_key: bytes | None = None


def _default_key() -> bytes:
    global _process_key
    configured = os.environ.get(PSEUDONYM_KEY_ENV)
    if configured:
        return configured.encode()
    if _process_key is None:
        # Unkeyed hashes of user ids can be reversed by hashing every known id, so without a
        # configured key we pick a random one: safe, but ids only correlate within a process.
        _log.warning(
            "%s is not set: pseudonymous user and session ids are stable only within this "
            "process. Set it to a secret shared by every instance of the deployment.",
            PSEUDONYM_KEY_ENV,
        )
        _process_key = secrets.token_bytes(32)
    return _process_key


@dataclass(frozen=True)
class PrivacyPolicy:
    """What personal data may leave the bot, and in what form.

    Defaults record no message text, speech, names, attachments, questions or user names,
    and replace user and session ids by a keyed hash (key from ``pseudonymization_key``
    or the ``BOT_TELEMETRY_PSEUDONYM_KEY`` variable).
    """

    log_personal_information: bool = False
    redact: tuple[str, ...] = ("email", "phone", "card")
    extra_patterns: tuple[str | re.Pattern[str], ...] = ()
    allow_keys: frozenset[str] | None = None
    deny_keys: frozenset[str] = frozenset()
    pseudonymization_key: bytes | str | None = field(default=None, repr=False)
    max_value_length: int = 4096
    replacement: str = "[REDACTED]"
    pseudonymous_keys: frozenset[str] = PSEUDONYMOUS_KEYS
    _patterns: tuple[re.Pattern[str], ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    _key: bytes | None = field(init=False, repr=False, compare=False, default=None)
    # Every field is frozen, so a key's decision never changes: events repeat the same few
    # keys on every turn, and deciding each one again cost ~10 µs per event.
    _decisions: dict[str, bool] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [name for name in self.redact if name not in BUILTIN_PATTERNS]
        if unknown:
            raise ValueError(
                f"unknown redaction pattern(s) {unknown}; built in: {sorted(BUILTIN_PATTERNS)}"
            )
        patterns = [BUILTIN_PATTERNS[name] for name in self.redact]
        patterns += [p if isinstance(p, re.Pattern) else re.compile(p) for p in self.extra_patterns]
        object.__setattr__(self, "_patterns", tuple(patterns))
        key = self.pseudonymization_key
        object.__setattr__(self, "_key", key.encode() if isinstance(key, str) else key)

    def is_personal(self, key: str) -> bool:
        return key in PERSONAL_KEYS

    def allows(self, key: str) -> bool:
        """Whether a property or attribute with this key may be recorded at all."""
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(key)
            if len(self._decisions) < _REMEMBERED_KEYS:
                self._decisions[key] = decision
        return decision

    def _decide(self, key: str) -> bool:
        if key in self.deny_keys:
            return False
        if self.allow_keys is not None and key in self.allow_keys:
            return True
        if self.is_personal(key):
            return self.log_personal_information
        return self.allow_keys is None or key in self.allow_keys

    def redact_text(self, text: str) -> str:
        """Replace every configured pattern in ``text``."""
        for pattern in self._patterns:
            text = pattern.sub(self.replacement, text)
        return text

    def value(self, key: str, value: Any) -> Any:
        """The recordable form of one allowed value: user ids hashed, personal text redacted,
        long text cut."""
        if isinstance(value, str):
            if key in self.pseudonymous_keys:
                return self.pseudonymize(value)
            if self.is_personal(key):
                value = self.redact_text(value)
            if len(value) > self.max_value_length:
                value = value[: self.max_value_length]
        return value

    def apply(self, properties: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """Filter a property map: drop what is not allowed, redact and bound what is.

        >>> PrivacyPolicy().apply({"text": "hi", "channelId": "msteams"})
        {'channelId': 'msteams'}
        """
        items = properties.items() if isinstance(properties, Mapping) else properties
        return {
            key: self.value(key, value)
            for key, value in items
            if value is not None and self.allows(key)
        }

    def pseudonymize(self, identifier: str) -> str:
        """A stable, keyed, one-way id for a user or session id."""
        return _keyed_hash(self._key or _default_key(), identifier)


# The same users and conversations come back turn after turn; an HMAC each time cost ~5 µs.
@lru_cache(maxsize=4096)
def _keyed_hash(key: bytes, identifier: str) -> str:
    return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:32]


DEFAULT_POLICY = PrivacyPolicy()
