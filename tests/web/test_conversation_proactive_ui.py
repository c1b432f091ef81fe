"""The conversation page (Chromium) shows a proactive reply in place, as a turn the bot
started: no user line claiming an "(event activity)" the user never sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bot_telemetry import PrivacyPolicy
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.browser import Page
from tests.support.otlp_messages import post_otlp
from tests.support.proactive import record_proactive_traffic
from tests.support.telemetry import capture


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    telemetry = capture("bot", PrivacyPolicy(log_personal_information=True))
    try:
        # In a thread of its own: Playwright keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            recording = thread.submit(asyncio.run, record_proactive_traffic(telemetry))
            traffic, _, _ = recording.result(timeout=60)
    finally:
        telemetry.handle.shutdown()
    store = tmp_path_factory.mktemp("proactive-ui") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as running:
        for request in traffic.requests:
            traces = isinstance(request, ExportTraceServiceRequest)
            post_otlp(running.url, "/v1/traces" if traces else "/v1/logs", request)
        yield running


def test_a_proactive_reply_is_the_bots_own_turn_in_place(
    browser: Any, collector: CollectorThread
) -> None:
    ui = Page(browser, collector.url, artifacts="proactive-ui")
    try:
        page = ui.open("#/conversation/conv-user-1")
        cards = page.locator("section.turn")
        assert cards.count() == 2
        first, second = cards.nth(0), cards.nth(1)
        assert first.locator(".user").inner_text() == "remind me"
        assert first.locator(".bot").inner_text() == "noted"
        assert " proactive " in second.locator(".meta").inner_text()
        assert second.locator(".user").count() == 0
        assert second.locator(".proactive").inner_text() == "(proactive: the bot wrote unasked)"
        assert second.locator(".bot").inner_text() == "Your table is booked for 8 pm"
        assert ui.errors == []
    finally:
        ui.close()
