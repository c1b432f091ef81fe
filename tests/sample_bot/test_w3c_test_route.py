"""The W3C test-service route: in process over real HTTP, then as the sample bot's command."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

from bot_telemetry import instrument_app
from sample_bot.w3c_test_route import add_w3c_test_route
from tests.correlation.servers import raw_request
from tests.support.ports import free_port
from tests.support.processes import REPO, running
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

T = "12345678901234567890123456789012"
S = "1234567890123456"


@dataclass
class Harness:
    """Stands in for the W3C harness's callback server: records what each callback carried."""

    url: str = ""
    calls: list[tuple[str, CIMultiDict[str], Any]] = field(default_factory=list)

    def traceparent(self, index: int = 0) -> str:
        values = self.calls[index][1].getall("traceparent")
        assert len(values) == 1, values
        return values[0]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    found = Harness()

    async def callback(request: web.Request) -> web.Response:
        found.calls.append((request.path, CIMultiDict(request.headers), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{n}", callback)
    async with serving(app) as url:
        found.url = url
        yield found


@pytest.fixture
async def bot(telemetry: CapturedTelemetry) -> AsyncIterator[str]:
    app = web.Application()
    instrument_app(app)
    add_w3c_test_route(app)
    async with serving(app) as url:
        yield url


def body(harness: Harness, count: int = 1) -> bytes:
    return json.dumps(
        [{"url": f"{harness.url}/{n}", "arguments": [{"n": n}]} for n in range(count)]
    ).encode()


async def send(bot: str, harness: Harness, headers: list[tuple[str, str]], count: int = 1) -> int:
    response = await raw_request(
        bot, "/test", [("Content-Type", "application/json"), *headers], "POST", body(harness, count)
    )
    return response.status


async def test_each_element_is_posted_with_its_arguments(bot: str, harness: Harness) -> None:
    status = await send(bot, harness, [("traceparent", f"00-{T}-{S}-01")], count=3)
    assert status == 200
    assert [(path, args) for path, _, args in harness.calls] == [
        ("/0", [{"n": 0}]),
        ("/1", [{"n": 1}]),
        ("/2", [{"n": 2}]),
    ]
    parents = [harness.traceparent(i) for i in range(3)]
    assert all(p.startswith(f"00-{T}-") for p in parents)
    assert len({p.split("-")[2] for p in parents} | {S}) == 4


@pytest.mark.parametrize(
    "headers",
    [
        [("traceparent", f"ff-{T}-{S}-01")],
        [("traceparent", f"00-{T}-{S}-01"), ("traceparent", f"00-{T[:-1]}1-{S}-01")],
        [("traceparent", f"00-{T}-{S}-01-what-the-future-will-be-like")],
        [("traceparent", f"00-{'0' * 32}-{S}-01")],
        [("traceparent", f"00-{T}-{'0' * 16}-01")],
        [("traceparent", f"00-{T}-{S}-.0")],
    ],
    ids=["version ff", "duplicated", "trailing data", "zero trace id", "zero parent", "flags"],
)
async def test_invalid_traceparents_restart_the_trace(
    bot: str, harness: Harness, headers: list[tuple[str, str]]
) -> None:
    assert await send(bot, harness, [*headers, ("tracestate", "foo=1")]) == 200
    sent = harness.traceparent()
    assert T not in sent and T[:-1] + "1" not in sent
    assert "tracestate" not in harness.calls[0][1]


async def test_a_future_version_is_continued_as_version_00(bot: str, harness: Harness) -> None:
    assert await send(bot, harness, [("traceparent", f"cc-{T}-{S}-01-future")]) == 200
    assert harness.traceparent().startswith(f"00-{T}-")


async def test_tracestate_is_passed_on_and_the_random_flag_kept(bot: str, harness: Harness) -> None:
    headers = [
        ("traceparent", f"00-{T}-{S}-03"),
        ("tracestate", "foo=1,bar=2"),
        ("tracestate", "t@v=3"),
    ]
    assert await send(bot, harness, headers) == 200
    assert harness.traceparent().endswith("-03")
    assert harness.calls[0][1]["tracestate"] == "foo=1,bar=2,t@v=3"


@pytest.mark.parametrize(
    "fields", [["foo=1,foo=1"], ["foo=1,foo=2"], ["foo=1", "foo=1"], ["foo=1", "foo=2"]]
)
async def test_a_duplicated_tracestate_key_is_inherited_once(
    bot: str, harness: Harness, fields: list[str]
) -> None:
    # The W3C suite's test_tracestate_duplicated_keys, end to end.
    headers = [("traceparent", f"00-{T}-{S}-00"), *(("tracestate", f) for f in fields)]
    assert await send(bot, harness, headers) == 200
    assert harness.traceparent().startswith(f"00-{T}-")
    assert harness.calls[0][1]["tracestate"] == "foo=1"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "body is not JSON"),
        (b'{"url": "http://x"}', "expected a JSON array"),
        (b'[{"arguments": []}]', "element 0"),
        (b'[{"url": "http://127.0.0.1:1/", "arguments": {}}]', "arguments must be an array"),
        (b'[{"url": "file:///etc/passwd", "arguments": []}]', "absolute http(s) URL"),
        (json.dumps([{"url": "http://127.0.0.1:1/"}] * 65).encode(), "at most 64"),
    ],
    ids=["not json", "not an array", "no url", "arguments", "scheme", "too many"],
)
async def test_a_malformed_body_gets_a_clear_400(bot: str, payload: bytes, message: str) -> None:
    headers = [("Content-Type", "application/json")]
    response = await raw_request(bot, "/test", headers, "POST", payload)
    assert response.status == 400
    assert message in json.loads(response.body)["error"]


