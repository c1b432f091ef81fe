"""SIGTERM to a real ``bot-telemetry serve`` while one client has stalled mid-request: the stop
is bounded (``HTTP_GRACE_SECONDS``), and what was acknowledged before it is stored."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot_telemetry.store.database import Store
from tests.support.ports import free_port
from tests.support.processes import running

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def _serve(store: Path, port: int, *more: str) -> list[str]:
    return ["-m", "bot_telemetry.cli", "serve", "--store", str(store), "--port", str(port), *more]


def _trace_export() -> bytes:
    span = {
        "traceId": TRACE_ID,
        "spanId": "eee19b7ec3c1b174",
        "name": "acknowledged",
        "kind": 2,
        "startTimeUnixNano": str(time.time_ns() - 1_000_000),
        "endTimeUnixNano": str(time.time_ns()),
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "op"}}]}
    export = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    return json.dumps(export).encode()


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str, str]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def test_serve_stops_within_seconds_with_a_client_stalled_mid_body(tmp_path: Path) -> None:
    store, port = tmp_path / "telemetry.duckdb", free_port()
    url = f"http://127.0.0.1:{port}"
    with running(_serve(store, port, "--no-grpc"), ready_url=f"{url}/api/health") as process:
        status, _, _ = _post(f"{url}/v1/traces", _trace_export())
        assert status == 200
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(
            f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
        )
        time.sleep(0.2)  # the request has reached its handler (not a wait for the bug)
        started = time.monotonic()
        process.process.send_signal(signal.SIGTERM)
        try:
            code = process.process.wait(30)
        finally:
            stalled.close()
        took = time.monotonic() - started
        assert code == 0, process.output()
        assert took < 20, f"stopped after {took:.1f} s"
    stored = Store.open(store, read_only=True)
    try:
        with stored.reader() as db:
            names = db.execute("SELECT name FROM spans WHERE trace_id = ?", [TRACE_ID]).fetchall()
    finally:
        stored.close()
    assert names == [("acknowledged",)]
