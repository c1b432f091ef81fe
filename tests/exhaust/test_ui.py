"""The Exhausts page in headless Chromium, on a serve holding the survey's telemetry: a
request made with the form runs and its file downloads from the link shown; a refused
request shows the field it names; a tag without jobs says so."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from bot_telemetry.exhaust.files import RESPONSE_HEADERS
from tests.exhaust.conftest import Served
from tests.exhaust.traffic import ANSWERS, BOT, USERS, Driven, expected_responses
from tests.support.browser import Page


def fill(page: Any, **values: str) -> None:
    for name, value in values.items():
        field = page.locator(f"#exhaust-form [name={name}]")
        if name == "dataset":
            field.select_option(value)
        else:
            field.fill(value)


# The served fixture first: it drives the bot with asyncio.run, which the browser's
# Playwright loop, once running in this thread, would not allow.
def test_a_request_from_the_form_runs_and_its_file_downloads(served: Served, browser: Any) -> None:
    ui = Page(browser, served.url, artifacts="exhausts")
    page = ui.open("#/exhausts")
    assert page.locator("header nav a[data-view=exhausts]").text_content() == "Exhausts"
    today = dt.datetime.now(dt.UTC).date()
    fill(
        page,
        dataset="uci-response-exhaust",
        conversationId=BOT,
        startDate=(today - dt.timedelta(days=1)).isoformat(),
        endDate=today.isoformat(),
        requestedBy="analyst-1",
        requestedChannel="ORG_001",
        tag="ui-survey",
    )
    page.click("#exhaust-form button[type=submit]")
    ui.ready("#/exhausts/ui-survey")
    # Followed until it ends: SUCCESS, one attempt, a link to its file.
    page.wait_for_selector(".exhaust-jobs[data-following=no]", timeout=60_000)
    assert page.locator(".job-status").all_text_contents() == ["SUCCESS"]
    link = page.locator(".exhaust-jobs a[download]")
    assert link.text_content() == f"{BOT}_response_{today:%Y%m%d}.csv"
    with page.expect_download() as downloading:
        link.click()
    text = Path(downloading.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(RESPONSE_HEADERS) and len(rows) == 1 + len(USERS) * len(ANSWERS)
    consenting = Driven.pseudonym(USERS["consenting"])
    responses = [row[13] for row in rows[1:] if row[3] == consenting]
    assert responses == expected_responses("consenting")
    ui.shot("exhaust-jobs")

    # A request the API refuses: its message, naming the field, on the form.
    fill(page, startDate=today.isoformat(), endDate=(today - dt.timedelta(days=3)).isoformat())
    page.click("#exhaust-form button[type=submit]")
    error = page.locator("#exhaust-form + p.error")
    error.wait_for(state="visible")
    assert (error.text_content() or "").startswith(
        "request.datasetConfig.endDate: " + (today - dt.timedelta(days=3)).isoformat()
    )
    fill(page, dataset="uci-private-exhaust", endDate=today.isoformat(), tag="ui-private")
    page.click("#exhaust-form button[type=submit]")
    page.locator("#exhaust-form + p.error", has_text="request.encryptionKey: is missing").wait_for()
    ui.shot("exhaust-refused")
    ui.close()


def test_a_tag_without_jobs_says_so(served: Served, browser: Any) -> None:
    ui = Page(browser, served.url, artifacts="exhausts")
    page = ui.open("#/exhausts")
    page.fill("#exhaust-lookup [name=tag]", "no-such-tag")
    page.click("#exhaust-lookup button[type=submit]")
    ui.ready("#/exhausts/no-such-tag")
    message = page.locator(".exhaust-jobs p.error")
    message.wait_for()
    assert message.text_content() == "tag: no job has the tag 'no-such-tag'"
    ui.close()
