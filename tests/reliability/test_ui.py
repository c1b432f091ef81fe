"""Script and markup in what users type and in telemetry attributes render as text in the
web UI (headless Debian Chromium), and ``bot-telemetry serve`` binds to loopback unless
told otherwise, refusing another address without a token.

Hostile text arrives two ways: as messages through the channel to the sample bot (policy
opened, so text is recorded) and as a raw OTLP export whose service, span, event, attribute
and conversation names are markup."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.reliability.stack import (
    Collector,
    collector,
    exporting_to,
    sample_stack,
    say,
    serve_args,
    start_conversation,
)
from tests.support.browser import Page
from tests.support.ports import free_port
from tests.support.processes import REPO, running

# Ran as script, it sets a flag and opens a dialog (which the page fixture fails on at the end,
# after an image's onerror has had time to fire).
MARK = "window.__xss = 1; alert('xss')"
PAYLOADS = [
    f'<img src=x onerror="{MARK}">',
    f"<script>{MARK}</script>",
    f'"><svg onload="{MARK}"><b>bold</b>',
    f"]]><!-- --><script>{MARK}</script>",
    '<a href="javascript:window.__xss=1">click</a>',
    "{{constructor.constructor('window.__xss=1')()}}",
    "<img src=http://example.invalid/beacon.png>",
]
URI_COMPONENT_SAFE = "!~*'()"  # what JavaScript's encodeURIComponent leaves as is
TRACE_ID = "5ec0de5ec0de5ec0de5ec0de5ec0de01"


def hostile_export() -> bytes:
    def attribute(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    spans, now = [], time.time_ns()
    for index, payload in enumerate(PAYLOADS):
        span = Span(
            trace_id=bytes.fromhex(TRACE_ID),
            span_id=(index + 1).to_bytes(8, "big"),
            parent_span_id=b"" if index == 0 else (1).to_bytes(8, "big"),
            name=payload,
            kind=Span.SPAN_KIND_CLIENT if index else Span.SPAN_KIND_SERVER,
            start_time_unix_nano=now + index,
            end_time_unix_nano=now + 1_000_000 + index,
        )
        span.attributes.extend(
            [
                attribute("peer.service", payload),
                attribute(payload, payload),
                attribute("activity.conversation.id", PAYLOADS[1]),
            ]
        )
        event = span.events.add(name=payload, time_unix_nano=span.start_time_unix_nano)
        event.attributes.append(attribute("text", payload))
        span.status.code = 2
        span.status.message = payload
        spans.append(span)
    # A turn of a conversation whose id is markup, so the conversation views list it.
    turn = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=(99).to_bytes(8, "big"),
        parent_span_id=(1).to_bytes(8, "big"),
        name="bot.turn",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=now + 10,
        end_time_unix_nano=now + 500_000,
    )
    turn.attributes.extend(
        [
            attribute("activity.conversation.id", PAYLOADS[1]),
            attribute("activity.channel_id", PAYLOADS[2]),
            attribute("activity.type", "message"),
        ]
    )
    spans.append(turn)
    resource = ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])
    resource.resource.attributes.append(attribute("service.name", PAYLOADS[0]))
    return ExportTraceServiceRequest(resource_spans=[resource]).SerializeToString()


@dataclass
class Hostile:
    serve: Collector
    conversation: str
    turn_trace: str


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    folder = tmp_path_factory.mktemp("ui")
    with collector(folder / "telemetry.duckdb") as serve:
        env = exporting_to(serve.url, BOT_TELEMETRY_LOG_PERSONAL_INFORMATION="1")
        with sample_stack(folder, env) as stack:

            async def talk() -> tuple[str, str]:
                async with aiohttp.ClientSession() as http:
                    channel = stack.urls["channel"]
                    conversation = await start_conversation(http, channel, "mallory", PAYLOADS[2])
                    for payload in PAYLOADS:
                        turn = await say(http, channel, conversation, payload)
                    return conversation, turn.trace_id

            # On a thread of its own: Playwright's sync API keeps an event loop on this one.
            with ThreadPoolExecutor(1) as thread:
                conversation, turn_trace = thread.submit(asyncio.run, talk()).result()
        request = urllib.request.Request(
            f"{serve.url}/v1/traces",
            data=hostile_export(),
            headers={"Content-Type": "application/x-protobuf"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        yield Hostile(serve, conversation, turn_trace)


def assert_inert(ui: Page, page: Any) -> None:
    assert page.evaluate("window.__xss") is None, "telemetry text ran as script"
    injected = page.locator(
        "#view img, #view script, #view svg [onload], #view b, #view a[href^=javascript]"
    )
    assert injected.count() == 0, page.locator("#view").inner_html()[:2000]


@pytest.fixture
def ui(browser: Any, hostile: Hostile) -> Iterator[Page]:
    page = Page(browser, hostile.serve.url)
    yield page
    page.close()  # no dialogs, no page errors, nothing fetched from another host


def test_transcript_shows_user_text_as_text(ui: Page, hostile: Hostile) -> None:
    page = ui.open(f"#/conversation/{quote(hostile.conversation, safe=URI_COMPONENT_SAFE)}")
    shown = page.locator("#view").inner_text()
    for payload in PAYLOADS:
        assert payload in shown, payload
    assert_inert(ui, page)
    ui.shot("reliability-hostile-transcript")


def test_trace_view_shows_names_and_attributes_as_text(ui: Page, hostile: Hostile) -> None:
    page = ui.open(f"#/trace/{TRACE_ID}")
    page.locator(".span-row, .span, tr").first.wait_for()
    for row in page.locator("[data-span], .span-row").all()[:3]:
        row.click()
    shown = page.locator("#view").inner_text()
    assert PAYLOADS[0] in shown and PAYLOADS[3] in shown
    assert_inert(ui, page)
    page = ui.open(f"#/trace/{hostile.turn_trace}")
    assert "bot.turn" in page.locator("#view").inner_text()
    assert_inert(ui, page)


@pytest.mark.parametrize("view", ["#/appmap", "#/traces", "#/conversations"])
def test_lists_and_the_app_map_show_markup_as_text(ui: Page, view: str) -> None:
    page = ui.open(view)
    assert_inert(ui, page)
    if view == "#/appmap":
        labels = page.locator("#view svg text").evaluate_all("els => els.map(e => e.textContent)")
        assert any("<img" in label or "<script" in label for label in labels), labels
    else:
        assert "<script>" in page.locator("#view").inner_text()


def test_a_conversation_whose_id_is_markup(ui: Page) -> None:
    page = ui.open("#/conversations")
    page.locator("table tbody tr", has_text=PAYLOADS[1]).click()
    ui.ready(f"#/conversation/{quote(PAYLOADS[1], safe=URI_COMPONENT_SAFE)}")
    assert PAYLOADS[1] in page.locator("#view").inner_text()
    assert_inert(ui, page)


def test_node_view_of_a_hostile_service(ui: Page) -> None:
    page = ui.open(f"#/node/{quote(PAYLOADS[0], safe=URI_COMPONENT_SAFE)}")
    assert PAYLOADS[0] in page.locator("#view").inner_text()
    assert_inert(ui, page)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(address)
    return found


def test_serve_binds_to_loopback_by_default(tmp_path: Path) -> None:
    port = free_port()
    with running(
        serve_args(port, tmp_path / "t.duckdb"), ready_url=f"http://127.0.0.1:{port}/api/health"
    ):
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--host", "0.0.0.0"], "refusing to listen on 0.0.0.0"),
        (["--host", "0.0.0.0", "--allow-remote"], "needs --token"),
        (["--host", "0.0.0.0", "--allow-remote", "--token", "short"], "needs --token"),
    ],
)
def test_another_address_needs_allow_remote_and_a_token(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, *serve_args(port, tmp_path / "t.duckdb"), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and message in done.stderr
    assert listening_addresses(port) == set()


def test_a_token_guards_otlp_the_api_and_the_ui(browser: Any, tmp_path: Path) -> None:
    port, token = free_port(), "reliability-token-0123456789"
    url = f"http://127.0.0.1:{port}"
    args = [*serve_args(port, tmp_path / "t.duckdb"), "--token", token]
    with running(args, ready_url=f"{url}/api/health"):
        for path, body in (("/v1/traces", hostile_export()), ("/api/traces", None)):
            request = urllib.request.Request(
                f"{url}{path}", data=body, headers={"Content-Type": "application/x-protobuf"}
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 401
        page = browser.new_page()
        try:
            response = page.goto(f"{url}/#/appmap")
            assert response is not None and response.status == 401
            page.goto(f"{url}/?token={token}#/appmap")
            page.wait_for_selector('body[data-ready="#/appmap"]', timeout=10_000)
        finally:
            page.close()
