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
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from . import detection, exceptions
from .keys import (
    CONVERSATION_KEYS,
    JUDGED_BY_VALUE,
    PERSONAL_KEYS,
    PSEUDONYMOUS_KEYS,
    SAFE_KEYS,
    named_personal,
    named_version,
)

_log = logging.getLogger(__name__)

#: Built-in redaction patterns, applied in this order to text that is allowed. Each match
#: is checked before it is replaced (a card passes the Luhn check, a phone number is not a
#: decimal number or a date): see ``bot_telemetry.privacy.detection``.
BUILTIN_PATTERNS: dict[str, re.Pattern[str]] = {
    name: pattern for name, (pattern, _, _) in detection.BUILTIN.items()
}

PSEUDONYM_KEY_ENV = "BOT_TELEMETRY_PSEUDONYM_KEY"
#: How many keys a policy remembers its decision for; keys past that are decided each time.
_REMEMBERED_KEYS = 1024
#: How many values (under unknown keys, conversation ids, paths, names, pseudonyms) a policy
#: remembers its judgement of; past that the oldest is forgotten.
_REMEMBERED_VALUES = 4096
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


class Treatment(IntEnum):
    """What the policy does with a key's values (decided once per key)."""

    DROP = 0
    #: Recorded as is (text cut to ``max_value_length``).
    KEEP = 1
    #: A user id: recorded as a keyed hash.
    HASH = 2
    #: Personal data that may be recorded: with the redaction patterns applied.
    REDACT = 3
    #: A key the policy does not know, personal data not allowed: each value is recorded
    #: only if it cannot be personal (numbers, ids, single tokens; not free text).
    DETECT = 4
    #: A conversation id: as it is, or a keyed hash when it holds personal data (see
    #: ``PrivacyPolicy.conversation_id``).
    CONVERSATION = 5
    #: DETECT for a key named like a version (``appVersion``): a dotted quad (``4.17.1.2``)
    #: under it is a version, kept, where elsewhere it is taken for an IP address.
    VERSION = 6


_CONVERSATION = Treatment.CONVERSATION
_VERSION = Treatment.VERSION
_DROP, _KEEP, _HASH, _REDACT, _DETECT = (
    Treatment.DROP,
    Treatment.KEEP,
    Treatment.HASH,
    Treatment.REDACT,
    Treatment.DETECT,
)


