"""The page snippet of docs/client-telemetry.md, as written, in headless Chromium: a page of
another origin, the Sunbird SDK bundled as the docs say, a collector with a token and
``--cors-origin``. Its events arrive while the page is open, the END sent on ``pagehide``
arrives when the user leaves, and only the click names the turn's trace."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.processes import REPO
from tests.support.servers import serving_folder
from tests.support.tools import webchat
from tests.support.waiting import wait_for

TOKEN = "page-token-0123456789"
IDS = {
    "userId": "dl-user-7",
    "deviceId": "device-7",
    "sessionId": "session-7",
    "token": TOKEN,
    "conversationId": "conv-page-7",
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
}
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Our chat</title></head>
<body><h1>Our chat</h1>
<script src="/js/sunbird.js"></script>
<script type="module" src="/js/telemetry.js"></script>
</body></html>"""


def docs_page_snippet() -> str:
    text = (REPO / "docs" / "client-telemetry.md").read_text()
    start = text.index("## Adding the Sunbird SDK to your own page")
    block = text[text.index("```js\n", start) + len("```js\n") :]
    return block[: block.index("```")]


@pytest.fixture
def page_site(tmp_path: Path) -> Iterator[str]:
    """Our own site on another origin than the collector's: the page, the SDK, the script."""
    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text(PAGE)
    (site / "left.html").write_text("<!doctype html><title>elsewhere</title>")
    # The SDK's ESM build bundled with ajv stubbed, as the docs say (scripts/build-webchat).
    (site / "js" / "sunbird.js").write_bytes((webchat() / "sunbird.js").read_bytes())
    with serving_folder(site) as url:
        yield url


def stored(url: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/api/client-events?limit=100", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: list[dict[str, Any]] = json.loads(answer.read())
    return found


def test_the_docs_page_snippet_sends_links_and_flushes_on_leaving(
    browser: Any, page_site: str, tmp_path: Path
) -> None:
    snippet = docs_page_snippet()
    assert "'https://telemetry.example.com'" in snippet
    config = ServerConfig(
        store=tmp_path / "s.duckdb", port=0, token=TOKEN, cors_origins=(page_site,)
    )
    with CollectorThread(config) as running:
        # The values the snippet leaves to the page: our ids, and where the collector is.
        prelude = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in IDS.items())
        script = prelude + snippet.replace("'https://telemetry.example.com'", repr(running.url))
        (tmp_path / "site" / "js" / "telemetry.js").write_text(script)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(f"{page_site}/index.html")
            wait_for(
                lambda: {e["eid"] for e in stored(running.url)} == {"START", "INTERACT"},
                what="START and INTERACT, sent while the page is open",
            )
            page.goto(f"{page_site}/left.html")  # the user leaves: pagehide
            wait_for(lambda: len(stored(running.url)) == 3, what="END, sent on pagehide, to arrive")
        finally:
            page.close()
        assert errors == []
        events = {e["eid"]: e for e in stored(running.url)}
    assert {e["conversation_id"] for e in events.values()} == {IDS["conversationId"]}
    assert events["INTERACT"]["trace_id"] == IDS["traceId"]
    # A context sticks in the SDK: END, sent later, must not name the click's turn.
    assert events["START"]["trace_id"] is None and events["END"]["trace_id"] is None
    assert {e["actor"] for e in events.values()} == {PrivacyPolicy().pseudonymize(IDS["userId"])}
