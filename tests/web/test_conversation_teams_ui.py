"""The conversation page (Chromium) shows a Teams bot's replies that it later updated or
deleted in place, in the turn that sent them, saying so; an invoke's answer is no reply."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bot_telemetry import PrivacyPolicy
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.analytics.test_conversations_teams import record_teams_traffic
from tests.bot.test_teams import PERSONAL_CHAT
from tests.support.browser import Page
from tests.support.otlp_messages import post_otlp
from tests.support.telemetry import capture


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    telemetry = capture("bot", PrivacyPolicy(log_personal_information=True))
    try:
        # In a thread of its own: Playwright keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            traffic = thread.submit(asyncio.run, record_teams_traffic(telemetry)).result(60)
    finally:
        telemetry.handle.shutdown()
    store = tmp_path_factory.mktemp("teams-ui") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as running:
        for request in traffic.requests:
            traces = isinstance(request, ExportTraceServiceRequest)
            post_otlp(running.url, "/v1/traces" if traces else "/v1/logs", request)
        yield running


def test_updated_and_deleted_replies_show_in_place(
    browser: Any, collector: CollectorThread
) -> None:
    ui = Page(browser, collector.url, artifacts="teams-ui")
    try:
        page = ui.open(f"#/conversation/{PERSONAL_CHAT['id']}")
        cards = page.locator("section.turn")
        assert cards.count() == 3
        first, second, invoke = cards.nth(0), cards.nth(1), cards.nth(2)
        assert first.locator(".bot").all_inner_texts() == [
            "Report ready (updated later)",
            "Draft figures (deleted later)",
        ]
        assert second.locator(".bot").all_inner_texts() == ["Done"]
        assert invoke.locator(".bot").count() == 0
        # Which invoke it was, where the turn says what kind of activity started it.
        assert " · invoke task/submit · " in invoke.locator(".meta").inner_text()
        assert ui.errors == []
    finally:
        ui.close()