@dataclass(frozen=True)
class PrivacyPolicy:
    """What personal data may leave the bot, and in what form.

    Defaults record no message text, speech, names, attachments, questions or user names,
    and replace user and session ids by a keyed hash (key from ``pseudonymization_key``
    or the ``BOT_TELEMETRY_PSEUDONYM_KEY`` variable). Keys the policy does not know are
    judged by name (``guestName`` is personal) and then by value: free text and anything
    that looks like an email, phone or card number is left out; numbers, ids and other
    single tokens are kept. ``safe_keys`` names more keys to record as they are;
    ``allow_keys`` records only the keys it lists.

    ``consent_mode=True``: personal data (message text, names, prompt answers) is recorded
    for a user only while that user's consent stands (``bot_telemetry.signals.record_consent``),
    as ``log_personal_information`` would record it; for everyone else, as this policy says.
    """

    log_personal_information: bool = False
    redact: tuple[str, ...] = ("email", "phone", "card", "upi", "iban", "pan", "aadhaar")
    extra_patterns: tuple[str | re.Pattern[str], ...] = ()
    allow_keys: frozenset[str] | None = None
    deny_keys: frozenset[str] = frozenset()
    pseudonymization_key: bytes | str | None = field(default=None, repr=False)
    max_value_length: int = 4096
    replacement: str = "[REDACTED]"
    pseudonymous_keys: frozenset[str] = PSEUDONYMOUS_KEYS
    safe_keys: frozenset[str] = frozenset()
    consent_mode: bool = False
    _patterns: tuple[detection.Finder, ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    _key: bytes | None = field(init=False, repr=False, compare=False, default=None)
    # Every field is frozen, so a key's treatment never changes: events repeat the same few
    # keys on every turn, and deciding each one again cost ~10 µs per event.
    _decisions: dict[str, Treatment] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _detected_values: dict[str, str | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _conversation_ids: dict[str, str] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _paths: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _names: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _pseudonyms: dict[tuple[bytes, str], str] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _consented: PrivacyPolicy | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        unknown = [name for name in self.redact if name not in BUILTIN_PATTERNS]
        if unknown:
            raise ValueError(
                f"unknown redaction pattern(s) {unknown}; built in: {sorted(BUILTIN_PATTERNS)}"
            )
        # Built-ins in their own order (cards before phones), whatever order they were named in.
        patterns = [found for name, found in detection.BUILTIN.items() if name in self.redact]
        patterns += [
            (p if isinstance(p, re.Pattern) else re.compile(p), None, "")
            for p in self.extra_patterns
        ]
        object.__setattr__(self, "_patterns", tuple(patterns))
        key = self.pseudonymization_key
        object.__setattr__(self, "_key", key.encode() if isinstance(key, str) else key)

    def for_consent(self, granted: bool | None) -> PrivacyPolicy:
        """The policy for a user whose consent is ``granted`` (None: never asked): under
        ``consent_mode``, a consenting user's personal data is recorded (the redaction
        patterns still apply); otherwise this policy itself.

        >>> policy = PrivacyPolicy(consent_mode=True)
        >>> policy.for_consent(True).log_personal_information, policy.for_consent(False) is policy
        (True, True)
        """
        if not granted or not self.consent_mode or self.log_personal_information:
            return self
        opened = self._consented
        if opened is None:
            # Built once: a policy caches its decisions and pseudonyms.
            opened = replace(self, log_personal_information=True)
            object.__setattr__(self, "_consented", opened)
        return opened

    def is_personal(self, key: str) -> bool:
        """Whether the key names personal data: a known personal key, or a name that says so
        (``userQuestion``, ``guestName``), unless it is a key known to be safe."""
        if key in SAFE_KEYS or key in self.safe_keys or key in JUDGED_BY_VALUE:
            return False
        return key in PERSONAL_KEYS or named_personal(key)

    def admits(self, key: str) -> bool:
        """Whether ``deny_keys`` and ``allow_keys`` let this key through at all (before
        its name and value are judged)."""
        return key not in self.deny_keys and (self.allow_keys is None or key in self.allow_keys)

    def allows(self, key: str) -> bool:
        """Whether a property or attribute with this key may be recorded at all."""
        return self.treatment(key) is not Treatment.DROP

    def treatment(self, key: str) -> Treatment:
        """What happens to this key's values (decided once per key, then remembered)."""
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(key)
            if len(self._decisions) < _REMEMBERED_KEYS:
                self._decisions[key] = decision
        return decision

    def _decide(self, key: str) -> Treatment:
        if key in self.deny_keys:
            return Treatment.DROP
        listed = self.allow_keys is not None and key in self.allow_keys
        if self.allow_keys is not None and not listed:
            return Treatment.DROP
        if not listed and key not in SAFE_KEYS and self.redact_text(key) != key:
            # the key itself is personal (a map keyed by users' emails or numbers): a key
            # cannot be redacted without merging others into it, so it is left out
            return Treatment.DROP
        if key in self.pseudonymous_keys:
            return Treatment.HASH
        if key in CONVERSATION_KEYS:
            return Treatment.CONVERSATION
        if self.is_personal(key):
            allowed = self.log_personal_information or listed
            return Treatment.REDACT if allowed else Treatment.DROP
        if listed or key in SAFE_KEYS or key in self.safe_keys:
            return Treatment.KEEP
        if self.log_personal_information:
            return Treatment.REDACT
        return Treatment.VERSION if named_version(key) else Treatment.DETECT

    def redact_text(self, text: str) -> str:
        """Replace every configured pattern in ``text`` (matches that only look like an
        email, phone or card number, such as a score or a date, are kept)."""
        return detection.redact_text(text, self._patterns, self.replacement)

    def redact_value(self, value: Any) -> Any:
        """``value`` with the patterns replaced in its text: inside JSON strings only when it
        is JSON (so it stays valid), in every string of a dict or list; numbers untouched."""
        if isinstance(value, str):
            if detection.looks_like_json(value):
                found = detection.map_json_strings(value, self._redacted)
                if found is not None:
                    return found
            return self._redacted(value)
        if isinstance(value, Mapping | list | tuple):
            return detection.map_strings(value, self._redacted)
        return value

    def _redacted(self, text: str) -> str:
        return self._bounded(self.redact_text(text))

    def _bounded(self, text: str) -> str:
        if len(text) <= self.max_value_length:
            return text
        if detection.looks_like_json(text):
            # Cut inside its strings: JSON cut in the middle would no longer parse.
            found = detection.map_json_strings(text, self._cut)
            if found is not None:
                return found
        return text[: self.max_value_length]

    def _cut(self, text: str) -> str:
        return text[: self.max_value_length]

    def _kept_if_not_personal(self, text: str) -> str | None:
        return None if detection.personal(text) else self._bounded(text)

    def value(self, key: str, value: Any) -> Any:
        """The recordable form of one value under ``key``; None when it must be left out.

        User ids hashed, personal text redacted (or left out when not allowed), text cut;
        under an unknown key a value is kept only if it cannot be personal (numbers, ids,
        single tokens), and JSON keeps its structure with the personal strings nulled.
        """
        treatment = self._decisions.get(key)
        if treatment is None:
            treatment = self.treatment(key)
        if treatment is _KEEP:
            if type(value) is str and len(value) <= self.max_value_length:
                return value
            return self._bounded(value) if isinstance(value, str) else value
        if treatment is _DROP:
            return None
        return self._treated(treatment, value)

    def _treated(self, treatment: Treatment, value: Any) -> Any:
        if treatment is _DETECT:
            return self._detected(value)
        if treatment is _VERSION:
            if isinstance(value, str) and detection.is_dotted_quad(value):
                return value
            return self._detected(value)
        if treatment is _HASH:
            if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                return self.pseudonymize(str(value))
            return value
        if treatment is _CONVERSATION:
            return self.conversation_id(value) if isinstance(value, str) else value
        return self.redact_value(value)

    def _detected(self, value: Any) -> Any:
        if isinstance(value, str):
            # Values repeat turn after turn: parsing JSON again cost ~15 µs a value.
            cache = self._detected_values
            if value in cache:
                return cache[value]
            found: str | None = None
            if detection.looks_like_json(value):
                found = detection.map_json(value, self._members)
            if found is None:
                found = self._kept_if_not_personal(value)
            _remember(cache, value, found)
            return found
        if isinstance(value, Mapping | list | tuple):
            return self._members(value)
        return value

    def _members(self, value: Any) -> Any:
        """A structure (JSON, a dict or list) under a key judged by value: each member as
        the policy treats its key at the top level (``firstName`` left out, ``userId``
        hashed, an unknown key's value judged by value), a member whose key is itself
        personal dropped, other strings kept only if they cannot be personal."""
        if isinstance(value, str):
            return self._kept_if_not_personal(value)
        if isinstance(value, Mapping):
            found = {}
            for key, item in value.items():
                name = plain_key(key)
                if detection.personal(name):
                    continue
                found[name] = None if item is None else self.value(name, item)
            return found
        if isinstance(value, list | tuple):
            return [self._members(item) for item in value]
        return value

    def apply(
        self,
        properties: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
        known_safe: Collection[str] = (),
    ) -> dict[str, Any]:
        """Filter a property map: drop what is not allowed, redact and bound what is.
        Keys may be ``Enum`` members (botbuilder's constants); they become their values.
        ``known_safe`` names keys of a map we built ourselves that hold no personal data
        (a trace activity's ``name``): those are only bounded and checked against
        ``deny_keys``/``allow_keys``.

        >>> PrivacyPolicy().apply({"text": "hi", "channelId": "msteams"})
        {'channelId': 'msteams'}
        """
        items = properties.items() if isinstance(properties, Mapping) else properties
        found: dict[str, Any] = {}
        decisions = self._decisions
        limit = self.max_value_length
        for key, value in items:
            if value is None:
                continue
            if type(key) is not str:
                key = plain_key(key)
            if known_safe and key in known_safe:
                kept = self._bounded(value) if isinstance(value, str) else value
                if not self.admits(key):
                    continue
            else:
                # The common case inline: a key decided before, kept as it is.
                treatment = decisions.get(key)
                if treatment is None:
                    treatment = self.treatment(key)
                if treatment is _KEEP:
                    if type(value) is str and len(value) > limit:
                        value = self._bounded(value)
                    kept = value
                elif treatment is _DROP:
                    continue
                else:
                    kept = self._treated(treatment, value)
            if kept is not None:
                found[key] = kept
        return found

    def free_text(self, text: str, known_personal: Iterable[str] = ()) -> str:
        """Text the developer wrote (a trace message, a dependency's command) as it may be
        recorded: the patterns replaced and, unless personal data may be logged, every
        ``known_personal`` value (the turn's message, the user's name and id) replaced too.

        >>> PrivacyPolicy().free_text("Grace Hopper asked", ["Grace Hopper"])
        '[REDACTED] asked'
        """
        if not self.log_personal_information:
            folded = text.casefold()
            for value in known_personal:
                # Whatever the case: a bot writes "Ana" for the "ana" a user typed.
                if value and value.casefold() in folded:
                    text = _ignoring_case(value).sub(self.replacement, text)
                    folded = text.casefold()
        return self._redacted(text)

    def name(self, text: str) -> str:
        """A name the developer gave a custom event or a span, as it may be recorded: with
        the patterns replaced (an event named after a user's email), whatever
        ``log_personal_information`` says, as in every other text. Names repeat on every
        turn, so each one's answer is remembered.

        >>> PrivacyPolicy().name("Signup grace@example.org"), PrivacyPolicy().name("QnAMessage")
        ('Signup [REDACTED]', 'QnAMessage')
        """
        found = self._names.get(text)
        if found is None:
            found = self.redact_text(text)
            _remember(self._names, text, found)
        return found

    def url(self, url: str) -> str:
        """A URL as it may be recorded: never with credentials; without query or fragment
        unless personal data may be logged; the patterns replaced in what is left.

        >>> PrivacyPolicy().url("https://u:p@example.org/a?q=Grace%20Hopper#top")
        'https://example.org/a'
        """
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            return ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{port}" if port else host
        opened = self.log_personal_information
        query, fragment = (parts.query, parts.fragment) if opened else ("", "")
        path = self.url_path(parts.path)
        return self._redacted(urlunsplit((parts.scheme, netloc, path, query, fragment)))

    def url_path(self, path: str) -> str:
        """A URL's path (percent-encoded or not) as it may be recorded: a Bot Connector
        conversation id as ``conversation_id`` records it and a member's id (the user's)
        pseudonymous; any other segment that may be personal (an email, a phone number,
        a name: free text) replaced, unless personal data may be logged, and then with
        the patterns replaced in it. Routes, ids and versions stay as they are.

        >>> PrivacyPolicy().url_path("/api/users/grace%40example.org/orders/42")
        '/api/users/[REDACTED]/orders/42'
        """
        found = self._paths.get(path)
        if found is None:
            segments = path.split("/")
            connector = _connector_start(segments)
            found = "/".join(
                self._path_segment(segment, _connector_role(segments, index, connector))
                for index, segment in enumerate(segments)
            )
            _remember(self._paths, path, found)
        return found

    def _path_segment(self, segment: str, role: str) -> str:
        if not segment:
            return segment
        decoded = unquote(segment)
        if role == "conversation":
            recorded = self.conversation_id(decoded)
            return segment if recorded == decoded else recorded
        if role == "member":
            return self.pseudonymize(decoded)
        if not self.log_personal_information and detection.personal(decoded):
            return self.replacement
        redacted = self.redact_text(decoded)
        return segment if redacted == decoded else redacted

    def exception_attributes(self, error: BaseException) -> dict[str, str]:
        """``exception.type``/``.message``/``.stacktrace`` as this policy lets them leave:
        see ``bot_telemetry.privacy.exceptions``."""
        return exceptions.exception_attributes(error, self)

    def error_description(self, error: BaseException) -> str:
        """A span status description for ``error``: its type, plus its redacted message
        when personal data may be logged."""
        return exceptions.error_description(error, self)

    def pseudonymize(self, identifier: str) -> str:
        """A stable, keyed, one-way id for a user or session id."""
        # By key too: without one of its own, the policy uses the environment's, read each time.
        key = self._key or _default_key()
        found = self._pseudonyms.get((key, identifier))
        if found is None:
            found = _keyed_hash(key, identifier)
            _remember(self._pseudonyms, (key, identifier), found)
        return found

    def conversation_id(self, conversation_id: str) -> str:
        """A conversation id as it may be recorded: as it is, unless it holds personal data
        (SMS and WhatsApp channels name a conversation after the user's phone number), then
        a keyed hash — whatever ``log_personal_information`` says, as for user ids, so every
        signal of a conversation carries the same id and still joins. A Teams thread id
        (``19:…@thread.tacv2``) is not an email.

        >>> policy = PrivacyPolicy(pseudonymization_key=b"k")
        >>> policy.conversation_id("8bcQ2xJ-us"), len(policy.conversation_id("sms:+14155550123"))
        ('8bcQ2xJ-us', 32)
        """
        found = self._conversation_ids.get(conversation_id)
        if found is None:
            personal = not _TEAMS_THREAD.fullmatch(conversation_id) and (
                detection.personal(conversation_id)
                or self._redacted(conversation_id) != conversation_id
            )
            found = self.pseudonymize(conversation_id) if personal else conversation_id
            _remember(self._conversation_ids, conversation_id, found)
        return found


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    # Values come without end (every conversation, user and path a process ever sees): the
    # oldest is forgotten, so one running for weeks still remembers the recent ones (a cache
    # that stopped growing made every later conversation's id cost ~3 µs an event for good).
    if len(cache) >= _REMEMBERED_VALUES:
        try:
            del cache[next(iter(cache))]
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            pass
    cache[key] = value


def _connector_start(segments: list[str]) -> int:
    """The index of the conversation id in a Bot Connector path (``…/v3/conversations/{id}``),
    or -1."""
    for index in range(1, len(segments) - 1):
        if segments[index] == "conversations" and segments[index - 1] == "v3":
            return index + 1
    return -1


def _connector_role(segments: list[str], index: int, conversation: int) -> str:
    if conversation < 0 or index < conversation:
        return ""
    if index == conversation:
        return "conversation"
    # ``…/members/{memberId}`` and ``…/pagedmembers``' ids: a member is a user of the channel.
    return "member" if segments[index - 1] == "members" else ""


def plain_key(key: Any) -> str:
    """A property key as text: an ``Enum`` member (botbuilder's ``LuisTelemetryConstants``)
    becomes its value, not ``"LuisTelemetryConstants.intent_property"``."""
    return str(key.value if isinstance(key, Enum) else key)


# The same users and conversations come back turn after turn; an HMAC each time cost ~5 µs.
@lru_cache(maxsize=4096)
def _keyed_hash(key: bytes, identifier: str) -> str:
    return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:32]


DEFAULT_POLICY = PrivacyPolicy()

_TEAMS_THREAD = re.compile(r"\d+:[^\s@]+@thread\.[a-z0-9]+(?:;.*)?", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _ignoring_case(value: str) -> re.Pattern[str]:
    return re.compile(re.escape(value), re.IGNORECASE)


__all__ = [
    "BUILTIN_PATTERNS",
    "DEFAULT_POLICY",
    "PERSONAL_KEYS",
    "PSEUDONYMOUS_KEYS",
    "PSEUDONYM_KEY_ENV",
    "PrivacyPolicy",
    "Treatment",
    "plain_key",
]
