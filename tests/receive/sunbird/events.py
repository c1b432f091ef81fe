"""Hand-made Sunbird v3 events and bundles: one valid event per eid, as the specification
shapes them, and bundles as the SDK sends them."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import Any

EDATA: dict[str, dict[str, Any]] = {
    "START": {"type": "session", "mode": "chat", "pageid": "webchat", "duration": 0},
    "END": {"type": "session", "pageid": "webchat", "duration": 12.5, "summary": [{"a": 1}]},
    "IMPRESSION": {
        "type": "view",
        "pageid": "webchat",
        "uri": "/webchat/",
        "visits": [{"objid": "o1", "objtype": "Activity", "index": 1}],
    },
    "INTERACT": {
        "type": "CLICK",
        "id": "suggested-action",
        "subtype": "imBack",
        "target": {"id": "t", "ver": "1", "type": "Button", "parent": {"id": "p", "type": "x"}},
        "plugin": {"id": "webchat", "ver": "4.18.1"},
        "extra": {"value": "book a table"},
    },
    "FEEDBACK": {"rating": 5, "commentid": "urn:like:1", "commenttxt": "great, mail me a@b.co"},
    "LOG": {"type": "system", "level": "INFO", "message": "loaded", "params": [{"k": "v"}]},
    "ERROR": {
        "err": "E1",
        "errtype": "SYSTEM",
        "stacktrace": "at main.js:1",
        "object": {"id": "o", "type": "t", "ver": "1"},
    },
    "INTERRUPT": {"type": "background", "pageid": "webchat"},
    "SUMMARY": {
        "type": "session",
        "starttime": 1,
        "endtime": 2,
        "timespent": 1,
        "pageviews": 3,
        "interactions": 4,
        "extra": [],
    },
    "ASSESS": {
        "item": {"id": "q1", "title": "Which?", "maxscore": 1},
        "pass": "Yes",
        "score": 1,
        "resvalues": [{"1": "a"}],
        "duration": 3,
    },
    "RESPONSE": {"target": {"id": "t", "ver": "1", "type": "x"}, "type": "CHOOSE", "values": []},
    "SHARE": {"items": [{"id": "a"}], "dir": "out", "type": "Link"},
    "SEARCH": {"query": "opening hours", "size": 3, "topn": [], "filters": {}, "sort": {}},
    "AUDIT": {"props": ["a"], "state": "s", "prevstate": "p"},
    "EXDATA": {"type": "blob", "data": "x"},
    "METRICS": {"system": "webchat", "subsystem": "render", "metrics": [{"name": "fps"}]},
    "HEARTBEAT": {"anything": {"goes": True}},
}
EIDS = tuple(EDATA)


def mid_of(event: dict[str, Any]) -> str:
    """The SDK's mid: eid + ':' + MD5 of the event's JSON with an empty mid."""
    text = json.dumps({**event, "mid": ""}, separators=(",", ":"), ensure_ascii=False)
    return f"{event['eid']}:{hashlib.md5(text.encode()).hexdigest()}"


def event(
    eid: str,
    *,
    actor: str = "user-1",
    did: str | None = "device-1",
    sid: str | None = "session-1",
    conversation: str | None = "conv-1",
    ets: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "channel": "sample-channel",
        "pdata": {"id": "webchat", "ver": "0.1.0", "pid": "sample-bot-webchat"},
        "env": "webchat",
    }
    if sid is not None:
        context["sid"] = sid
    if did is not None:
        context["did"] = did
    if conversation is not None:
        context["cdata"] = [{"type": "Conversation", "id": conversation}]
    made: dict[str, Any] = {
        "eid": eid,
        "ets": ets if ets is not None else time.time_ns() // 1_000_000,
        "ver": "3.0",
        "mid": "",
        "actor": {"id": actor, "type": "User"},
        "context": context,
        "object": {"id": "sample-bot", "ver": "1.0"},
        "tags": ["demo"],
        "edata": copy.deepcopy(EDATA[eid]),
    }
    made.update(extra)
    if not made.get("mid"):
        made["mid"] = mid_of(made)
    return made


def bundle(events: list[Any], msgid: str | None = None) -> dict[str, Any]:
    text = json.dumps(events, separators=(",", ":"))
    return {
        "id": "api.sunbird.telemetry",
        "ver": "3.0",
        "params": {"msgid": msgid or hashlib.md5(text.encode()).hexdigest()},
        "ets": time.time_ns() // 1_000_000,
        "events": events,
    }
