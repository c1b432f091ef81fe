"""Hostile requests to a real ``serve`` (in this process, on a free port), over real HTTP: bad
input is a 4xx naming what is wrong, never a 500 (whose traceback fills the log)."""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig

# Deeper than Python's json module recurses (1,000): json.loads raises RecursionError.
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    store = tmp_path_factory.mktemp("hostile-requests") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as running:
        yield running


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if error.code != 500 else text


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/analytics/query", "body: expected a JSON object; it is nested too deeply"),
        ("/analytics/granularities", "body: expected a JSON object; it is nested too deeply"),
        ("/analytics/funnel", "request body: expected JSON nested less deeply"),
        ("/analytics/funnel/dialogs", "request body: expected JSON nested less deeply"),
        ("/analytics/paths", "request body: expected JSON nested less deeply"),
        ("/analytics/retention", "request body: expected JSON nested less deeply"),
    ],
)
def test_deeply_nested_json_is_a_400_naming_the_body(
    collector: CollectorThread, path: str, said: str
) -> None:
    status, answer = post(collector.url + path, DEEP)
    assert status == 400, answer
    assert answer["error"] == said and answer["field"] in ("body", "request body")


def test_a_deeply_nested_exhaust_request_is_a_client_error_naming_the_body(
    collector: CollectorThread,
) -> None:
    status, answer = post(collector.url + "/dataset/v1/request/submit", DEEP)
    assert status == 400, answer
    assert answer["params"]["errmsg"] == "body: expected a JSON object nested less deeply"


def raw_status(url: str, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as it is (no client library would send a broken Host); the answer's
    status and body."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("host", [b"127.0.0.1:x", b"127.0.0.1:4318 evil", b"localhost:99999"])
def test_a_host_header_that_is_not_host_and_port_is_a_400(
    collector: CollectorThread, host: bytes
) -> None:
    request = b"GET /api/health HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    status, body = raw_status(collector.url, request)
    assert status == 400, body
    assert json.loads(body)["error"] == f"the Host header {host.decode()!r} is not host[:port]"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("limit=%C2%B2", "limit must be a whole number, not '²'"),
        ("limit=ten", "limit must be a whole number, not 'ten'"),
        ("after_time=soon&after_id=x", "after_time must be a whole number, not 'soon'"),
    ],
)
def test_a_bad_number_for_the_posthog_backfill_names_its_parameter(
    collector: CollectorThread, query: str, said: str
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{collector.url}/api/posthog/events?{query}", timeout=30)
    assert refused.value.code == 400
    assert json.loads(refused.value.read()) == {"error": said}


def test_a_request_that_cannot_be_parsed_is_one_line_in_the_log(
    collector: CollectorThread, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp logged each at ERROR with a ~10-line traceback; any client could send them.
    caplog.set_level(logging.WARNING, logger="aiohttp.server")
    for request in (
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
        # aiohttp quotes the start of a line too long: a token in it is not to be logged
        b"GET /api/health?token=s3cret-in-the-line&x=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
    ):
        assert raw_status(collector.url, request)[0] == 400
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 3, [r.getMessage() for r in records]
    assert "/api/health?token=…&x=aaa" in records[2].getMessage()
    assert not any("s3cret" in r.getMessage() for r in records)
    for record in records:
        assert (record.levelname, record.exc_info) == ("WARNING", None)
        said = record.getMessage()
        assert said.startswith("Error handling request from 127.0.0.1: 400") and "\n" not in said
    assert "Got more than 8190 bytes" in records[0].getMessage()


def test_the_token_is_in_no_repr_of_the_settings(tmp_path: Path) -> None:
    token = "s3cret-token-0123456789"
    config = ServerConfig(store=tmp_path / "store.duckdb", token=token)
    assert token not in repr(config) and token not in str(config)


JSON_ROUTES = [
    "/analytics/query",
    "/analytics/granularities",
    "/analytics/funnel",
    "/analytics/funnel/dialogs",
    "/analytics/paths",
    "/analytics/retention",
]


@pytest.mark.parametrize("path", [*JSON_ROUTES, "/dataset/v1/request/submit"])
def test_a_json_request_over_a_mib_is_a_413(collector: CollectorThread, path: str) -> None:
    # The app's limit is the receivers' (16 MiB), whose JSON parse held the event loop ~0.5 s.
    body = json.dumps({"padding": "x" * (2 << 20)}).encode()
    status, answer = post(collector.url + path, body)
    assert status == 413, answer
    said = answer["params"]["errmsg"] if "params" in answer else answer["error"]
    assert "the request body is over 1,048,576 bytes" in said


@pytest.mark.parametrize("path", [*JSON_ROUTES, "/dataset/v1/request/submit"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\xfd{", "application/json"),  # not UTF-8 (nor -16, -32)
        (b"{}", "application/json; charset=no-such-charset"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_a_400(
    collector: CollectorThread, path: str, body: bytes, content_type: str
) -> None:
    request = urllib.request.Request(
        collector.url + path, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status in (200, 400), (path, status)
