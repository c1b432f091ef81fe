"""Our events as PostHog capture events: name, distinct id, properties, timestamp, uuid.

Both forwarders (the bot's exporter and ``serve``'s) and the backfill map through
``capture_event``, so the same event gets the same uuid, distinct id and session wherever
it is sent from, and a retry or replay collapses in PostHog (which de-duplicates events
of one day with the same name, distinct id and uuid).

    record = EventRecord("QnAMessage", time_ns, trace_id, span_id, attributes, "bot")
    capture_event(record, settings, policy)
    # {"event": "QnAMessage", "distinct_id": "3f9a…", "uuid": "…", "timestamp": "…Z",
    #  "properties": {"$session_id": "…", "$process_person_profile": False, …}}
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from ..contract import (
    ATTR_CHANNEL_ID,
    ATTR_LOG_RECORD_UID,
    CHANNEL_ID,
    CONVERSATION_ATTRIBUTES,
    CUSTOM_EVENT_NAME,
    CUSTOM_MEASUREMENTS,
    ENCRYPTED_USER_ID,
    SESSION_ATTRIBUTES,
    USER_ATTRIBUTES,
)
from ..privacy import PrivacyPolicy, Treatment
from .settings import PostHogSettings

#: The namespace of our event uuids (UUIDv5): a constant, so every process derives the same.
EVENT_NAMESPACE = uuid.UUID("b3a7e0c4-5f1d-4d8e-9a8b-2c6f7d0e1a95")
LIB = "bot-telemetry"
try:
    LIB_VERSION = importlib.metadata.version("bot-telemetry")
except importlib.metadata.PackageNotFoundError:  # running from a tree without metadata
    LIB_VERSION = "0.0.0"

_DAY_MS = 86_400_000
#: The form of the policy's pseudonyms (``PrivacyPolicy.pseudonymize``: a keyed hash).
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")
# Attributes that say how the record was made, not what happened; and the identity vault's
# ciphertext of a consenting user's real id (ConsentChanged), which serves the private
# exhaust alone: that hides it once the user withdraws, PostHog would keep it for good.
_NOT_PROPERTIES = frozenset({CUSTOM_EVENT_NAME, "event.name", ENCRYPTED_USER_ID})


class EventRecord(NamedTuple):
    """One event as both halves have it: a bot's log record or a stored row.

    ``turn`` holds the turn span's attributes when the event itself lacks the user or
    session (stored events from before events carried them). ``key``, when given, is what
    the uuid is derived from instead of the trace, span, time and name (a stored span's or
    plain log record's own id).
    """

    name: str
    time_ns: int
    trace_id: str | None
    span_id: str | None
    attributes: Mapping[str, Any]
    service: str
    service_version: str | None = None
    turn: Mapping[str, Any] | None = None
    key: str | None = None


def capture_event(
    record: EventRecord, settings: PostHogSettings, policy: PrivacyPolicy
) -> dict[str, Any]:
    """The capture API's event for ``record``; properties the policy does not allow are left
    out, personal text it allows is redacted. User ids arrive pseudonymized by the policy and
    are not hashed again (one of another form is: see ``_judged``)."""
    attributes = record.attributes
    user = _user(attributes, policy) or _user(record.turn, policy)
    session = _first(attributes, SESSION_ATTRIBUTES) or _first(record.turn, SESSION_ATTRIBUTES)
    conversation = _first(attributes, CONVERSATION_ATTRIBUTES)
    channel = attributes.get(CHANNEL_ID) or attributes.get(ATTR_CHANNEL_ID)

    # The one privacy decision of the project (known keys, key names, values of unknown keys):
    # PostHog gets exactly what the other destinations get. What reaches here has passed the
    # policy already (the bot's signals, serve's client-event receiver), so a user id is one
    # of its pseudonyms: kept as it is, hashing it again would make it disagree with the
    # store's, the distinct id's and (under a per-process key) the other sender's.
    pseudonyms: dict[str, str] = {}
    properties = policy.apply(_judged(attributes, policy, pseudonyms))
    properties.update(pseudonyms)
    # Measurements travel as one JSON attribute (for Azure Monitor); PostHog wants them as
    # plain numeric properties.
    properties.update(_measurements(properties.pop(CUSTOM_MEASUREMENTS, None)))
    properties["$lib"] = LIB
    properties["$lib_version"] = LIB_VERSION
    properties["service"] = record.service
    if record.service_version:
        properties["service_version"] = record.service_version
    if conversation:
        properties["conversation_id"] = conversation
    if channel:
        properties["channel"] = channel
    if record.trace_id:
        properties["trace_id"] = record.trace_id
    if record.span_id:
        properties["span_id"] = record.span_id
    if session:
        properties["$session_id"] = session_uuid(str(session), record.time_ns)
    if settings.person_profiles == "never":
        properties["$process_person_profile"] = False
    return {
        "event": record.name,
        "distinct_id": _distinct_id(user, conversation, record.service),
        "properties": properties,
        "timestamp": iso_time(record.time_ns),
        "uuid": _uuid5_text(_uuid_seed(record)),
    }


def event_uuid(record: EventRecord) -> uuid.UUID:
    """A UUIDv5 that the same event gets on every send, from either half.

    From the record's own id when it has one (``key``, or a client event's
    ``log.record.uid`` such as a Sunbird ``mid``, with the name and time: some clients
    repeat ids), else from its trace, span, time and name.
    """
    return uuid.uuid5(EVENT_NAMESPACE, _uuid_seed(record))


def _uuid_seed(record: EventRecord) -> str:
    if record.key:
        return record.key
    uid = record.attributes.get(ATTR_LOG_RECORD_UID)
    where = f"uid:{uid}" if uid else f"{record.trace_id or ''}:{record.span_id or ''}"
    return f"{where}:{record.time_ns}:{record.name}"


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def _uuid5_text(seed: str) -> str:
    """``str(uuid.uuid5(EVENT_NAMESPACE, seed))`` without building UUID objects (per event)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + seed.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@lru_cache(maxsize=4096)
