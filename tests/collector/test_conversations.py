"""Conversations: the list and one transcript annotated with intents, answers, calls, failures."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from bot_telemetry import PrivacyPolicy
from tests.collector.conftest import Populated


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_the_conversation_list(populated: Populated) -> None:
    (conversation,) = get_json(f"{populated.url}/api/conversations")
    assert conversation["conversation_id"] == "conv-1"
    assert conversation["channel_id"] == "directline"
    assert (conversation["turns"], conversation["failed_turns"]) == (3, 1)
    assert conversation["first"] <= conversation["last"]


def test_a_transcript(populated: Populated) -> None:
    transcript = get_json(f"{populated.url}/api/conversations/conv-1")
    turns = transcript["turns"]
    assert [t["trace_id"] for t in turns] == populated.sent.turn_traces
    assert [t["text"] for t in turns] == ["hi", "what's up?", "<script>alert(1)</script>"]
    assert [t["replies"] for t in turns] == [
        ["echo: hi"],
        ["echo: what's up?"],
        ["echo: <script>alert(1)</script>"],
    ]
    assert [[i["intent"] for i in t["intents"]] for t in turns] == [["Greeting"], [], ["Greeting"]]
    assert turns[0]["intents"][0]["score"] == 0.93
    assert turns[0]["answers"] == [
        {"answer": "Hello <b>there</b>", "score": 0.81, "article_found": True}
    ]
    first = turns[0]
    assert (first["activity_id"], first["activity_type"], first["channel_id"]) == (
        "a0",
        "message",
        "directline",
    )
    assert [(d["source"], d["target"], d["failed"]) for d in first["dependencies"]] == [
        ("bot", "nlu", False),
        ("bot", "qna", False),
        ("bot", "azure.blob", False),
        ("bot", "channel", False),
    ]
    assert all(d["duration_ms"] > 0 for d in first["dependencies"])
    failing = turns[1]
    assert [(f["service"], f["message"]) for f in failing["failures"]] == [
        ("bot", "nlu answered 500"),
        ("nlu", "nlu crashed"),
    ]
    assert failing["dependencies"][0]["failed"] is True
    assert turns[0]["failures"] == [] and turns[2]["failures"] == []
    # Log records are the events; their span-event copies are not counted twice.
    assert first["events"] == [
        "BotMessageReceived",
        "LuisIntent.Greeting",
        "QnAMessage",
        "BotMessageSend",
    ]


def test_events_are_log_records_only(populated: Populated) -> None:
    events = get_json(f"{populated.url}/api/events?name=QnAMessage")
    assert len(events) == 3
    assert {e["service"] for e in events} == {"bot"}
    assert events[0]["properties"]["answer"] == "Hello <b>there</b>"
    assert "microsoft.custom_event.name" not in events[0]["properties"]
    assert len(get_json(f"{populated.url}/api/events?limit=2")) == 2
    assert len(get_json(f"{populated.url}/api/events")) == 11


def test_text_is_absent_when_the_policy_did_not_record_it(collector: Any) -> None:
    from tests.collector.scenario import Sent, Topology

    topology = Topology(collector.url)  # the default policy: no personal data
    sent = Sent(conversation_id="private-1")
    try:
        topology.turn(sent, "my phone is 555 0100")
        topology.flush()
    finally:
        topology.shutdown()
    (turn,) = get_json(f"{collector.url}/api/conversations/private-1")["turns"]
    assert turn["text"] is None
    assert turn["replies"] == [None]
    assert turn["intents"][0]["intent"] == "Greeting"


def test_an_llms_answer_shows_where_the_policy_recorded_it(collector: Any) -> None:
    from tests.collector.scenario import Sent, Topology

    for conversation, privacy in (
        ("llm-open", PrivacyPolicy(log_personal_information=True)),
        ("llm-private", None),
    ):
        topology = Topology(collector.url, privacy=privacy)
        try:
            topology.turn(Sent(conversation_id=conversation), "hi", generated=True)
            topology.flush()
        finally:
            topology.shutdown()
    (turn,) = get_json(f"{collector.url}/api/conversations/llm-open")["turns"]
    assert turn["answers"] == [
        {"answer": "Hello <b>there</b>", "score": 0.81, "article_found": True}
    ]
    (turn,) = get_json(f"{collector.url}/api/conversations/llm-private")["turns"]
    assert turn["answers"] == [{"answer": None, "score": 0.81, "article_found": True}]