async def test_an_unreachable_url_is_reported(bot: str) -> None:
    payload = json.dumps([{"url": f"http://127.0.0.1:{free_port()}/", "arguments": []}]).encode()
    response = await raw_request(bot, "/test", [], "POST", payload)
    assert response.status == 502
    assert "ClientConnectorError" in json.loads(response.body)["failures"][0]


needs_the_command = pytest.mark.skipif(
    not (REPO / "sample_bot" / "__main__.py").exists(),
    reason="sample_bot/__main__.py (python -m sample_bot) does not exist yet",
)


def failing_export() -> dict[str, str]:
    """Export to a port nobody listens on: the bot must start and answer regardless."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        # Short export timeouts so that stopping the process does not wait on retries.
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "",
    }


@needs_the_command
async def test_the_sample_bot_command_serves_the_route(harness: Harness) -> None:
    port = free_port()
    args = ["-m", "sample_bot", "--port", str(port), "--w3c-test-route"]
    with running(args, ready_url=f"http://127.0.0.1:{port}/test", env=failing_export()) as process:
        bot = f"http://127.0.0.1:{port}"
        headers = [("traceparent", f"00-{T}-{S}-01"), ("tracestate", "foo=1")]
        assert await send(bot, harness, headers, count=2) == 200, process.output()[-2000:]
        response = await raw_request(bot, "/test", [], "POST", b"[")
    assert response.status == 400
    assert [path for path, _, _ in harness.calls] == ["/0", "/1"]
    for index in range(2):
        assert harness.traceparent(index).startswith(f"00-{T}-")
        assert harness.calls[index][1]["tracestate"] == "foo=1"


@needs_the_command
async def test_the_route_is_off_without_the_flag(harness: Harness) -> None:
    port = free_port()
    args = ["-m", "sample_bot", "--port", str(port)]
    with running(args, ready_url=f"http://127.0.0.1:{port}/", env=failing_export()):
        response = await raw_request(f"http://127.0.0.1:{port}", "/test", [], "POST", body(harness))
    assert response.status == 404
    assert harness.calls == []
