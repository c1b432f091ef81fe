"""One clear line, not a traceback, when a gRPC client is pointed at the OTLP/HTTP port.

aiohttp speaks HTTP/1.1. A gRPC client opens with the HTTP/2 preface, which aiohttp's parser
refuses with an ERROR and a traceback on every attempt, and the client only learns that it
reached "an http1.x server". ``GuardedTCPSite`` is ``web.TCPSite`` with a look at the first
bytes of each connection: HTTP/1.x is handed to aiohttp's own protocol at once (nothing
changes for it after the first chunk); the HTTP/2 preface gets one WARNING line (repeats
from one peer folded for a minute) and, on every stream the client opens, a gRPC answer
with status UNIMPLEMENTED and the hint "this is the OTLP/HTTP port; send OTLP/gRPC to port
4317" (or that this serve runs no OTLP/gRPC, or is read-only), which exporters print and do
not retry. Then the connection is closed.

It frames only what a refusal needs (SETTINGS, one HEADERS block per stream, GOAWAY;
HPACK literals without Huffman coding); every real gRPC call goes to the grpcio server.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time

from aiohttp import web

_log = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_FOLD_SECONDS = 60.0
_SETTINGS, _HEADERS, _GOAWAY = 0x4, 0x1, 0x7
_ACK = _END_STREAM = 0x1
_END_HEADERS = 0x4


def hint(grpc_port: int | None, read_only: bool = False) -> str:
    """What a gRPC client at the HTTP port is told: the gRPC port this serve listens on, or
    that it serves no OTLP/gRPC (``--no-grpc``, or 4317 was taken), or receives nothing."""
    if read_only:
        return "this bot-telemetry serve is read-only (--read-only): it receives no telemetry"
    if grpc_port:
        return f"this is the OTLP/HTTP port; send OTLP/gRPC to port {grpc_port}"
    return (
        "this is the OTLP/HTTP port and this bot-telemetry serve runs no OTLP/gRPC; "
        "send OTLP/HTTP (http/protobuf) to this port"
    )


def _frame(kind: int, payload: bytes, flags: int = 0, stream: int = 0) -> bytes:
    """An HTTP/2 frame (RFC 9113 section 4.1)."""
    header = len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")
    return header + payload


def _length(size: int) -> bytes:
    """An HPACK string length, 7-bit prefix, no Huffman (RFC 7541 section 5.1)."""
    if size < 127:
        return bytes([size])
    out, size = bytearray([127]), size - 127
    while size >= 128:
        out.append((size & 0x7F) | 0x80)
        size >>= 7
    out.append(size)
    return bytes(out)


def _literal(name: bytes, value: bytes) -> bytes:
    """An HPACK literal header field without indexing, new name (RFC 7541 section 6.2.2)."""
    return b"\x00" + _length(len(name)) + name + _length(len(value)) + value


def _percent_encoded(text: str) -> bytes:
    # grpc-message is percent-encoded outside printable ASCII (gRPC over HTTP/2 spec).
    return "".join(c if " " <= c <= "~" and c != "%" else f"%{ord(c):02X}" for c in text).encode()


def refusal(stream: int, message: str) -> bytes:
    """A trailers-only gRPC answer on ``stream``: status 12 (UNIMPLEMENTED) with ``message``."""
    block = (
        b"\x88"  # :status 200, HPACK static table entry 8
        + _literal(b"content-type", b"application/grpc")
        + _literal(b"grpc-status", b"12")
        + _literal(b"grpc-message", _percent_encoded(message))
    )
    return _frame(_HEADERS, block, _END_STREAM | _END_HEADERS, stream)


class _Folder:
    """The first refusal per peer host is logged, then at most one line a minute with a count."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, int]] = {}

    def log(self, peer: str, message: str) -> None:
        now = time.monotonic()
        last, folded = self._seen.get(peer, (-_FOLD_SECONDS, 0))
        if now - last < _FOLD_SECONDS:
            self._seen[peer] = (last, folded + 1)
            return
        self._seen[peer] = (now, 0)
        more = f" ({folded} more since)" if folded else ""
        _log.warning("gRPC (HTTP/2) connection from %s refused: %s%s", peer, message, more)


