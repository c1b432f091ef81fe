"""The client-events page and the page's events in a transcript, in headless Chromium."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.collector.scenario import run_conversation
from tests.receive.sunbird.events import bundle, event
from tests.receive.sunbird.test_http import get, post
from tests.support.browser import Page


def test_client_events_page_and_transcript(browser: Any, tmp_path: Path) -> None:
    with CollectorThread(ServerConfig(store=tmp_path / "s.duckdb", port=0)) as running:
        sent = run_conversation(running.url)
        # Sent when the first message was (a click on send): before its turn began.
        turns = get(running.url, f"/api/conversations/{sent.conversation_id}")["turns"]
        first = next(t["start"] for t in turns if t["trace_id"] == sent.turn_traces[0])
        first_ms = int(datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp() * 1000)
        interact = event("INTERACT", conversation=sent.conversation_id, ets=first_ms - 40)
        interact["context"]["cdata"].append({"type": "Trace", "id": sent.turn_traces[0]})
        bad = event("FEEDBACK", conversation=sent.conversation_id)
        bad["eid"] = "<img src=x onerror=alert(1)>"
        end = event("END", conversation=sent.conversation_id)
        status, _, _ = post(running.url, bundle([interact, bad, end]))
        assert status == 200
        ui = Page(browser, running.url, artifacts="client-events")
        page = ui.open("#/client-events")
        rows = page.locator("table tbody tr")
        assert rows.count() == 2
        assert "INTERACT CLICK imBack suggested-action" in page.locator("table tbody").inner_text()
        ui.shot("client-events")
        page.locator("input[name=failed]").check()
        page.locator("form.search button").click()
        ui.ready("#/client-events?failed=true")
        failed = page.locator("table tbody tr")
        assert failed.count() == 1
        assert "one of START" in failed.inner_text()
        assert "<img src=x" in failed.inner_text()  # shown as text, never markup
        ui.shot("client-events-failed")
        page = ui.open(f"#/conversation/{sent.conversation_id}")
        notes = page.locator("ul.page-events li")
        assert notes.evaluate_all("els => els.map(e => e.dataset.eid)") == ["INTERACT", "END"]
        first_turn = page.locator("section.turn").first
        assert first_turn.locator("ul.page-events li").count() == 1
        # In its turn by time: the click on send before what the user said.
        order = first_turn.evaluate(
            "turn => [...turn.children].map(c => c.className || c.tagName.toLowerCase())"
        )
        assert order.index("page-events") < order.index("user"), order
        ui.shot("transcript-with-page-events")
        ui.close()
