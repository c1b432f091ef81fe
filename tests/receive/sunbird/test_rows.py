"""The stored rows of client events, column by column, for events covering every branch of
the mapping (each eid; with and without sid, did, cdata, object, tags; Trace and Span cdata,
bad hex ids, extra context keys, rollups, free text under two policies; invalid events in the
failed set), compared with ``data/rows.json``: the rows as the first, plain implementation
made them (before the speed work of issue 19), so a faster mapping stores exactly the same."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.contract import PROMOTED_EVENT_PROPERTIES
from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.receive.sunbird.enrich import Sessions
from bot_telemetry.receive.sunbird.ingest import ClientHeaders, build_batch, parse_bundle
from bot_telemetry.receive.sunbird.rows import BundleInfo
from bot_telemetry.store.rows import LOG_COLUMNS, promoted_values

from .events import EIDS, event

GOLDEN = Path(__file__).parent / "data" / "rows.json"
ETS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BUNDLE = BundleInfo("api.sunbird.telemetry", "msg-1", ETS + 5_000, "2026-01-01T00:00:05.000Z")
POLICIES = {
    "default": PrivacyPolicy(pseudonymization_key=b"k" * 32),
    "personal": PrivacyPolicy(pseudonymization_key=b"k" * 32, log_personal_information=True),
}


def cases() -> list[Any]:
    """Events, valid and not, in one bundle's order."""
    made: list[Any] = [event(eid, ets=ETS + index) for index, eid in enumerate(EIDS)]
    traced = event("INTERACT", ets=ETS + 100, actor="user-2")
    traced["context"]["cdata"] += [
        {"type": "Trace", "id": "0AF7651916CD43DD8448EB211C80319C"},
        {"type": "span", "id": "b7ad6b7169203331"},
        {"type": "Custom", "id": "c-1"},
    ]
    traced["context"]["rollup"] = {"l1": "a", "l2": "b"}
    traced["context"]["extra"] = "kept"
    traced["object"] = {"id": "o", "type": "Bot", "ver": "2", "rollup": {"l1": "x"}}
    made.append(traced)
    bad_ids = event("FEEDBACK", ets=ETS + 101, actor="user-3", conversation="")
    bad_ids["context"]["cdata"] += [
        {"type": "Trace", "id": "0" * 32},
        {"type": "Span", "id": "not-hex-not-hex!"},
    ]
    made.append(bad_ids)
    span_only = event("LOG", ets=ETS + 102, conversation=None)
    span_only["context"]["cdata"] = [{"type": "Span", "id": "b7ad6b7169203331"}]
    made.append(span_only)
    bare = event("END", ets=ETS + 103, sid=None, did=None, conversation=None, tags=[])
    del bare["object"]
    made.append(bare)
    later = event("START", ets=ETS + 104 + 31 * 60_000, sid=None, did=None, conversation=None)
    made.append(later)
    fractional = event("SEARCH", ets=ETS + 0.5)
    made.append(fractional)
    broken = copy.deepcopy(made[0])
    broken["edata"]["type"] = 3
    made += [broken, "not an event", {"eid": "NOPE", "mid": "m-1"}, [1, 2]]
    return made


def rows(policy: PrivacyPolicy) -> dict[str, list[Any]]:
    body = json.dumps({"id": "api.sunbird.telemetry", "events": cases()}).encode()
    parsed = parse_bundle(body, None, ClientHeaders(device="header-device", app="portal"))
    batch = build_batch(
        parsed, list(range(len(parsed.events))), BUNDLE, policy, Sessions(), "header-device"
    )
    return batch.logs


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_rows_are_those_of_the_reference_mapping(name: str) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    made = rows(POLICIES[name])
    # Columns added since (issue 16: promoted properties, trace_key) are checked below.
    assert set(expected) <= set(made) == set(LOG_COLUMNS)
    for column, values in expected.items():
        assert made[column] == values, column
    # Attribute documents are compared as text: the same keys in the same order.
    assert len(made["attributes"]) == len(cases())


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_promoted_columns_hold_the_events_own_values(name: str) -> None:
    """The columns analytics read without the JSON (issue 16): the actor, session, channel
    and the rest as the stored attributes say, and trace_key the trace id's first 8 bytes."""
    made = rows(POLICIES[name])
    stored = [json.loads(document) for document in made["attributes"]]
    users = [a.get("enduser.pseudo.id") or a.get("fromId") for a in stored]
    assert made["user_id"] == users and any(users)
    sessions = [a.get("session.id") for a in stored]
    assert made["session_id"] == sessions and any(sessions)
    assert made["channel_id"] == [a.get("channelId") for a in stored]
    traced = [(t, k) for t, k in zip(made["trace_id"], made["trace_key"], strict=True) if t]
    assert traced, "a case carries a Trace cdata"
    for trace_id, key in traced:
        assert key == int(trace_id[:16], 16)
    untraced = [k for t, k in zip(made["trace_id"], made["trace_key"], strict=True) if not t]
    assert untraced and set(untraced) == {None}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_promoted_columns_are_what_the_stores_lookup_gives(name: str) -> None:
    """The row carries the user and the session itself (issue 19); every promoted column
    holds what ``promoted_values`` finds in the stored attributes, as the bot's events do."""
    made = rows(POLICIES[name])
    looked_up = [
        promoted_values(json.loads(document), PROMOTED_EVENT_PROPERTIES)
        for document in made["attributes"]
    ]
    for column, values in zip(PROMOTED_EVENT_PROPERTIES, zip(*looked_up, strict=True), strict=True):
        assert made[column] == list(values), column


def test_a_conversation_id_holding_a_phone_number_is_stored_as_the_bot_stores_it() -> None:
    policy = POLICIES["default"]
    number = "whatsapp:+14155550123"
    hashed = policy.conversation_id(number)
    assert hashed != number
    good = event("INTERACT", ets=ETS, conversation=number)
    bad = event("INTERACT", ets=ETS + 1, conversation=number)
    bad["edata"]["type"] = 3  # kept in the failed set, scrubbed
    body = json.dumps({"id": "api.sunbird.telemetry", "events": [good, bad]}).encode()
    parsed = parse_bundle(body, None, ClientHeaders())
    batch = build_batch(parsed, list(range(len(parsed.events))), BUNDLE, policy, Sessions(), "")
    logs = batch.logs
    assert logs["conversation_id"][0] == hashed  # joins the bot's conversation
    stored = json.dumps([logs["attributes"], logs["body"]])
    assert "4155550123" not in stored
    attributes = json.loads(logs["attributes"][0])
    assert attributes["conversationId"] == attributes["sunbird.cdata.Conversation"] == hashed
    assert attributes["sunbird.context.cdata"] == [{"type": "Conversation", "id": hashed}]
