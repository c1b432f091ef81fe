"""A ClickHouse server for tests: ClickHouse's HTTP interface in front of chDB, the real engine.

    python -m tests.support.clickhouse_server --path DIR --port 8123 [--user name:password]

No ClickHouse server installs on this machine, but its engine does (chDB); this is the thin
transport in front of it, enough of https://clickhouse.com/docs/interfaces/http for
clickhouse-connect (our HTTP engine) and rotel's clickhouse exporter:

* ``POST``/``GET /`` with the query in the ``query`` parameter, the body, or both (the
  parameter, a newline, then the body, as ClickHouse joins them). An ``INSERT ... FORMAT x``
  takes the rest as data, binary formats included, through chDB's streaming insert.
* ``/ping`` and ``GET /`` answer ``Ok.``.
* Credentials from ``X-ClickHouse-User``/``-Key``, HTTP Basic or ``user``/``password``; a
  wrong pair is ClickHouse's ``516 AUTHENTICATION_FAILED`` (HTTP 403).
* ``database`` parameter or ``X-ClickHouse-Database``; ``default_format`` or
  ``X-ClickHouse-Format`` (a ``FORMAT`` clause wins); ``param_<name>`` for ``{name:Type}``;
  every other parameter is a setting, ``SET`` for that request only.
* Request bodies: ``Content-Encoding`` gzip/deflate/zstd (aiohttp undoes these) and lz4
  frames; ``decompress=1``: ClickHouse's compressed blocks (LZ4/ZSTD/none, CityHash128
  checksum checked). Responses: ``compress=1`` gives compressed blocks; with
  ``enable_http_compression`` (chDB's default is on) ``Accept-Encoding`` is honoured.
* Errors: ``Code: N. DB::Exception: ... (NAME)`` with ClickHouse's HTTP status for the name
  and ``X-ClickHouse-Exception-Code``.

Each worker thread has a chDB session of its own on the directory, so two queries run at once
and one request's SET/USE never leaks into another's. ``session_id`` is accepted and ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import queue
import re
import struct
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import lz4.block
import lz4.frame
from aiohttp import web
from backports import zstd
from chdb import session as chdb_session
from clickhouse_cityhash.cityhash import CityHash128

#: Parameters of the HTTP interface itself, never settings.
RESERVED = {
    "query",
    "database",
    "user",
    "password",
    "default_format",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "quota_key",
    "stacktrace",
    "close_session",
    "role",
    "client_protocol_version",
    "with_stacktrace",
}
#: Settings that steer only this HTTP layer.
HTTP_ONLY = {
    "enable_http_compression",
    "http_zlib_compression_level",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close",
    "http_response_buffer_size",
}

# ClickHouse's own map of error names to HTTP statuses (exceptionCodeToHTTPStatus.cpp).
_STATUSES = {
    401: ("REQUIRED_PASSWORD",),
    403: ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "ACCESS_DENIED"),
    400: ("BAD_ARGUMENTS", "SYNTAX_ERROR", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_QUOTED_STRING",
          "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "ILLEGAL_COLUMN", "THERE_IS_NO_COLUMN",
          "INCORRECT_DATA", "TYPE_MISMATCH", "CHECKSUM_DOESNT_MATCH"),
    404: ("UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
          "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_FORMAT", "UNKNOWN_AGGREGATE_FUNCTION"),
    501: ("NOT_IMPLEMENTED",),
}  # fmt: skip
HTTP_STATUS = {name: status for status, names in _STATUSES.items() for name in names}

_INSERT = re.compile(
    rb"^\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+([A-Za-z0-9_]+)[ \t]*(?:\r?\n|[ \t])?",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
_RESULT = re.compile(r"^\s*(\(|SELECT|WITH|SHOW|DESC|DESCRIBE|EXISTS|EXPLAIN)\b", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)\.")
_NAME = re.compile(r"\(([A-Z][A-Z_0-9]+)\)")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_MAGIC = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd", "lz4": b"\x04\x22\x4d\x18"}


class ServerError(Exception):
    """A ClickHouse exception: its code, name and text."""

    def __init__(self, code: int, name: str, message: str):
        super().__init__(message)
        self.code = code
        self.name = name


def as_server_error(error: BaseException) -> ServerError:
    if isinstance(error, ServerError):
        return error
    text = str(error)
    at = text.find("Code: ")  # chDB's streaming insert puts its own words first
    text = text[at:] if at > 0 else text
    code, names = _CODE.search(text), _NAME.findall(text)
    if code:
        # The last (NAME) is the error's: a syntax error's text holds "(1)"-like groups too.
        return ServerError(int(code.group(1)), names[-1] if names else "UNKNOWN", text)
    return ServerError(1001, "STD_EXCEPTION", f"Code: 1001. DB::Exception: {text}. (STD_EXCEPTION)")


# --- ClickHouse's compressed blocks: 16-byte CityHash128 of the rest, a method byte (0x82 LZ4,
# 0x90 ZSTD, 0x02 none), UInt32 size of header+payload, UInt32 size uncompressed, payload.


def _checksum(digest: int) -> bytes:
    # clickhouse_cityhash gives the uint128 as one int, CityHash's first word in the high
    # half; the wire has the first word first (checked against rotel's blocks).
    return struct.pack("<QQ", digest >> 64, digest & (2**64 - 1))


def decompress_blocks(data: bytes) -> bytes:
    out, position = [], 0
    while position < len(data):
        if len(data) - position < 25:
            raise ServerError(
                271, "CANNOT_DECOMPRESS", "Code: 271. Truncated block. (CANNOT_DECOMPRESS)"
            )
        checksum = data[position : position + 16]
        method, size, raw_size = struct.unpack_from("<BII", data, position + 16)
        block = data[position + 16 : position + 16 + size]
        if _checksum(CityHash128(block)) != checksum:
            raise ServerError(
                40,
                "CHECKSUM_DOESNT_MATCH",
                "Code: 40. Checksum doesn't match. (CHECKSUM_DOESNT_MATCH)",
            )
        payload = block[9:]
        if method == 0x82:
            out.append(lz4.block.decompress(payload, uncompressed_size=raw_size))
        elif method == 0x90:
            out.append(zstd.decompress(payload))
        elif method == 0x02:
            out.append(payload)
        else:
            raise ServerError(
                89,
                "UNKNOWN_COMPRESSION_METHOD",
                f"Code: 89. Method {method:#x}. (UNKNOWN_COMPRESSION_METHOD)",
            )
        position += 16 + size
    return b"".join(out)  # fmt: skip


def compress_blocks(data: bytes, block_size: int = 1 << 20) -> bytes:
    out = []
    for start in range(0, max(len(data), 1), block_size):
        chunk = data[start : start + block_size]
        payload = lz4.block.compress(chunk, store_size=False)
        block = struct.pack("<BII", 0x82, 9 + len(payload), len(chunk)) + payload
        out.append(_checksum(CityHash128(block)) + block)
    return b"".join(out)


def decode_body(body: bytes, encoding: str) -> bytes:
    # aiohttp already undid gzip/deflate/br/zstd; a body without its encoding's magic number
    # was decoded on the way in. lz4 is ours: several frames back to back (clickhouse-connect).
    for name in [item.strip().lower() for item in encoding.split(",") if item.strip()][::-1]:
        if name in _MAGIC and not body.startswith(_MAGIC[name]):
            continue
        if name == "gzip":
            body = gzip.decompress(body)
        elif name == "zstd":
            body = zstd.decompress(body)
        elif name == "lz4":
            frames = []
            while body:
                decompressor = lz4.frame.LZ4FrameDecompressor()
                frames.append(decompressor.decompress(body))
                body = decompressor.unused_data
            body = b"".join(frames)
    return body


def encode_body(body: bytes, accept: str) -> tuple[bytes, str | None]:
    for name in (part.split(";")[0].strip().lower() for part in accept.split(",")):
        if name == "zstd":
            return zstd.compress(body), name
        if name == "lz4":
            return lz4.frame.compress(body), name
        if name == "gzip":
            return gzip.compress(body, compresslevel=3), name
        if name == "deflate":
            return zlib.compress(body, 3), name
    return body, None


@dataclass
class Outcome:
    body: bytes = b""
    format: str | None = None
    summary: dict[str, int] = field(default_factory=dict)


class Sessions:
    """chDB sessions on one directory, one per worker thread."""

    def __init__(self, path: str, count: int = 2):
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="chdb")
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        first = chdb_session.Session(path)
        self._free.put(first)
        for _ in range(count - 1):
            self._free.put(chdb_session.Session(path))
        self.version = first.query("SELECT version()", "TSV").data().strip()
        self.timezone = first.query("SELECT timezone()", "TSV").data().strip()
        # chDB's default is on (a stock server's is off); clients read it from
        # system.settings and then expect compressed answers without asking.
        self.http_compression = (
            first.query("SELECT getSetting('enable_http_compression')", "TSV").data().strip()
        )

    async def run(self, *arguments: Any) -> Outcome:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, *arguments)

    @staticmethod
    def _query(
        session: Any, sql: str, fmt: str = "TSV", params: dict[str, str] | None = None
    ) -> Any:
        try:
            return session.query(sql, fmt, params=params or None)
        except Exception as error:  # chDB raises its own errors with ClickHouse's text
            raise as_server_error(error) from error

    def _run(
        self, text: bytes, database: str, settings: dict[str, str], params: dict[str, str], fmt: str
    ) -> Outcome:
        session = self._free.get()
        applied: list[str] = []
        try:
            self._query(session, f"USE `{database.replace('`', '')}`")
            for name, value in settings.items():
                literal = (
                    value
                    if _NUMBER.match(value)
                    else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
                )
                self._query(session, f"SET {name} = {literal}")
                applied.append(name)
            return self._execute(session, text, params, fmt)
        finally:
            for name in applied:
                try:
                    session.query(f"SET {name} = DEFAULT")
                except Exception:
                    pass
            self._free.put(session)  # fmt: skip

    def _execute(self, session: Any, text: bytes, params: dict[str, str], fmt: str) -> Outcome:
        insert = _INSERT.match(text)
        if insert:
            statement, data_format = insert.group(1).decode(), insert.group(2).decode()
            data = text[insert.end() :]
            try:
                with session.send_insert(statement, data_format) as sink:
                    if data:
                        sink.append(data)
                    result = sink.finish()
            except Exception as error:
                raise as_server_error(error) from error
            rows = int(result.rows_written)
            return Outcome(summary={"written_rows": rows, "result_rows": rows})
        sql = text.decode("utf-8").strip().rstrip(";")
        explicit = _TRAILING_FORMAT.search(sql)
        chosen = explicit.group(1) if explicit else fmt
        result = self._query(session, sql, chosen, params)
        body = result.bytes()
        return Outcome(
            body=body,
            format=chosen if (explicit or _RESULT.match(sql)) else None,
            summary={"read_rows": int(result.rows_read()), "result_bytes": len(body)},
        )


def _credentials(request: web.Request) -> tuple[str, str]:
    headers, query = request.headers, request.query
    if "X-ClickHouse-User" in headers or "X-ClickHouse-Key" in headers:
        return headers.get("X-ClickHouse-User", "default"), headers.get("X-ClickHouse-Key", "")
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return user, password
    return query.get("user", "default"), query.get("password", "")


def make_app(sessions: Sessions, users: dict[str, str]) -> web.Application:
    def headers_for(query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Server-Display-Name": "chdb-test-server",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": sessions.timezone,
        }

    def failure(error: ServerError, query_id: str) -> web.Response:
        headers = {**headers_for(query_id), "X-ClickHouse-Exception-Code": str(error.code)}
        message = str(error).rstrip()
        if "(version " not in message:
            message += f" (version {sessions.version})"
        return web.Response(
            status=HTTP_STATUS.get(error.name, 500),
            body=(message + "\n").encode(),
            headers=headers,
            content_type="text/plain",
            charset="utf-8",
        )

    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def handle(request: web.Request) -> web.Response:
        query = request.query
        query_id = query.get("query_id") or str(uuid.uuid4())
        body = await request.read() if request.can_read_body else b""
        try:
            user, password = _credentials(request)
            if users.get(user) != password:
                raise ServerError(
                    516,
                    "AUTHENTICATION_FAILED",
                    f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                    "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)",
                )
            if "Content-Encoding" in request.headers:
                body = decode_body(body, request.headers["Content-Encoding"])
            if query.get("decompress") in ("1", "true"):
                body = decompress_blocks(body)
            head = query.get("query", "")
            if not head and not body:
                if request.method == "GET":
                    return web.Response(text="Ok.\n")
                raise ServerError(62, "SYNTAX_ERROR", "Code: 62. Empty query. (SYNTAX_ERROR)")
            text = head.encode() + (b"\n" if head and body else b"") + body
            settings = {
                key: value
                for key, value in query.items()
                if key not in RESERVED and key not in HTTP_ONLY and not key.startswith("param_")
            }
            params = {key[6:]: value for key, value in query.items() if key.startswith("param_")}
            database = (
                query.get("database") or request.headers.get("X-ClickHouse-Database") or "default"
            )
            fmt = (
                query.get("default_format")
                or request.headers.get("X-ClickHouse-Format")
                or "TabSeparated"
            )
            outcome = await sessions.run(text, database, settings, params, fmt)
        except Exception as error:  # answer as ClickHouse would, never with a bare 500
            return failure(as_server_error(error), query_id)
        headers = headers_for(query_id)
        headers["X-ClickHouse-Summary"] = json.dumps(
            {key: str(value) for key, value in outcome.summary.items()}
        )
        payload = outcome.body
        if outcome.format:
            headers["X-ClickHouse-Format"] = outcome.format
        if query.get("compress") in ("1", "true"):
            payload = compress_blocks(payload)
        elif query.get("enable_http_compression", sessions.http_compression) in ("1", "true"):
            payload, encoding = encode_body(payload, request.headers.get("Accept-Encoding", ""))
            if encoding:
                headers["Content-Encoding"] = encoding
        headers["Content-Type"] = "application/octet-stream"
        return web.Response(body=payload, headers=headers)

    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/ping", ping)
    app.router.add_route("*", "/", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="chDB data directory")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--user", action="append", default=[], help="name:password (default: default, none)"
    )
    options = parser.parse_args()
    users = dict(item.split(":", 1) for item in options.user) or {"default": ""}
    sessions = Sessions(options.path)
    web.run_app(
        make_app(sessions, users),
        host="127.0.0.1",
        port=options.port,
        print=lambda *_: print(f"listening on 127.0.0.1:{options.port}", flush=True),
    )


if __name__ == "__main__":
    main()
