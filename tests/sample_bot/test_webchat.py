"""The web chat page in Chromium, through ``make demo``'s processes: Bot Framework Web Chat on
the channel's Direct Line endpoint, browser traces, and the page's Sunbird events found in the
conversation, its transcript and the app map (webchat -> channel -> bot)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ARTIFACTS
from tests.support.ports import free_port
from tests.support.processes import REPO
from tests.support.tools import webchat
from tests.support.waiting import wait_for

NAMES = ("collector", "nlu", "qna", "bot", "channel")


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    webchat()
    folder = tmp_path_factory.mktemp("webchat")
    ports = {name: free_port() for name in NAMES}
    options = [option for name in NAMES for option in (f"--{name}-port", str(ports[name]))]
    log = folder / "demo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sample_bot.demo",
                "--conversations",
                "1",
                "--store",
                str(folder / "demo.duckdb"),
                *options,
            ],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        found: list[str] = []

        def page_url() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the demo exited:\n{log.read_text()}")
            found[:] = re.findall(r"Web chat: (\S+)", log.read_text())
            return bool(found)

        wait_for(page_url, timeout=90, what="the demo to print the web chat's URL")
        yield {
            "page": found[0],
            "collector": f"http://127.0.0.1:{ports['collector']}",
            **{name: f"http://127.0.0.1:{ports[name]}" for name in ("channel", "bot")},
        }
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_chat_in_the_browser_and_find_the_page_events_in_the_conversation(
    browser: Any, demo: dict[str, str]
) -> None:
    assert demo["page"] == f"{demo['channel']}/webchat/"
    page = browser.new_page(viewport={"width": 900, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(demo["page"])
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
    bubble = page.locator(".webchat__bubble__content")
    bubble.filter(has_text="Welcome to the Corner Bistro").last.wait_for(timeout=20_000)

    # A suggested action, then a typed message.
    page.locator("button.webchat__suggested-action", has_text="when are you open?").click()
    thumbs = page.locator("button.webchat__thumb-button")
    thumbs.first.wait_for(timeout=20_000)  # the answer offers thumbs up/down
    box = page.locator("[data-id='webchat-sendbox-input']")
    box.fill("hello")
    box.press("Enter")
    bubble.filter(has_text="How can I help?").last.wait_for(timeout=20_000)
    thumbs.first.click()  # Like the answer
    page.wait_for_function(
        "() => window.webchatPage.seen.includes('FEEDBACK')", timeout=10_000
    )  # Web Chat posts the vote 500 ms after the click
    conversation = page.evaluate("window.webchatPage.conversation()")
    ARTIFACTS.joinpath("webchat").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webchat" / "webchat.png"))
    violations = page.evaluate("window.webchatPage.cspViolations")
    page.evaluate("window.webchatPage.end()")
    page.evaluate("window.webchatPage.flush()")
    page.close()
    assert errors == [] and violations == []
    foreign = [
        url
        for url in requests
        if not url.startswith(
            (demo["channel"], demo["collector"], f"blob:{demo['channel']}", "data:")
        )
    ]
    assert foreign == [], f"the page fetched from elsewhere: {foreign}"

    # The page's events, linked to the conversation.
    expected = ["END", "FEEDBACK", "IMPRESSION", "INTERACT", "INTERACT", "START"]
    url = f"{demo['collector']}/api/client-events?conversation={conversation}&limit=100"

    def arrived() -> bool:
        return sorted(e["eid"] for e in get(url)) == expected

    wait_for(arrived, timeout=20, what=f"the page's events {expected}")
    events = {e["eid"] + (e["properties"].get("sunbird.edata.id") or ""): e for e in get(url)}
    clicked = events["INTERACTsuggested-action"]["properties"]
    assert clicked["sunbird.edata.subtype"] == "imBack"
    assert events["INTERACTsend-box"]["properties"]["sunbird.edata.subtype"] == "keyboard"
    feedback = events["FEEDBACK"]["properties"]
    assert feedback["sunbird.edata.rating"] == 5
    assert feedback["sunbird.object.id"].startswith("out-")
    # The page's user is the bot's user: the same pseudonym on both sides.
    bot_events = get(f"{demo['collector']}/api/events?name=BotMessageReceived&limit=200")
    bot_users = {e["properties"].get("fromId") for e in bot_events}
    assert clicked["fromId"] in bot_users

    # Each INTERACT carries the trace its request started in the browser: the bot's turn.
    for name in ("channel", "bot"):
        post(f"{demo[name]}/telemetry/flush")
    transcript_url = f"{demo['collector']}/api/conversations/{conversation}"

    def linked() -> bool:
        found = get(transcript_url)
        return sum(len(turn["client_events"]) for turn in found["turns"]) >= 5

    wait_for(linked, timeout=20, what="client events attached to the turns they started")
    transcript = get(transcript_url)
    in_turns = [note["eid"] for turn in transcript["turns"] for note in turn["client_events"]]
    assert sorted(in_turns) == ["FEEDBACK", "IMPRESSION", "INTERACT", "INTERACT", "START"]
    welcome = transcript["turns"][0]
    assert welcome["activity_type"] == "conversationUpdate"
    assert [note["eid"] for note in welcome["client_events"]] == ["START", "IMPRESSION"]
    # END follows the last turn: it caused no request, so it is placed by time.
    assert [note["eid"] for note in transcript["client_events"]] == ["END"]
    assert transcript["client_events"][0]["before_turn"] == len(transcript["turns"])
    interact_turn = next(
        turn
        for turn in transcript["turns"]
        if any(note["eid"] == "INTERACT" for note in turn["client_events"])
    )
    trace = get(f"{demo['collector']}/api/traces/{interact_turn['trace_id']}")
    services = {span["service"] for span in trace["spans"]}
    assert {"webchat", "channel", "bot"} <= services
    root = next(span for span in trace["spans"] if span["parent_span_id"] is None)
    assert root["service"] == "webchat" and root["kind"] == "client"  # starts in the browser

    app_map = get(f"{demo['collector']}/api/appmap")
    edges = {(edge["source"], edge["target"]) for edge in app_map["edges"]}
    assert {("webchat", "channel"), ("channel", "bot")} <= edges

    # The page itself is a request of the channel's; its scripts and styles are not traced,
    # and it names its icon, so no browser asks for a /favicon.ico that is not there (a 404).
    channel_roots = {t["root_name"] for t in get(f"{demo['collector']}/api/traces?limit=1000")}
    assert "GET /webchat/" in channel_roots
    assert {"GET /webchat/{folder}/{name}", "GET"}.isdisjoint(channel_roots), channel_roots


def test_direct_line_refuses_bad_tokens(demo: dict[str, str]) -> None:
    base = f"{demo['channel']}/v3/directline/conversations"
    request = urllib.request.Request(
        base, data=b"{}", method="POST", headers={"Authorization": "Bearer nope"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    token = get_token(demo["channel"])
    started = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                base,
                data=b"{}",
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            ),
            timeout=30,
        ).read()
    )
    assert started["streamUrl"].startswith("ws://")
    other = get_token(demo["channel"])
    request = urllib.request.Request(
        f"{base}/{started['conversationId']}/activities?watermark=",
        headers={"Authorization": f"Bearer {other}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403  # a token for another conversation
    polled = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{base}/{started['conversationId']}/activities?watermark=",
                headers={"Authorization": f"Bearer {started['token']}"},
            ),
            timeout=10,
        ).read()
    )
    assert polled["activities"][0]["text"].startswith("Welcome")
    assert polled["watermark"] == "0"


def get_token(channel: str) -> str:
    request = urllib.request.Request(f"{channel}/webchat/token", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["token"]
    return token


def test_page_is_served_with_a_strict_policy(demo: dict[str, str]) -> None:
    with urllib.request.urlopen(demo["page"], timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        html = response.read().decode()
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert demo["collector"] in policy
    assert "<script>" not in html and "cdn" not in html.lower()
    assert Path(REPO / "sample_bot" / "webchat" / "dist" / "sunbird.js").is_file()


def test_the_consent_question_offers_yes_and_no_buttons(demo: dict[str, str]) -> None:
    """Direct Line said its activities came from 'sample-channel', a channel botbuilder does
    not know to draw buttons on, so the page asked '(1) Yes or (2) No' in text to type; Azure's
    Direct Line says 'webchat' for Web Chat, as the Emulator says 'emulator'."""
    base = f"{demo['channel']}/v3/directline/conversations"
    token = get_token(demo["channel"])

    def call(url: str, body: dict[str, Any] | None = None, bearer: str = token) -> Any:
        request = urllib.request.Request(
            url,
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    started = call(base, {})
    activities = f"{base}/{started['conversationId']}/activities"
    call(activities, {"type": "message", "text": "book a table"}, started["token"])
    found: list[dict[str, Any]] = []

    def asked() -> bool:
        polled = call(f"{activities}?watermark=", bearer=started["token"])["activities"]
        found[:] = [a for a in polled if (a.get("text") or "").startswith("Before we start")]
        return bool(found)

    wait_for(asked, timeout=20, what="the consent question")
    [question] = found
    assert question["channelId"] == "webchat"
    actions = question.get("suggestedActions", {}).get("actions", [])
    assert [action["value"] for action in actions] == ["Yes", "No"], question
    assert "(1)" not in question["text"]
