"""A Sunbird event as a stored event row: one function (``event_row``) maps an enriched event to
the engine-neutral log record every event view reads, and ``add_rows`` puts such records into
the DuckDB store's ``Batch``. Another engine's table is filled from the same ``ClientEventRow``.

The row: ``event_name`` is the eid; ``time_ns`` the event's ``ets``; ``service_name`` the
producer (``context.pdata.id``); ``conversation_id`` and ``trace_id``/``span_id`` from cdata
items of type ``Conversation``, ``Trace`` and ``Span``; attributes are the event's fields
flattened under ``sunbird.`` (see ``bot_telemetry.contract.client_events``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from ... import contract
from ...privacy import PrivacyPolicy
from ...store.rows import LOG_COLUMNS, Batch, to_json, trace_key
from .enrich import private_edata
from .schemas import Problem

SEVERITY_INFO = (9, "INFO")
SEVERITY_WARN = (13, "WARN")
SEVERITY_ERROR = (17, "ERROR")
#: The longest raw event kept in the failed set (its JSON), so one bad event cannot fill the
#: store; longer ones are cut and say so.
MAX_FAILED_BODY = 64 * 1024

_HEX = frozenset("0123456789abcdef")


class BundleInfo(NamedTuple):
    """What every event of one request shares."""

    bundle_id: str | None
    msgid: str | None
    syncts_ms: int
    timestamp: str  # syncts as ISO 8601


class ClientEventRow(NamedTuple):
    """One stored client event, in the store's log-record terms, before any engine's encoding."""

    record_id: str
    time_ns: int
    trace_id: str | None
    span_id: str | None
    service_name: str
    severity_number: int
    severity_text: str
    body: str | None
    event_name: str | None
    conversation_id: str | None
    attributes: dict[str, Any]
    scope_name: str
    # The promoted columns a client event fills (``contract.PROMOTED_EVENT_PROPERTIES``): its
    # attributes are all under ``sunbird.`` but ``fromId``, ``session.id`` and
    # ``conversationId``, so the user (``fromId``) and the session are the only ones, and
    # the row says them rather than ``add_rows`` looking them up in the attributes.
    user_id: str | None = None
    session_id: str | None = None


def event_key(event: dict[str, Any]) -> tuple[str, str, str]:
    """What identifies an event: its ``mid``, its actor and its device (a ``mid`` alone repeats
    across users in some producers)."""
    return (event["mid"], event["actor"]["id"], event["context"].get("did") or "")


def record_id(key: tuple[str, ...]) -> str:
    """The row id for an event key, so a repeat maps to the stored row (stored once)."""
    return hashlib.blake2b("\x1f".join(key).encode(), digest_size=16).hexdigest()


# Flattened attribute names, made once per (prefix, field) and reused: the same few dozen
# come in every event. Bounded, since field names come from clients.
_NAMES: dict[str, dict[str, str]] = {}
_MAX_PREFIXES = 256
_MAX_NAMES_PER_PREFIX = 256


def _flatten(
    prefix: str, value: dict[str, Any], into: dict[str, Any], policy: PrivacyPolicy | None = None
) -> None:
    """``value``'s fields into ``into`` under ``prefix``, nested objects by dotted keys; with a
    ``policy``, each text, list or object as the policy records it (left out if not)."""
    names = _NAMES.get(prefix)
    if names is None:
        names = {}
        if len(_NAMES) < _MAX_PREFIXES:
            _NAMES[prefix] = names
    for name, item in value.items():
        key = names.get(name)
        if key is None:
            key = prefix + name
            if len(names) < _MAX_NAMES_PER_PREFIX:
                names[name] = key
        if type(item) is dict:
            _flatten(key + ".", item, into, policy)
        elif policy is None or (type(item) in _PLAIN and policy.admits(key)):
            # a number says nothing of a person, but a key the policy denies is left out
            into[key] = item
        else:
            kept = _judged(key, item, policy)
            if kept is not None:
                into[key] = kept


def _judged(key: str, item: Any, policy: PrivacyPolicy) -> Any:
    if key in _KNOWN_SAFE:
        if key == _URI and type(item) is str:
            # a page's address as every URL the bot records: no query, fragment or
            # credentials unless personal data may be logged, personal path segments replaced
            item = policy.url(item)
        return policy.apply({key: item}, _KNOWN_SAFE).get(key)
    return policy.value(key, item)


def _hex_id(value: Any, size: int) -> str | None:
    if type(value) is not str or len(value) != size:
        return None
    lowered = value.lower()
    if not _HEX.issuperset(lowered) or lowered == "0" * size:
        return None
    return lowered


_EID = contract.ATTR_SUNBIRD_EID
_MID = contract.ATTR_SUNBIRD_MID
_VER = contract.ATTR_SUNBIRD_VER
_ETS = contract.ATTR_SUNBIRD_ETS
_SYNCTS = contract.ATTR_SUNBIRD_SYNCTS
_TIMESTAMP = contract.ATTR_SUNBIRD_TIMESTAMP
_ACTOR_ID = contract.ATTR_SUNBIRD_ACTOR_ID
_ACTOR_TYPE = contract.ATTR_SUNBIRD_ACTOR_TYPE
_CHANNEL = contract.ATTR_SUNBIRD_CHANNEL
_ENV = contract.ATTR_SUNBIRD_ENV
_FROM_ID = contract.FROM_ID
_DID = contract.ATTR_SUNBIRD_DID
_SID = contract.ATTR_SUNBIRD_SID
_SESSION_ID = contract.ATTR_SESSION_ID
_SESSION_SOURCE = contract.ATTR_SUNBIRD_SESSION_SOURCE
_CDATA = contract.ATTR_SUNBIRD_CDATA
_CDATA_PREFIX = contract.SUNBIRD_CDATA_PREFIX
_CONVERSATION_ID = contract.CONVERSATION_ID
_TAGS = contract.ATTR_SUNBIRD_TAGS
_PDATA_PREFIX = contract.SUNBIRD_PREFIX + "context.pdata."
_CONTEXT_PREFIX = contract.SUNBIRD_PREFIX + "context."
_OBJECT_PREFIX = contract.SUNBIRD_OBJECT_PREFIX
_EDATA_PREFIX = contract.SUNBIRD_EDATA_PREFIX
_SCOPE = contract.CLIENT_EVENT_SCOPE


def event_row(
    event: dict[str, Any],
    bundle: BundleInfo,
    policy: PrivacyPolicy,
    *,
    session: str | None = None,
) -> ClientEventRow:
    """The stored row of one valid, enriched event. ``session`` is the server-side session
    id when the event has no ``context.sid``."""
    return ClientEventRow(*event_values(event, bundle, policy, session, {}))


def event_values(
    event: dict[str, Any],
    bundle: BundleInfo,
    policy: PrivacyPolicy,
    session: str | None,
    pseudonyms: dict[str, str],
) -> tuple[Any, ...]:
    """``event_row``'s fields as a plain tuple, in the same order (cheaper to make, and
    ``add_rows`` takes either); ``pseudonyms`` remembers the policy's pseudonyms across the
    events of one bundle (mostly one user's, on one device)."""
    eid: str = event["eid"]
    actor = event["actor"]
    context = event["context"]
    pdata = context["pdata"]
    mid = event["mid"]
    ets = event["ets"]
    actor_id = pseudonyms.get(actor["id"])
    if actor_id is None:
        actor_id = pseudonyms[actor["id"]] = policy.pseudonymize(actor["id"])
    did = context.get("did")
    client_sid = context.get("sid")
    sid = client_sid or session
    attributes: dict[str, Any] = {
        _EID: eid,
        _MID: mid,
        _VER: event["ver"],
        _ETS: ets,
        _SYNCTS: bundle.syncts_ms,
        _TIMESTAMP: bundle.timestamp,
        _ACTOR_ID: actor_id,
        _ACTOR_TYPE: actor["type"],
        _CHANNEL: context["channel"],
        _ENV: context["env"],
        _FROM_ID: actor_id,
    }
    _flatten(_PDATA_PREFIX, pdata, attributes)
    if did:
        device = pseudonyms.get(did)
        if device is None:
            device = pseudonyms[did] = policy.pseudonymize(did)
        attributes[_DID] = device
    if sid:
        attributes[_SID] = sid
        attributes[_SESSION_ID] = sid
        attributes[_SESSION_SOURCE] = "client" if client_sid else "server"
    # What the client filled in freely (more context, context items, the object, tags, edata
    # and a page's address) is judged by the policy as the bot's own properties are, by key
    # and then by value.
    if len(context) > 3:  # more than channel, env and pdata
        for name, value in context.items():
            if name not in _CONTEXT_DONE:
                if type(value) is dict:
                    _flatten(f"{_CONTEXT_PREFIX}{name}.", value, attributes, policy)
                else:
                    _flatten(_CONTEXT_PREFIX, {name: value}, attributes, policy)
    conversation_id = trace_id = span_id = None
    cdata = context.get("cdata")
    if cdata:
        attributes[_CDATA] = cdata
        for item in cdata:
            kind, value = item["type"], item["id"]
            lowered = kind.lower()
            if lowered == _CONVERSATION:
                # The bot's own rule for conversation ids, so the page's events still join.
                safe = policy.conversation_id(value) if value else value
                if safe != value:
                    value = safe
                    attributes[_CDATA] = _with_id(attributes[_CDATA], item, safe)
                conversation_id = conversation_id or value or None
            elif lowered == _TRACE:
                trace_id = trace_id or _hex_id(value, 32)
            elif lowered == _SPAN:
                span_id = span_id or _hex_id(value, 16)
            else:
                # any other item (a beneficiary, an application) may name or number a person
                judged_id = policy.value(_CDATA_PREFIX + kind, value)
                if judged_id != value:
                    value = judged_id
                    attributes[_CDATA] = _with_id(attributes[_CDATA], item, judged_id)
            if value is not None:
                attributes[_CDATA_PREFIX + kind] = value
    if conversation_id:
        attributes[_CONVERSATION_ID] = conversation_id
    if trace_id is None:
        span_id = None  # a span id means nothing without its trace
    obj = event.get("object")
    if obj:
        _flatten(_OBJECT_PREFIX, obj, attributes, policy)
    tags = event.get("tags")
    if tags:
        attributes[_TAGS] = policy.value(_TAGS, tags)
    _flatten(_EDATA_PREFIX, private_edata(eid, event["edata"], policy), attributes, policy)
    severity = SEVERITY_ERROR if eid == "ERROR" else SEVERITY_INFO
    return (
        record_id((mid, actor["id"], did or "")),
        int(ets * 1_000_000),
        trace_id,
        span_id,
        pdata["id"] or "unknown_client",
        severity[0],
        severity[1],
        None,
        eid,
        conversation_id,
        attributes,
        _SCOPE,
        actor_id or None,
        sid or None,
    )


def _with_id(cdata: list[Any], item: Any, new_id: str) -> list[Any]:
    return [{**each, "id": new_id} if each is item else each for each in cdata]


_CONTEXT_DONE = frozenset({"channel", "env", "pdata", "did", "sid", "cdata"})
_URI = _EDATA_PREFIX + "uri"
#: Fields the policy only bounds: the address (made safe by ``policy.url``) and START's
#: user agent (the browser's, with spaces in it: free text to the value rule).
_PLAIN = frozenset({int, float, bool, type(None)})
_KNOWN_SAFE = frozenset(
    {
        _URI,
        *(
            f"{_EDATA_PREFIX}uaspec.{name}"
            for name in ("agent", "ver", "system", "platform", "raw")
        ),
    }
)
_CONVERSATION = contract.CDATA_CONVERSATION.lower()
_TRACE = contract.CDATA_TRACE.lower()
_SPAN = contract.CDATA_SPAN.lower()


def scrubbed(raw: Any, policy: PrivacyPolicy) -> Any:
    """A failed event as it may be kept: ids pseudonymised, free text as the policy says."""
    if type(raw) is not dict:
        return raw
    kept = dict(raw)
    actor = kept.get("actor")
    if type(actor) is dict and isinstance(actor.get("id"), str):
        kept["actor"] = {**actor, "id": policy.pseudonymize(actor["id"])}
    context = kept.get("context")
    if type(context) is dict and isinstance(context.get("did"), str):
        context = kept["context"] = {**context, "did": policy.pseudonymize(context["did"])}
    if type(context) is dict and type(context.get("cdata")) is list:
        cdata = context["cdata"]
        for item in cdata:
            if type(item) is not dict or not isinstance(item.get("type"), str):
                continue
            kind, found = item["type"], item.get("id")
            if kind.lower() == _CONVERSATION and isinstance(found, str):
                cdata = _with_id(cdata, item, policy.conversation_id(found))
            elif kind.lower() not in (_TRACE, _SPAN):
                cdata = _with_id(cdata, item, policy.value(_CDATA_PREFIX + kind, found))
        kept["context"] = {**context, "cdata": cdata}
    if type(context) is dict:
        # the rest judged as a valid event's fields are, in the event's own shape
        judged = {}
        for name, value in kept["context"].items():
            if name not in _CONTEXT_DONE:
                value = _judged_fields(f"{_CONTEXT_PREFIX}{name}.", value, policy)
            if value is not None:
                judged[name] = value
        kept["context"] = judged
    edata = kept.get("edata")
    if isinstance(kept.get("eid"), str) and type(edata) is dict:
        kept["edata"] = private_edata(kept["eid"], edata, policy)
    for name, prefix in (("edata", _EDATA_PREFIX), ("object", _OBJECT_PREFIX)):
        if name in kept:
            kept[name] = _judged_fields(prefix, kept[name], policy)
    if "tags" in kept:
        kept["tags"] = policy.value(_TAGS, kept["tags"])
    return kept


def _judged_fields(prefix: str, value: Any, policy: PrivacyPolicy) -> Any:
    """``value`` (a field of an invalid event, any shape) with each of its fields as
    ``_flatten`` would record it under its dotted key; a left-out field is not there."""
    if type(value) is not dict:
        plain = type(value) in _PLAIN and policy.admits(prefix[:-1])
        return value if plain else _judged(prefix[:-1], value, policy)
    found = {}
    for name, item in value.items():
        key = f"{prefix}{name}"
        kept = _judged_fields(key + ".", item, policy)
        if kept is not None:
            found[name] = kept
    return found


def failed_row(
    raw: Any, problem: Problem, bundle: BundleInfo, policy: PrivacyPolicy, device: str = ""
) -> ClientEventRow:
    """An invalid event kept in the failed set, with why it failed. It has no event name, so
    event views do not list it; a repeat of the same event is stored once."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    kept = to_json(scrubbed(raw, policy))
    if len(kept) > MAX_FAILED_BODY:
        kept = kept[:MAX_FAILED_BODY] + "…(cut)"
    attributes: dict[str, Any] = {
        contract.ATTR_SUNBIRD_FAILURE_FIELD: problem.field or "event",
        contract.ATTR_SUNBIRD_FAILURE_EXPECTED: problem.expected,
        contract.ATTR_SUNBIRD_FAILURE_REASON: problem.reason,
        contract.ATTR_SUNBIRD_SYNCTS: bundle.syncts_ms,
        contract.ATTR_SUNBIRD_TIMESTAMP: bundle.timestamp,
    }
    if type(raw) is dict:
        for name, key in (("eid", contract.ATTR_SUNBIRD_EID), ("mid", contract.ATTR_SUNBIRD_MID)):
            if isinstance(raw.get(name), str):
                attributes[key] = raw[name]
    if bundle.msgid:
        attributes[contract.ATTR_SUNBIRD_MSGID] = bundle.msgid
    if bundle.bundle_id:
        attributes[contract.ATTR_SUNBIRD_BUNDLE_ID] = bundle.bundle_id
    return ClientEventRow(
        record_id=record_id(("failed", device, text)),
        time_ns=bundle.syncts_ms * 1_000_000,
        trace_id=None,
        span_id=None,
        service_name=_producer(raw),
        severity_number=SEVERITY_WARN[0],
        severity_text=SEVERITY_WARN[1],
        body=kept,
        event_name=None,
        conversation_id=None,
        attributes=attributes,
        scope_name=contract.CLIENT_FAILED_SCOPE,
    )


def _producer(raw: Any) -> str:
    try:
        name = raw["context"]["pdata"]["id"]
    except (TypeError, KeyError):
        return "unknown_client"
    return name if isinstance(name, str) and name else "unknown_client"


# The row's fields by position, from its annotations (the same order as its fields).
_ROW_INDEX = {name: index for index, name in enumerate(ClientEventRow.__annotations__)}


def add_rows(batch: Batch, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append rows (``ClientEventRow``s, or their fields as tuples) to the batch's log
    records, column by column (a column the mapping does not know is left empty: the
    promoted columns but the user and the session, which the row carries). The attributes
    hold no NaN or ±Infinity float, as ``parse_bundle`` reads JSON and ``event_values`` and
    ``failed_row`` make rows (``to_json(..., finite=True)``)."""
    if not rows:
        return
    columns = batch.logs
    by_field = list(zip(*rows, strict=True))
    attributes = by_field[_ROW_INDEX["attributes"]]
    for name in LOG_COLUMNS:
        if name == "attributes":
            columns[name].extend([to_json(a, finite=True) for a in attributes])
        elif name == "trace_key":
            columns[name].extend(map(trace_key, by_field[_ROW_INDEX["trace_id"]]))
        elif name in _ROW_INDEX:
            columns[name].extend(by_field[_ROW_INDEX[name]])
        else:
            columns[name].extend([None] * len(rows))
