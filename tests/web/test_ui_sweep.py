"""Problems a regression sweep of the web UI found, over real HTTP and in headless Chromium,
on the test bot traffic (a channel calling the bot, which calls its recognizer, Q&A and
storage):

* with the time window "everything", the Measures page starts at the first thing stored that
  measures read, spans included: it started at the first turn or event, so a call made before
  them (the channel's call into a bot that refused it, no turn; in the sample demo, the
  channel's first call, whose span starts 30 ms before the bot's turn) was left out, and
  dependencyCalls said fewer calls than the app map for the same window;
* a trace links to its conversation, so app map → node → trace → transcript is clicks, not
  a copied id;
* in the waterfall a span's duration stays in the time track: the root span's bar fills it,
  and its duration was drawn before the bar, over the span's name (at 1280 and 420 px).

Screenshots go to test-artifacts/ui-sweep/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.store.database import Store
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.bot_traffic import T0, Traffic, generate, load_duckdb
from tests.support.browser import Page
from tests.support.otlp_messages import post_otlp, spans_request
from tests.support.processes import run_cli_here

SECOND = 10**9
CLIENT = 3
ERROR = 2


def refused_call(url: str) -> None:
    """The channel's call into the bot a minute before the traffic, refused (no turn)."""
    request = spans_request(
        [
            {
                "name": "POST /api/messages",
                "kind": CLIENT,
                "start": T0 - 60 * SECOND,
                "end": T0 - 60 * SECOND + 5_000_000,
                "attributes": {"peer.service": "bot", "http.response.status_code": 401},
                "status": ERROR,
            }
        ],
        service="channel",
    )
    post_otlp(url, "/v1/traces", request)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorThread, Traffic]]:
    path: Path = tmp_path_factory.mktemp("ui-sweep") / "store.duckdb"
    traffic = generate()
    store = Store.open(path)
    load_duckdb(store, traffic)
    store.close()
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        refused_call(running.url)
        yield running, traffic


def cells(page: Any, rows: str) -> list[list[str]]:
    found: list[list[str]] = page.eval_on_selector_all(
        rows, "rows => rows.map((row) => [...row.cells].map((cell) => cell.textContent))"
    )
    return found


def test_measures_over_everything_count_the_calls_the_app_map_counts(
    browser: Any, served: tuple[CollectorThread, Traffic]
) -> None:
    running, _ = served
    ui = Page(browser, running.url, artifacts="ui-sweep")
    page = ui.open("#/appmap")
    edges = {(row[0], row[1]): int(row[2]) for row in cells(page, "main table tbody tr")}
    assert edges[("channel", "bot")] > 0
    page = ui.open("#/measures?m=dependencyCalls&g=day")
    table = "section[data-measure=dependencyCalls] table tbody tr"
    headings = page.eval_on_selector_all(
        "section[data-measure=dependencyCalls] table thead th",
        "cells => cells.map((cell) => cell.textContent)",
    )
    calls: dict[str, int] = {}
    for row in cells(page, table):
        named = dict(zip(headings, row, strict=True))
        calls[named["dependency"]] = calls.get(named["dependency"], 0) + int(named["calls"])
    ui.shot("measures-everything")
    assert calls["bot"] == edges[("channel", "bot")]
    assert calls == {target: n for (_, target), n in edges.items()}
    ui.close()


def test_a_trace_links_to_its_conversation(
    browser: Any, served: tuple[CollectorThread, Traffic]
) -> None:
    running, traffic = served
    conversation = traffic.conversations[0]
    ui = Page(browser, running.url, artifacts="ui-sweep")
    page = ui.open(f"#/conversation/{conversation}?window=7d")
    trace = page.get_attribute("section.turn", "data-trace")
    assert trace
    page = ui.open(f"#/trace/{trace}?window=7d")
    link = page.locator("a.conversation-link")
    assert link.text_content() == f"conversation {conversation}"
    link.click()
    page = ui.ready(f"#/conversation/{conversation}?window=7d")
    assert page.locator(f'section.turn[data-trace="{trace}"]').count() == 1
    ui.shot("trace-to-conversation")
    ui.close()


@pytest.mark.parametrize("width", [1280, 420])
def test_a_span_duration_stays_in_the_waterfall_track(
    browser: Any, served: tuple[CollectorThread, Traffic], width: int
) -> None:
    """The root span fills the track: its duration sat before the bar, over its name."""
    running, traffic = served
    ui = Page(browser, running.url, artifacts="ui-sweep")
    ui.page.set_viewport_size({"width": width, "height": 860})
    trace = traffic.turn_traces[0]
    page = ui.open(f"#/trace/{trace}")
    rows = page.eval_on_selector_all(
        ".span-row",
        """rows => rows.map((row) => {
          const time = row.querySelector('.span-time').getBoundingClientRect();
          const track = row.querySelector('.span-track').getBoundingClientRect();
          return [row.querySelector('.span-label').textContent, time.left - track.left,
                  track.right - time.right];
        })""",
    )
    assert rows
    outside = [row for row in rows if row[1] < 0 or row[2] < 0]
    ui.shot(f"waterfall-{width}")
    assert outside == []
    ui.close()


def test_the_conversations_list_does_not_call_its_count_failed_turns(
    browser: Any, served: tuple[CollectorThread, Traffic]
) -> None:
    # It counts turns with any failed span (a call the bot recovered from too), which the
    # failedTurns measure and the app map do not: the same words said two numbers.
    running, _ = served
    ui = Page(browser, running.url, artifacts="ui-sweep")
    page = ui.open("#/conversations?window=7d")
    headings = page.locator("#view th").all_inner_texts()
    assert "Turns with a failure" in headings and "Failed turns" not in headings
    ui.close()
    ran = run_cli_here("conversations", "--url", running.url)
    assert ran.returncode == 0, ran.stderr
    assert "WITH A FAILURE" in ran.stdout.splitlines()[0]
