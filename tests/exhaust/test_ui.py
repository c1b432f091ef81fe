"""The Exhausts page in headless Chromium, on a serve holding the survey's telemetry: a
request made with the form runs and its file downloads from the link shown; a refused
request shows the field it names; a tag without jobs says so; behind a token, a private
export is requested and its AES ZIP downloaded with the cookie the page keeps."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bot_telemetry.exhaust.files import PRIVATE_HEADERS, RESPONSE_HEADERS, read_encrypted_zip
from tests.exhaust.conftest import Served
from tests.exhaust.traffic import ANSWERS, BOT, USERS, Driven, expected_responses
from tests.support.browser import Page


def followed_to_the_end(ui: Page) -> Any:
    """Wait until the jobs shown have ended. While one runs the page reads them again after
    FOLLOW_MILLIS (2 s) of its clock (``Page.fake_clock``), which is moved on here rather than
    sat out: the page's own reading, sooner."""
    ended = ui.page.locator(".exhaust-jobs[data-following=no]")
    deadline = time.monotonic() + 60
    while True:
        try:
            ended.wait_for(timeout=250)
            return ui.page
        except PlaywrightTimeout:
            assert time.monotonic() < deadline, "the jobs were still running after 60 s"
            ui.page.clock.fast_forward(2_000)


def fill(page: Any, **values: str) -> None:
    for name, value in values.items():
        field = page.locator(f"#exhaust-form [name={name}]")
        if name == "dataset":
            field.select_option(value)
        else:
            field.fill(value)


@pytest.fixture(scope="module")
def serves(served: Served, guarded: Served) -> tuple[Served, Served]:
    """Both serves (without and with a token), made before the browser: they drive the bot
    with asyncio.run, which Playwright's loop, once running in this thread, would not allow."""
    return served, guarded


def test_a_request_from_the_form_runs_and_its_file_downloads(
    serves: tuple[Served, Served], browser: Any
) -> None:
    served, _ = serves
    ui = Page(browser, served.url, artifacts="exhausts")
    ui.fake_clock()
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
    followed_to_the_end(ui)
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

    # A request the API refuses: its message, naming the field by the form's label, on the form.
    fill(page, startDate=today.isoformat(), endDate=(today - dt.timedelta(days=3)).isoformat())
    page.click("#exhaust-form button[type=submit]")
    error = page.locator("#exhaust-form + p.error")
    error.wait_for(state="visible")
    assert (error.text_content() or "").startswith(
        "To (included): " + (today - dt.timedelta(days=3)).isoformat()
    )
    fill(page, dataset="uci-private-exhaust", endDate=today.isoformat(), tag="ui-private")
    page.click("#exhaust-form button[type=submit]")
    page.locator("#exhaust-form + p.error", has_text="ZIP password: is missing").wait_for()
    ui.shot("exhaust-refused")
    ui.close()


def test_a_request_for_a_bot_with_no_answers_says_what_to_check(
    serves: tuple[Served, Served], browser: Any
) -> None:
    served, _ = serves
    ui = Page(browser, served.url, artifacts="exhausts")
    ui.fake_clock()
    page = ui.open("#/exhausts")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    fill(page, conversationId="surveybot", startDate=today, endDate=today, tag="ui-typo")
    fill(page, requestedBy="analyst-1", requestedChannel="ORG_001")
    page.click("#exhaust-form button[type=submit]")
    ui.ready("#/exhausts/ui-typo")
    followed_to_the_end(ui)
    assert page.locator(".job-status").all_text_contents() == ["FAILED"]
    row = page.locator(".exhaust-jobs tbody tr td").all_text_contents()
    assert (
        f'No data found: no answers of the bot "surveybot" from {today} to {today} (a bot is '
        "named by its service.name; submit again once it has some)"
    ) in row
    ui.close()


def test_a_tag_without_jobs_says_so(serves: tuple[Served, Served], browser: Any) -> None:
    served, _ = serves
    ui = Page(browser, served.url, artifacts="exhausts")
    page = ui.open("#/exhausts")
    page.fill("#exhaust-lookup [name=tag]", "no-such-tag")
    page.click("#exhaust-lookup button[type=submit]")
    ui.ready("#/exhausts/no-such-tag")
    message = page.locator(".exhaust-jobs p.error")
    message.wait_for()
    assert message.text_content() == "Jobs of the tag: no job has the tag 'no-such-tag'"
    ui.close()


def test_a_private_export_is_requested_and_downloaded_behind_the_token(
    serves: tuple[Served, Served], browser: Any
) -> None:
    _, guarded = serves
    ui = Page(browser, guarded.url, artifacts="exhausts")
    ui.fake_clock()
    # The token given once in the address: the page keeps it as its cookie.
    ui.page.goto(f"{guarded.url}/?token={guarded.token}#/exhausts")
    page = ui.ready("#/exhausts")
    today = dt.datetime.now(dt.UTC).date()
    fill(
        page,
        dataset="uci-private-exhaust",
        conversationId=BOT,
        startDate=today.isoformat(),
        endDate=today.isoformat(),
        requestedBy="auditor",
        requestedChannel="ORG_001",
        tag="ui-private",
        encryptionKey="zip password 1",
    )
    page.click("#exhaust-form button[type=submit]")
    ui.ready("#/exhausts/ui-private")
    followed_to_the_end(ui)
    assert page.locator(".job-status").all_text_contents() == ["SUCCESS"]
    with page.expect_download() as downloading:
        page.locator(".exhaust-jobs a[download]").click()
    (member,) = read_encrypted_zip(Path(downloading.value.path()), "zip password 1").values()
    rows = list(csv.reader(io.StringIO(member.decode())))
    assert rows[0] == list(PRIVATE_HEADERS) and len(rows) == 1 + len(USERS)
    decrypted = {row[2] for row in rows[1:]}
    assert USERS["consenting"] in decrypted
    assert not {USERS["silent"], USERS["withdrawn"]} & decrypted
    ui.close()
