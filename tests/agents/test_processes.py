"""One trace per turn across processes, with the bot on the Agents SDK: a caller with its
own ``traceparent`` -> the sample bot (``python -m sample_bot --runtime agents``) -> the nlu
and qna services -> the connector that receives the reply, each its own process (the
connector is this test's), all exporting to ``bot-telemetry serve``."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.bot.servers import Recorded, connector_app
from tests.reliability.stack import collector, exporting_to, sample_stack, stored
from tests.support.servers import serving

TURNS = (
    ("conv-a", "hello there"),  # Greeting: the recognizer only
    ("conv-a", "do you have parking?"),  # a question: recognizer, then Q&A
    ("conv-b", "when are you open?"),
    ("conv-b", "goodbye"),
)


def post(url: str, body: dict[str, Any], traceparent: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "traceparent": traceparent},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


async def test_each_turn_is_one_trace_from_the_caller_to_the_channel(tmp_path: Path) -> None:
    store = tmp_path / "telemetry.duckdb"
    connector = Recorded()
    callers: dict[str, tuple[str, str]] = {}  # activity id -> (trace id, caller span id)
    with collector(store) as serve:
        env = exporting_to(serve.url)
        with sample_stack(
            tmp_path, env, services=("nlu", "qna", "bot"), bot_args=("--runtime", "agents")
        ) as stack:
            async with serving(connector_app(connector)) as connector_url:
                for conversation, text in TURNS:
                    activity_id = uuid.uuid4().hex
                    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
                    callers[activity_id] = (trace_id, span_id)
                    body = {
                        "type": "message",
                        "id": activity_id,
                        "channelId": "directline",
                        "serviceUrl": connector_url,
                        "text": text,
                        "from": {"id": f"user-{conversation}", "name": "Ana"},
                        "recipient": {"id": "bot", "name": "Bistro"},
                        "conversation": {"id": conversation},
                    }
                    url = f"{stack.urls['bot']}/api/messages"
                    parent = f"00-{trace_id}-{span_id}-01"
                    assert await asyncio.to_thread(post, url, body, parent) == 202
            for name in ("bot", "nlu", "qna"):
                assert stack.flush(name)

    spans = stored(
        store,
        "SELECT trace_id, span_id, parent_span_id, service_name, name, kind FROM spans "
        "WHERE service_name IN ('bot', 'nlu', 'qna')",
    )
    by_trace: dict[str, list[tuple[Any, ...]]] = {}
    for span in spans:
        by_trace.setdefault(span[0], []).append(span)
    turns = [s for s in spans if s[4] == "bot.turn"]
    assert len(turns) == len(TURNS)
    assert {s[0] for s in turns} == {trace for trace, _ in callers.values()}, (
        "every turn continues its caller's trace: none starts a trace of its own"
    )

    replies = {r["reply_to"]: r for r in connector.requests}
    assert len(replies) == len(TURNS)
    for (_, text), (activity_id, (trace_id, caller_span)) in zip(
        TURNS, callers.items(), strict=True
    ):
        in_trace = by_trace[trace_id]
        by_id = {s[1]: s for s in in_trace}
        (request,) = [s for s in in_trace if s[3] == "bot" and s[4] == "POST /api/messages"]
        assert request[2] == caller_span
        (turn,) = [s for s in in_trace if s[4] == "bot.turn"]
        assert by_id[turn[2]] == request
        (nlu,) = [s for s in in_trace if s[3] == "nlu" and s[5] == 2]
        assert by_id[nlu[2]][4] == "Recognizer Query"
        asked = [s for s in in_trace if s[3] == "qna" and s[5] == 2]
        assert len(asked) == (1 if text.endswith("?") else 0), text
        for served in asked:
            assert by_id[served[2]][4] == "QnA Query"
        # The channel got the reply with this trace, its parent the bot's own request span.
        _, reply_trace, reply_parent, _ = replies[activity_id]["headers"]["traceparent"].split("-")
        assert reply_trace == trace_id
        reply = by_id[reply_parent]
        assert (reply[3], reply[4], reply[5]) == ("bot", "POST", 3)
