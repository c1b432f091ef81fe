"""A gRPC client pointed at the OTLP/HTTP port gets one clear answer and one log line, not a
traceback; HTTP/1.1 on that port is untouched."""

from __future__ import annotations

import http.client
import logging
import socket
import tracemalloc
from pathlib import Path

import grpc
import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.otlp_messages import spans_request

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def test_a_grpc_client_at_the_http_port_is_told_where_to_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0)
    with CollectorThread(config) as collector:
        assert collector._running is not None and collector._running.grpc_url
        grpc_port = collector._running.grpc_url.rsplit(":", 1)[1]
        http_target = collector.url.removeprefix("http://")
        for _ in range(3):
            with grpc.insecure_channel(http_target) as channel:
                export = channel.unary_unary(TRACES)
                with pytest.raises(grpc.RpcError) as refused:
                    export(spans_request([{}]).SerializeToString(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert refused.value.details() == (
                f"this is the OTLP/HTTP port; send OTLP/gRPC to port {grpc_port}"
            )
        # HTTP/1.1 on the same port: keep-alive requests, bodies of several reads.
        host, port = http_target.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for size in (1, 3 << 20):
            body = spans_request([{"name": "n" * size}]).SerializeToString()
            connection.request(
                "POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"}
            )
            response = connection.getresponse()
            response.read()
            assert response.status == 200
        connection.close()
    # What the server and its libraries logged; an earlier test's OpenTelemetry SDK objects
    # living on in this worker (a metric reader's thread) may log here too.
    server = [r for r in caplog.records if not r.name.startswith("opentelemetry")]
    warnings = [r for r in server if r.levelno >= logging.WARNING]
    # Three attempts from one peer: one line (repeats are folded), and no traceback.
    assert [r.getMessage() for r in warnings] == [
        "gRPC (HTTP/2) connection from 127.0.0.1 refused: this is the OTLP/HTTP port; "
        f"send OTLP/gRPC to port {grpc_port}"
    ]
    assert not any(r.exc_info for r in server)


def test_a_large_frame_at_the_http_port_is_passed_over_not_held(tmp_path: Path) -> None:
    # Frames were buffered whole before being looked at: one announcing 16 MiB was 16 MiB
    # held per connection (and copied on every read), before any token was asked for.
    size = 4 << 20
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0)
    with CollectorThread(config) as collector:
        host, port = collector.url.removeprefix("http://").rsplit(":", 1)
        tracemalloc.start()
        try:
            with socket.create_connection((host, int(port)), timeout=10) as connection:
                connection.sendall(PREFACE + frame_header(size, DATA, 1))
                chunk = bytes(64 << 10)
                for _ in range(size // len(chunk)):
                    connection.sendall(chunk)
                connection.sendall(frame_header(0, HEADERS, 3, END_HEADERS))
                answered = frames_until_headers(connection, 3)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert b"grpc-status" in answered  # the stream after the large frame is still answered
    assert peak < size // 2, f"{peak:,} bytes held at most"


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, END_HEADERS = 0x0, 0x1, 0x4


def frame_header(length: int, kind: int, stream: int, flags: int = 0) -> bytes:
    return length.to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")


def frames_until_headers(connection: socket.socket, stream: int) -> bytes:
    """Read the server's frames until a HEADERS frame on ``stream``; its payload."""
    received = b""
    while True:
        while len(received) >= 9:
            length = int.from_bytes(received[:3], "big")
            if len(received) < 9 + length:
                break
            kind, on = received[3], int.from_bytes(received[5:9], "big") & 0x7FFFFFFF
            payload, received = received[9 : 9 + length], received[9 + length :]
            if kind == HEADERS and on == stream:
                return payload
        more = connection.recv(65536)
        assert more, "the server closed the connection without answering the stream"
        received += more
