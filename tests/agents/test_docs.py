"""docs/agents.md's agent runs as written: copied to a file and run as its own process,
exporting to a collector, it answers a channel and records what the page says each line
adds (one trace per turn continuing the caller's traceparent, the turn span, storage,
the recognizer, Q&A, the dialog's steps, the reply, the BotMessage* events), and no
personal data under the default policy."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import aiohttp
import duckdb

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.bot.servers import Recorded, connector_app
from tests.support.ports import free_port
from tests.support.processes import REPO, running
from tests.support.servers import serving


def docs_agent() -> str:
    """The Python block under 'Adding it to an Agents SDK bot' in docs/agents.md."""
    text = (REPO / "docs" / "agents.md").read_text(encoding="utf-8")
    start = text.index("## Adding it to an Agents SDK bot")
    block = text[text.index("```python\n", start) + len("```python\n") :]
    return block[: block.index("```")]


def message(text: str, index: int, service_url: str) -> dict[str, object]:
    return {
        "type": "message",
        "id": f"activity-{index}",
        "text": text,
        "from": {"id": "user-ada-1815", "name": "Ada Lovelace"},
        "recipient": {"id": "agent", "name": "My agent"},
        "conversation": {"id": "conversation-1"},
        "channelId": "directline",
        "serviceUrl": service_url,
    }


async def test_the_docs_agent_runs_as_written_and_records_what_the_docs_say(
    tmp_path: Path,
) -> None:
    snippet = docs_agent()
    port = free_port()
    # Only the value a reader would change: the port.
    assert "port=3978" in snippet
    script = tmp_path / "agent.py"
    script.write_text(snippet.replace("port=3978", f"port={port}"), encoding="utf-8")
    store = tmp_path / "telemetry.duckdb"
    connector = Recorded()
    said = ["hello there", "when do you open?"]
    callers: list[str] = []
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        async with serving(connector_app(connector)) as connector_url:
            with running(
                [str(script)],
                ready_url=f"http://127.0.0.1:{port}/api/messages",
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url},
            ) as agent:
                async with aiohttp.ClientSession() as http:
                    for index, text in enumerate(said):
                        trace_id = uuid.uuid4().hex
                        callers.append(trace_id)
                        async with http.post(
                            f"http://127.0.0.1:{port}/api/messages",
                            json=message(text, index, connector_url),
                            headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
                        ) as answer:
                            assert answer.status == 202, await answer.text()
                assert agent.stop() == 0, agent.output()
            output = agent.output()
    assert "Traceback" not in output, output

    replies = [request["activity"]["text"] for request in connector.requests]
    assert replies == ["Hello!", "We open at 9."], connector.requests
    with duckdb.connect(str(store), read_only=True) as db:
        spans = db.execute(
            "SELECT trace_id, name, kind, status_code FROM spans ORDER BY start_ns"
        ).fetchall()
        events = db.execute(
            "SELECT trace_id, event_name FROM logs WHERE event_name IS NOT NULL"
        ).fetchall()
        everything = json.dumps(
            [
                db.execute(f"SELECT * FROM {table}").fetchall()
                for table in ("spans", "logs", "span_events", "metric_points")
            ],
            default=str,
        )
    greeting, question = (
        {name for trace, name, _, _ in spans if trace == caller} for caller in callers
    )
    for turn in (greeting, question):
        assert {"POST /api/messages", "bot.turn", "Storage Read", "Recognizer Query", "POST"} <= (
            turn
        ), turn
    assert "QnA Query" in question and "QnA Query" not in greeting
    assert not [name for _, name, _, _ in spans if name.startswith("agents.")]
    greeting_events, question_events = (
        sorted(name for trace, name in events if trace == caller) for caller in callers
    )
    assert {"BotMessageReceived", "BotMessageSend", "LuisIntent.Greet"} <= set(greeting_events)
    assert {"WaterfallStart", "WaterfallStep", "WaterfallComplete"} <= set(greeting_events)
    assert {"BotMessageReceived", "BotMessageSend", "QnAMessage"} <= set(question_events)
    for personal in ("Ada Lovelace", "user-ada-1815", "hello there", "when do you open"):
        assert personal not in everything, personal
