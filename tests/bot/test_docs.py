"""docs/bot.md's proactive bot runs as written: copied to a file and run as its own process,
exporting to a collector, it answers a channel, writes to the user on ``/api/notify`` (in
the caller's trace) and from its timer (a trace rooted in its ``reminder`` span), and
records what the page says: proactive turns, no BotMessageReceived for them, no personal
data under the default policy, and no active user made by the bot's own sends."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import duckdb

from bot_telemetry import contract
from bot_telemetry.analytics import query
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.bot.servers import Recorded, connector_app
from tests.support.ports import free_port
from tests.support.processes import REPO, running
from tests.support.servers import serving

REMINDER = "Your table is booked for 8 pm."


def docs_bot() -> str:
    """The Python block under 'Proactive messages' in docs/bot.md."""
    text = (REPO / "docs" / "bot.md").read_text(encoding="utf-8")
    start = text.index("## Proactive messages")
    block = text[text.index("```python\n", start) + len("```python\n") :]
    return block[: block.index("```")]


async def _until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Await until ``condition()`` holds (the connector runs on this loop, so no blocking)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds}s waiting for {what}"
        await asyncio.sleep(0.02)


async def test_the_docs_proactive_bot_runs_as_written_and_records_what_the_docs_say(
    tmp_path: Path,
) -> None:
    snippet = docs_bot()
    port = free_port()
    # Only the values a reader would change: the port and how often reminders go.
    assert "port=3978" in snippet and "REMINDER_SECONDS = 3600" in snippet
    script = tmp_path / "proactive_bot.py"
    script.write_text(
        snippet.replace("port=3978", f"port={port}").replace(
            "REMINDER_SECONDS = 3600", "REMINDER_SECONDS = 0.5"
        ),
        encoding="utf-8",
    )
    store = tmp_path / "telemetry.duckdb"
    connector = Recorded()
    caller = uuid.uuid4().hex
    bot = f"http://127.0.0.1:{port}"

    def reminders() -> list[dict[str, object]]:
        return [r for r in connector.requests if (r["activity"] or {}).get("text") == REMINDER]

    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        async with serving(connector_app(connector)) as connector_url:
            with running(
                [str(script)],
                ready_url=f"{bot}/api/messages",
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url},
            ) as process:
                message = {
                    "type": "message",
                    "id": "activity-1",
                    "text": "remind me please",
                    "from": {"id": "user-grace-1906", "name": "Grace Hopper"},
                    "recipient": {"id": "bot", "name": "Proactive bot"},
                    "conversation": {"id": "conversation-1"},
                    "channelId": "directline",
                    "serviceUrl": connector_url,
                }
                async with aiohttp.ClientSession() as http:
                    async with http.post(f"{bot}/api/messages", json=message) as answer:
                        assert answer.status in (200, 201), await answer.text()
                # The caller's trace, sent as any caller would (not through this process's
                # aiohttp, which other tests may have instrumented).
                notify = urllib.request.Request(
                    f"{bot}/api/notify",
                    headers={"traceparent": f"00-{caller}-{uuid.uuid4().hex[:16]}-01"},
                )
                with await asyncio.to_thread(urllib.request.urlopen, notify, timeout=30) as got:
                    assert got.status == 200
                # The notify's reminder, then at least one from the timer.
                await _until(lambda: len(reminders()) >= 2, "a reminder from the timer")
                assert process.stop() == 0, process.output()
            output = process.output()
    assert "Traceback" not in output, output

    by_trace = {r["headers"]["traceparent"].split("-")[1]: r for r in reminders()}
    assert caller in by_trace, "the notify's reminder carries the caller's trace"
    with duckdb.connect(str(store), read_only=True) as db:
        spans = db.execute(
            "SELECT trace_id, span_id, parent_span_id, name, attributes FROM spans"
        ).fetchall()
        events = db.execute(
            "SELECT trace_id, event_name, attributes FROM logs WHERE event_name IS NOT NULL"
        ).fetchall()
        everything = json.dumps(
            [
                db.execute(f"SELECT * FROM {table}").fetchall()
                for table in ("spans", "logs", "span_events")
            ],
            default=str,
        )
    turns = [s for s in spans if s[3] == contract.TURN_SPAN_NAME]
    proactive = [s for s in turns if json.loads(s[4]).get(contract.ATTR_TURN_PROACTIVE)]
    assert len(turns) - len(proactive) == 1 and len(proactive) >= 2
    by_id = {(s[0], s[1]): s for s in spans}
    roots = {}
    for trace_id, _, parent, _, _ in proactive:
        span = by_id[(trace_id, parent)]
        while (trace_id, span[2]) in by_id:  # up to the root, or the caller's span
            span = by_id[(trace_id, span[2])]
        roots[trace_id] = span[3]
    assert roots.pop(caller) == "GET /api/notify"
    assert set(roots.values()) == {"reminder"}, roots
    for trace_id in {s[0] for s in proactive}:
        names = sorted(name for trace, name, _ in events if trace == trace_id)
        assert names == [contract.BOT_MESSAGE_SEND], (trace_id, names)
    for personal in ("Grace Hopper", "user-grace-1906", "remind me please", REMINDER):
        assert personal not in everything, personal

    # The bot's own sends make no active user: one user wrote, one is active.
    opened = Store.open(store)
    try:
        (active,) = query(
            DuckDBEngine(opened),
            start_time=0,
            end_time=int(time.time() * 1000) + 60_000,
            measures=[{"measureType": "activeUsers", "timeGranularity": ["month"]}],
        )
    finally:
        opened.close()
    assert sum(row["users"] for row in active.response) == 1
