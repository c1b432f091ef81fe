"""CORS for pages on other origins, seen by the page's developer: a refused preflight is
explained where they can read it. The browser only tells the page that no
Access-Control-Allow-Origin header came (it hides the 403's body), so ``serve`` says in its
own output which origin was refused, which are allowed and what to add."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import running
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
            assert status == 403 and "--cors-origin" in answer["error"]

        def logged() -> list[str]:
            return [line for line in serve.output().splitlines() if "refused a CORS" in line]

        wait_for(lambda: bool(logged()), what="serve to log the refused preflight")
        (line,) = logged()  # once per origin, not once per request
        assert repr(other) in line and f"allowed: {page}" in line
        assert f"--cors-origin {other}" in line