def _session_uuid(session: str, day_ms: int) -> str:
    digest = hashlib.sha256(f"{session}:{day_ms}".encode()).digest()
    rand_a = int.from_bytes(digest[:2], "big") & 0x0FFF
    rand_b = int.from_bytes(digest[2:10], "big") & ((1 << 62) - 1)
    value = (day_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def session_uuid(session: str, time_ns: int) -> str:
    """PostHog's ``$session_id`` for our session id at this time.

    PostHog groups sessions by a UUIDv7 whose time is at or before the session's first event
    and within 24 hours of its last, so a session maps to one UUIDv7 per UTC day, dated at
    midnight (a session across midnight becomes two).
    """
    day_ms = time_ns // 1_000_000 // _DAY_MS * _DAY_MS
    return _session_uuid(session, day_ms)


def _measurements(encoded: Any) -> dict[str, float]:
    try:
        decoded = json.loads(encoded) if isinstance(encoded, str) else encoded
    except ValueError:
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {
        str(key): float(value)
        for key, value in decoded.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def iso_time(time_ns: int) -> str:
    """ISO 8601 in UTC with microseconds, as the capture API takes timestamps."""
    seconds, rest = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


def is_pseudonym(value: Any) -> bool:
    """Whether ``value`` has the form of the policy's pseudonyms (a keyed hash, 32 lowercase
    hex digits): a user id that passed the policy, not to be hashed again."""
    return type(value) is str and _PSEUDONYM.fullmatch(value) is not None


def _judged(
    attributes: Mapping[str, Any], policy: PrivacyPolicy, pseudonyms: dict[str, str]
) -> Iterator[tuple[str, Any]]:
    """The attributes the policy is to judge; user ids it would hash that are already its
    pseudonyms go to ``pseudonyms`` instead. A value of another form under such a key (a raw
    id recorded past the policy) is judged, so hashed: no raw id leaves."""
    hashed = policy.pseudonymous_keys
    for key, value in attributes.items():
        if key in _NOT_PROPERTIES:
            continue
        if key in hashed and is_pseudonym(value) and policy.treatment(key) is Treatment.HASH:
            pseudonyms[key] = value
        else:
            yield key, value


def _user(attributes: Mapping[str, Any] | None, policy: PrivacyPolicy) -> str | None:
    """The pseudonymous user: the turn's ``enduser.pseudo.id``, else ``fromId``. A ``fromId``
    that is not one of the policy's pseudonyms (recorded past the policy) is hashed."""
    if not attributes:
        return None
    for key in USER_ATTRIBUTES:
        value = attributes.get(key)
        if value in (None, ""):
            continue
        text = str(value)
        if key in policy.pseudonymous_keys and not is_pseudonym(text):
            return policy.pseudonymize(text)
        return text
    return None


def _first(attributes: Mapping[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    if not attributes:
        return None
    for key in keys:
        value = attributes.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _distinct_id(user: str | None, conversation: str | None, service: str) -> str:
    # PostHog needs a distinct id on every event: without a user, the conversation (events
    # about one conversation stay together), else the service that sent it.
    if user:
        return user
    if conversation:
        return f"conversation:{conversation}"
    return f"service:{service}"
