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
from typing import Any, NamedTuple

from ... import contract
from ...privacy import PrivacyPolicy
from ...store.rows import LOG_COLUMNS, Batch, promoted_values, to_json, trace_key
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


def event_key(event: dict[str, Any]) -> tuple[str, str, str]:
    """What identifies an event: its ``mid``, its actor and its device (a ``mid`` alone repeats
    across users in some producers)."""
    return (event["mid"], event["actor"]["id"], event["context"].get("did") or "")


def record_id(key: tuple[str, ...]) -> str:
    """The row id for an event key, so a repeat maps to the stored row (stored once)."""
    return hashlib.blake2b("\x1f".join(key).encode(), digest_size=16).hexdigest()


def _flatten(prefix: str, value: dict[str, Any], into: dict[str, Any]) -> None:
    for name, item in value.items():
        if type(item) is dict:
            _flatten(f"{prefix}{name}.", item, into)
        else:
            into[prefix + name] = item


def _hex_id(value: Any, size: int) -> str | None:
    if type(value) is not str or len(value) != size:
        return None
    lowered = value.lower()
    if not _HEX.issuperset(lowered) or lowered == "0" * size:
        return None
    return lowered


def event_row(
    event: dict[str, Any],
    bundle: BundleInfo,
    policy: PrivacyPolicy,
    *,
    session: str | None = None,
) -> ClientEventRow:
    """The stored row of one valid, enriched event. ``session`` is the server-side session
    id when the event has no ``context.sid``."""
    eid: str = event["eid"]
    actor = event["actor"]
    context = event["context"]
    pdata = context["pdata"]
    actor_id = policy.pseudonymize(actor["id"])
    did = context.get("did")
    sid = context.get("sid") or session
    attributes: dict[str, Any] = {
        contract.ATTR_SUNBIRD_EID: eid,
        contract.ATTR_SUNBIRD_MID: event["mid"],
        contract.ATTR_SUNBIRD_VER: event["ver"],
        contract.ATTR_SUNBIRD_ETS: event["ets"],
        contract.ATTR_SUNBIRD_SYNCTS: bundle.syncts_ms,
        contract.ATTR_SUNBIRD_TIMESTAMP: bundle.timestamp,
        contract.ATTR_SUNBIRD_ACTOR_ID: actor_id,
        contract.ATTR_SUNBIRD_ACTOR_TYPE: actor["type"],
        contract.ATTR_SUNBIRD_CHANNEL: context["channel"],
        contract.ATTR_SUNBIRD_ENV: context["env"],
        contract.FROM_ID: actor_id,
    }
    _flatten(contract.SUNBIRD_PREFIX + "context.pdata.", pdata, attributes)
    if did:
        attributes[contract.ATTR_SUNBIRD_DID] = policy.pseudonymize(did)
    if sid:
        attributes[contract.ATTR_SUNBIRD_SID] = sid
        attributes[contract.ATTR_SESSION_ID] = sid
        attributes[contract.ATTR_SUNBIRD_SESSION_SOURCE] = (
            "client" if context.get("sid") else "server"
        )
    for name, value in context.items():
        if name not in _CONTEXT_DONE:
            if type(value) is dict:
                _flatten(f"{contract.SUNBIRD_PREFIX}context.{name}.", value, attributes)
            else:
                attributes[f"{contract.SUNBIRD_PREFIX}context.{name}"] = value
    conversation_id = trace_id = span_id = None
    cdata = context.get("cdata")
    if cdata:
        attributes[contract.ATTR_SUNBIRD_CDATA] = cdata
        for item in cdata:
            kind, value = item["type"], item["id"]
            attributes[contract.SUNBIRD_CDATA_PREFIX + kind] = value
            lowered = kind.lower()
            if lowered == _CONVERSATION:
                conversation_id = conversation_id or value or None
            elif lowered == _TRACE:
                trace_id = trace_id or _hex_id(value, 32)
            elif lowered == _SPAN:
                span_id = span_id or _hex_id(value, 16)
    if conversation_id:
        attributes[contract.CONVERSATION_ID] = conversation_id
    if trace_id is None:
        span_id = None  # a span id means nothing without its trace
    obj = event.get("object")
    if obj:
        _flatten(contract.SUNBIRD_OBJECT_PREFIX, obj, attributes)
    tags = event.get("tags")
    if tags:
        attributes[contract.ATTR_SUNBIRD_TAGS] = tags
    _flatten(contract.SUNBIRD_EDATA_PREFIX, private_edata(eid, event["edata"], policy), attributes)
    severity = SEVERITY_ERROR if eid == "ERROR" else SEVERITY_INFO
    return ClientEventRow(
        record_id=record_id((event["mid"], actor["id"], did or "")),
        time_ns=int(event["ets"] * 1_000_000),
        trace_id=trace_id,
        span_id=span_id,
        service_name=pdata["id"] or "unknown_client",
        severity_number=severity[0],
        severity_text=severity[1],
        body=None,
        event_name=eid,
        conversation_id=conversation_id,
        attributes=attributes,
        scope_name=contract.CLIENT_EVENT_SCOPE,
    )


_CONTEXT_DONE = frozenset({"channel", "env", "pdata", "did", "sid", "cdata"})
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
        kept["context"] = {**context, "did": policy.pseudonymize(context["did"])}
    edata = kept.get("edata")
    if isinstance(kept.get("eid"), str) and type(edata) is dict:
        kept["edata"] = private_edata(kept["eid"], edata, policy)
    return kept


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


# The row's fields by position (NamedTuple's own list of them is a private name).
_ROW_INDEX = {
    name: index
    for index, name in enumerate(
        (
            "record_id",
            "time_ns",
            "trace_id",
            "span_id",
            "service_name",
            "severity_number",
            "severity_text",
            "body",
            "event_name",
            "conversation_id",
            "attributes",
            "scope_name",
        )
    )
}


def add_rows(batch: Batch, rows: list[ClientEventRow]) -> None:
    """Append rows to the batch's log records, column by column (a column the mapping does not
    know is left empty)."""
    if not rows:
        return
    columns = batch.logs
    values = [promoted_values(row.attributes, contract.PROMOTED_EVENT_PROPERTIES) for row in rows]
    promoted = {
        name: [row_values[index] for row_values in values]
        for index, name in enumerate(contract.PROMOTED_EVENT_PROPERTIES)
    }
    for name in LOG_COLUMNS:
        if name == "attributes":
            columns[name].extend(to_json(row.attributes) for row in rows)
        elif name in promoted:  # the actor, session, ... as the bot's events have them
            columns[name].extend(promoted[name])
        elif name == "trace_key":
            columns[name].extend(trace_key(row.trace_id) for row in rows)
        elif name in _ROW_INDEX:
            index = _ROW_INDEX[name]
            columns[name].extend(row[index] for row in rows)
        else:
            columns[name].extend([None] * len(rows))