class _Sniffer(asyncio.Protocol):
    """In front of aiohttp's protocol until the first bytes show which protocol this is."""

    def __init__(self, http: asyncio.Protocol, message: str, folder: _Folder):
        self._http = http
        self._message = message
        self._folder = folder
        self._buffer = b""
        self._refusing = False
        self._transport: asyncio.Transport | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._last_stream = 0
        #: Payload bytes of the current frame still to come, passed over unread.
        self._skip = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._http.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        if self._refusing:
            self._answer_streams(data)
            return
        self._buffer += data
        head = self._buffer[: len(PREFACE)]
        if len(head) < len(PREFACE) and PREFACE.startswith(head):
            return  # maybe the preface, split across reads
        if head != PREFACE:
            # HTTP/1.x: from now on the transport talks to aiohttp directly.
            transport.set_protocol(self._http)
            buffered, self._buffer = self._buffer, b""
            self._http.data_received(buffered)
            return
        peer = transport.get_extra_info("peername")
        self._folder.log(str(peer[0]) if peer else "?", self._message)
        self._refusing = True
        rest, self._buffer = self._buffer[len(PREFACE) :], b""
        # Our (empty) SETTINGS and the ACK of the client's; then an answer per stream.
        transport.write(_frame(_SETTINGS, b"") + _frame(_SETTINGS, b"", _ACK))
        self._closer = asyncio.get_running_loop().call_later(5.0, self._close)
        self._answer_streams(rest)

    def _answer_streams(self, data: bytes) -> None:
        # A client multiplexes several exports on one connection: each stream gets the
        # answer (one left unanswered reports "stream refused"), then we close shortly after.
        # Only frame headers are kept: payloads are passed over as they come. Buffered until
        # whole, a frame announcing 16 MiB was 16 MiB held (and copied on every read, the
        # event loop's CPU) per connection, before any token was asked for.
        transport = self._transport
        assert transport is not None
        if self._skip:
            passed = min(self._skip, len(data))
            self._skip -= passed
            data = data[passed:]
        buffer = self._buffer + data
        at = 0  # an offset, not slices: a read of many small frames was copied once each
        while len(buffer) - at >= 9:
            length = int.from_bytes(buffer[at : at + 3], "big")
            stream = int.from_bytes(buffer[at + 5 : at + 9], "big") & 0x7FFFFFFF
            if buffer[at + 3] == _HEADERS and stream > self._last_stream:
                transport.write(refusal(stream, self._message))
                if not self._last_stream and self._closer is not None:
                    self._closer.cancel()
                    self._closer = asyncio.get_running_loop().call_later(0.05, self._close)
                self._last_stream = stream
            at += 9 + length
            self._skip = max(0, at - len(buffer))
        self._buffer = buffer[at:]

    def _close(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(_frame(_GOAWAY, struct.pack(">II", self._last_stream, 0)))
            transport.close()

    def eof_received(self) -> bool | None:
        if self._refusing:
            return None
        return self._http.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closer is not None:
            self._closer.cancel()
        self._http.connection_lost(exc)

    def pause_writing(self) -> None:
        self._http.pause_writing()

    def resume_writing(self) -> None:
        self._http.resume_writing()


class GuardedTCPSite(web.BaseSite):
    """``web.TCPSite`` whose connections are checked for the HTTP/2 preface first."""

    __slots__ = ("_folder", "_host", "_message", "_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        grpc_port: int | None = None,
        read_only: bool = False,
        backlog: int = 128,
    ):
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._message = hint(grpc_port, read_only)
        self._folder = _Folder()

    @property
    def name(self) -> str:
        shown = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{shown}:{self._port}"

    async def start(self) -> None:
        await super().start()
        http = self._runner.server
        assert http is not None

        def protocol() -> asyncio.Protocol:
            return _Sniffer(http(), self._message, self._folder)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog
        )
