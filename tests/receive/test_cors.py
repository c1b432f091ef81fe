"""CORS for pages on other origins, seen by the page's developer: a refused preflight is
explained where they can read it. The browser only tells the page that no
Access-Control-Allow-Origin header came (it hides the 403's body), so ``serve`` says in its
own output which origin was refused, which are allowed and what to add. In the developer's
own app, ``cors_middleware`` holds the mounted receiver to the same rule as ``serve``: a page
of an unlisted origin sends nothing, even without a preflight, and the refusal names the
remedy of that app, not serve's flag."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot_telemetry.receive.cors import cors_middleware
from bot_telemetry.receive.sunbird import add_telemetry_routes
from bot_telemetry.receive.sunbird.ingest import SunbirdReceiver
from bot_telemetry.store import Store
from bot_telemetry.store.writer import StoreWriter
from tests.receive.sunbird.events import bundle, event
from tests.support.ports import free_port
from tests.support.processes import running
from tests.support.servers import serving_in_thread
from tests.support.waiting import wait_for


def preflight(url: str, origin: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        f"{url}/v1/telemetry",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-app-id",
        },
        method="OPTIONS",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def send(
    url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        f"{url}/v1/telemetry", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def beacon(url: str, origin: str | None, eid: str = "START") -> tuple[int, dict[str, Any]]:
    """What ``navigator.sendBeacon`` sends: a text/plain POST, which needs no preflight."""
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    if origin is not None:
        headers["Origin"] = origin
    status, answer, _ = send(url, json.dumps(bundle([event(eid)])).encode(), headers)
    return status, answer


PAGE = "http://127.0.0.1:5555"
OTHER = "http://evil.example"


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[tuple[str, SunbirdReceiver]]:
    """The receiver mounted in a developer's own aiohttp app, as docs/client-telemetry.md
    shows, listing one page."""
    store = Store.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    app = web.Application(middlewares=[cors_middleware([PAGE])])
    receiver = add_telemetry_routes(app, writer)
    try:
        with serving_in_thread(app) as url:
            yield url, receiver
    finally:
        writer.close()
        store.close()


def test_in_your_own_app_an_unlisted_page_sends_nothing_even_without_a_preflight(
    own_app: tuple[str, SunbirdReceiver],
) -> None:
    url, receiver = own_app
    status, answer = beacon(url, OTHER)
    assert status == 403
    # The remedy of this app: there is no serve to start with a flag.
    assert f"origin {OTHER!r}" in answer["error"]
    assert f"cors_middleware([..., '{OTHER}'])" in answer["error"]
    assert "serve" not in answer["error"]
    assert receiver.counts["stored"] == 0
    # A page of the listed origin, a client that is not a page, and the app's own pages.
    assert beacon(url, PAGE, "START")[0] == 200
    assert beacon(url, None, "END")[0] == 200
    assert beacon(url, url, "INTERACT")[0] == 200
    assert receiver.counts["stored"] == 3


def test_in_your_own_app_a_refused_preflight_names_its_remedy(
    own_app: tuple[str, SunbirdReceiver],
) -> None:
    url, _ = own_app
    status, answer = preflight(url, OTHER)
    assert status == 403
    assert f"cors_middleware([..., '{OTHER}'])" in answer["error"]
    assert "serve" not in answer["error"]
    assert preflight(url, PAGE)[0] == 204


def test_the_caller_may_say_what_to_change(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    writer = StoreWriter(store)
    remedy = "add {origin} to CHAT_ORIGINS in settings.py"
    app = web.Application(middlewares=[cors_middleware([PAGE], remedy=remedy)])
    add_telemetry_routes(app, writer)
    try:
        with serving_in_thread(app) as url:
            status, answer = beacon(url, OTHER)
            assert status == 403
            assert f"add {OTHER} to CHAT_ORIGINS in settings.py" in answer["error"]
            status, answer = preflight(url, OTHER)
            assert f"add {OTHER} to CHAT_ORIGINS in settings.py" in answer["error"]
    finally:
        writer.close()
        store.close()


def test_a_refused_preflight_is_logged_once_with_the_allowed_origins(tmp_path: Path) -> None:
    port = free_port()
    page = "http://127.0.0.1:5555"
    # The usual mistake: the page was opened as localhost, the collector lists 127.0.0.1.
    other = "http://localhost:5555"
    args = ["-m", "bot_telemetry.cli", "serve", "--port", str(port), "--no-grpc"]
    args += ["--store", str(tmp_path / "s.duckdb"), "--cors-origin", page]
    with running(args, ready_url=f"http://127.0.0.1:{port}/api/health") as serve:
        url = f"http://127.0.0.1:{port}"
        assert preflight(url, page)[0] == 204
        for _ in range(3):
            status, answer = preflight(url, other)
            # What to add for this origin, not a pointer to go and read serve's options.
            assert status == 403 and f"--cors-origin {other}" in answer["error"]

        def logged() -> list[str]:
            return [line for line in serve.output().splitlines() if "refused a CORS" in line]

        wait_for(lambda: bool(logged()), what="serve to log the refused preflight")
        (line,) = logged()  # once per origin, not once per request
        assert repr(other) in line and f"allowed: {page}" in line
        assert f"--cors-origin {other}" in line
        # A refused beacon (no preflight) is logged too: its page cannot read why either.
        third = "http://127.0.0.1:5556"
        status, answer = beacon(url, third)
        assert status == 403 and f"--cors-origin {third}" in answer["error"]
        wait_for(lambda: len(logged()) == 2, what="serve to log the refused beacon")
        assert repr(third) in logged()[1] and "POST without preflight" in logged()[1]


@pytest.mark.parametrize("token", [None, "s3cret-token-for-the-test"])
def test_any_origin_without_a_token_is_warned_of_at_start(
    tmp_path: Path, token: str | None
) -> None:
    port = free_port()
    args = ["-m", "bot_telemetry.cli", "serve", "--port", str(port), "--no-grpc"]
    args += ["--store", str(tmp_path / "s.duckdb"), "--cors-origin", "*"]
    env = {"BOT_TELEMETRY_TOKEN": token or ""}
    with running(args, ready_url=f"http://127.0.0.1:{port}/api/health", env=env) as serve:
        wait_for(lambda: "collector on" in serve.output(), what="serve's start-up lines")
        warned = "--cors-origin '*' with no token" in serve.output()
    # Without a token any page can write into the store: said once, at start.
    assert warned == (token is None), serve.output()
