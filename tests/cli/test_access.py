"""The CLI asking a running collector (``--url``, or ``--store`` of a file a ``serve`` holds):
what it says when the collector wants a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.processes import REPO, run_cli_here
from tests.support.servers import serving_in_thread


def client_events(
    url: str, *args: str, env_token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOT_TELEMETRY_TOKEN"}
    if env_token is not None:
        env["BOT_TELEMETRY_TOKEN"] = env_token
    return subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", "client-events", "--url", url, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_or_wrong_token_says_how_to_give_one(tmp_path: Path) -> None:
    token = "t" * 20
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, token=token)
    with CollectorThread(config) as running:
        missing = client_events(running.url)
        assert missing.returncode == 1
        assert "answered 401" in missing.stderr
        assert "--token TOKEN or set BOT_TELEMETRY_TOKEN" in missing.stderr
        wrong = client_events(running.url, "--token", "nope")
        assert wrong.returncode == 1 and "is not the collector's" in wrong.stderr
        given = client_events(running.url, env_token=token)
        assert given.returncode == 0, given.stderr


def test_a_url_without_its_scheme_is_a_usage_error(tmp_path: Path) -> None:
    """``--url 127.0.0.1:PORT`` (the address without http://) said "cannot reach the
    collector at 127.0.0.1:PORT: <urlopen error unknown url type: 127.0.0.1>"."""
    with CollectorThread(ServerConfig(store=tmp_path / "s.duckdb", port=0)) as running:
        bare = running.url.removeprefix("http://")
        ran = client_events(bare)
        assert ran.returncode == 2
        assert ran.stderr.splitlines()[-1] == (
            "bot-telemetry client-events: error: argument --url: expected the collector's "
            f"address, http://HOST:PORT as serve prints it, got {bare!r}"
        )
        assert client_events(running.url).returncode == 0


async def _page(request: web.Request) -> web.Response:
    if request.path.startswith("/api/"):
        raise web.HTTPNotFound(text="<html>not here</html>", content_type="text/html")
    return web.Response(text="<html>a web page</html>", content_type="text/html")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["events"], "has no /api/events: is --url the address `bot-telemetry serve` printed"),
        (["appmap"], "has no /api/appmap: is --url"),
        (["conversations"], "has no /api/conversations: is --url"),
        (["metrics"], "has no /api/metrics: is --url"),
        (["client-events", "--failed"], "has no /api/client-events: is --url"),
        (["funnel", "A", "B"], "answered /analytics/funnel with no JSON: is --url"),
        (["measures", "turns"], "answered /analytics/query with no JSON: is --url"),
    ],
)
def test_a_url_that_is_not_a_collector_is_one_line(command: list[str], says: str) -> None:
    """``--url`` at the bot's or a web page's port: a traceback ('NoneType' object is not
    iterable) for a 404, a JSONDecodeError's "Expecting value" for a page."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _page)
    with serving_in_thread(app) as url:
        ran = run_cli_here(*command, "--url", url)  # client_events() runs it as a process
    assert (ran.returncode, ran.stdout) == (1, ""), ran.stderr
    assert ran.stderr.startswith(f"bot-telemetry: error: {url} "), ran.stderr
    assert says in ran.stderr and ran.stderr.count("\n") == 1, ran.stderr


def test_exhaust_at_a_url_that_is_not_a_collector_is_one_line() -> None:
    """It said "Expecting value: line 1 column 1 (char 0)", exit status 2."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _page)
    with serving_in_thread(app) as url:
        ran = run_cli_here("exhaust", "list", "T", "--url", url)
    assert (ran.returncode, ran.stdout) == (1, ""), ran.stderr
    assert ran.stderr == (
        f"bot-telemetry: error: {url}/dataset/v1/request/list/T?limit=10 answered 200 with no "
        "JSON: is --url the address `bot-telemetry serve` printed?\n"
    )
