"""A model's streamed answer (server-sent events), read as its bytes pass to the bot.

``observe_stream`` puts itself between an httpx response and its reader: every chunk goes on
unchanged, and only the ``data:`` lines that can describe the call (the first event, and
those with a ``usage`` or a ``finish_reason``) are parsed, as they complete. Nothing but the
line being completed is kept: the answer's text is never gathered.

Imported by ``llm``'s response hook, so only where httpx is.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import httpx

_log = logging.getLogger(__name__)

#: A line worth parsing after the first: a usage object or a finish reason that is set.
_WANTED: Final = re.compile(rb'"(?:usage|finish_reason)"\s*:\s*[{"]')
#: A longer line (a long answer in one event) is skipped rather than gathered, but for the
#: end of it, where a usage object would be.
_LINE_LIMIT: Final = 64 * 1024
_TAIL: Final = 4096
_USAGE: Final = re.compile(rb'"usage"\s*:\s*\{')
#: Content encodings read (zlib's); an answer in another (br, zstd) goes on unread.
_WBITS: Final = {"": None, "identity": None, "gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class EventReader:
    """Hands each wanted SSE event's JSON to ``on_event`` as the lines complete."""

    def __init__(self, on_event: Callable[[Any], None], content_encoding: str = "") -> None:
        self._on_event = on_event
        encoding = content_encoding.strip().lower()
        self.usable = encoding in _WBITS
        wbits = _WBITS.get(encoding)
        self._decoder = zlib.decompressobj(wbits) if wbits is not None else None
        self._pending = b""
        self._skipping = False
        self._tail = b""
        self._first = True

    def feed(self, chunk: bytes) -> None:
        if not self.usable:
            return
        try:
            data = self._decoder.decompress(chunk) if self._decoder is not None else chunk
            if self._skipping:
                end = data.find(b"\n")
                if end < 0:
                    self._tail = (self._tail + data)[-_TAIL:]
                    return
                self._read_tail(self._tail + data[:end])
                self._skipping, self._tail, data = False, b"", data[end + 1 :]
            lines = (self._pending + data).split(b"\n")
            self._pending = lines.pop()
            for line in lines:
                self._line(line)
            if len(self._pending) > _LINE_LIMIT:
                self._skipping, self._tail = True, self._pending[-_TAIL:]
                self._pending = b""
        except Exception:  # telemetry must never fail the answer: stop reading it
            self.usable = False
            _log.debug("could not read a streamed model answer", exc_info=True)

    def _read_tail(self, tail: bytes) -> None:
        # A line too long to gather (the Responses API's response.completed repeats the
        # whole answer): its usage comes last, so the end of the line is enough.
        found = list(_USAGE.finditer(tail))
        if found:
            text = tail[found[-1].end() - 1 :].decode("utf-8", "replace")
            usage, _ = json.JSONDecoder().raw_decode(text)
            self._on_event({"usage": usage})

    def close(self) -> None:
        """The stream ended: its last line, if it had no line break."""
        if not self.usable:
            return
        try:
            if self._skipping:
                self._read_tail(self._tail)
            elif self._pending:
                self._line(self._pending)
        except Exception:
            _log.debug("could not read a streamed model answer", exc_info=True)
        self._pending, self._tail, self._skipping = b"", b"", False

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return  # event:, id:, comments and the blank line between events
        payload = line[5:].strip()
        if not payload or payload == b"[DONE]":
            return
        if not self._first and _WANTED.search(payload) is None:
            return
        self._first = False
        try:
            event = json.loads(payload)
        except ValueError:
            return
        self._on_event(event)


class ObservedStream(httpx.AsyncByteStream):
    """The response's byte stream, passed on as is through ``reader``; ``on_end`` is called
    once it is read to its end, failed or closed (with the error, if any)."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        reader: EventReader,
        on_end: Callable[[BaseException | None], Awaitable[None]] | None,
    ) -> None:
        self._inner = inner
        self._reader = reader
        self._on_end = on_end

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                self._reader.feed(chunk)
                yield chunk
        except GeneratorExit:  # the reader stopped: the call ends when the response closes
            raise
        except BaseException as error:
            await self._end(error)
            raise
        self._reader.close()
        await self._end(None)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._end(None)

    async def _end(self, error: BaseException | None) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            await on_end(error)


def observe_stream(
    response: httpx.Response,
    on_event: Callable[[Any], None],
    on_end: Callable[[BaseException | None], Awaitable[None]] | None = None,
) -> None:
    """Read ``response``'s events as the bot reads its bytes (see the module)."""
    reader = EventReader(on_event, response.headers.get("content-encoding", ""))
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise TypeError("a streamed model answer is read from an httpx.AsyncClient only")
    response.stream = ObservedStream(stream, reader, on_end)
