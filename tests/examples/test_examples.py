"""The bots in examples/ run as a user runs them (their own process, exporting over OTLP to a
collector) and give what their docstrings promise: one trace per turn with the turn span,
storage, the reply to the channel and the BotMessage* events, and state that holds."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import duckdb
import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.bot.servers import Recorded, connector_app
from tests.support.ports import free_port
from tests.support.processes import running
from tests.support.servers import serving


def message(text: str, index: int, service_url: str) -> dict[str, object]:
    return {
        "type": "message",
        "id": f"activity-{index}",
        "text": text,
        "from": {"id": "user-1", "name": "Ada Lovelace"},
        "recipient": {"id": "bot"},
        "conversation": {"id": "conversation-1"},
        "channelId": "directline",
        "serviceUrl": service_url,
    }


@pytest.mark.parametrize(
    ("example", "service", "status"),
    [("echo_bot", "echo-bot", 201), ("echo_agent", "echo-agent", 202)],
)
async def test_an_example_bot_reports_each_turn(
    tmp_path: Path, example: str, service: str, status: int
) -> None:
    store = tmp_path / "telemetry.duckdb"
    connector = Recorded()
    port = free_port()
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        async with serving(connector_app(connector)) as connector_url:
            with running(
                [f"examples/{example}.py", "--port", str(port)],
                ready_url=f"http://127.0.0.1:{port}/api/messages",
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url},
            ) as bot:
                async with aiohttp.ClientSession() as http:
                    for index, text in enumerate(["hello", "again"]):
                        body = message(text, index, connector_url)
                        async with http.post(
                            f"http://127.0.0.1:{port}/api/messages", json=body
                        ) as answer:
                            assert answer.status == status, await answer.text()
                # SIGTERM, as a process manager stops it: what it recorded is flushed on exit
                assert bot.stop() == 0, bot.output()

    replies = [request["activity"]["text"] for request in connector.requests]
    assert replies == ["you said: hello (1)", "you said: again (2)"]
    with duckdb.connect(str(store), read_only=True) as db:
        spans = db.execute(
            "SELECT trace_id, name, kind, attributes FROM spans ORDER BY start_ns"
        ).fetchall()
        events = db.execute(
            "SELECT event_name FROM logs WHERE event_name LIKE 'BotMessage%'"
        ).fetchall()
        services = db.execute("SELECT DISTINCT service_name FROM spans").fetchall()
    assert services == [(service,)]
    traces: dict[str, list[str]] = {}
    for trace_id, name, _, _ in spans:
        traces.setdefault(trace_id, []).append(name)
    turns = [names for names in traces.values() if "bot.turn" in names]
    assert len(turns) == 2  # one trace a turn (the others: the test's readiness probes)
    for names in turns:
        assert names[:2] == ["POST /api/messages", "bot.turn"]
        assert {"Storage Read", "Storage Write", "POST"} <= set(names)
    (peer,) = {
        json.loads(attributes).get("peer.service")
        for _, name, _, attributes in spans
        if name == "POST"
    }
    assert peer == "directline"  # the reply's node is the channel
    assert sorted(name for (name,) in events) == ["BotMessageReceived"] * 2 + ["BotMessageSend"] * 2
