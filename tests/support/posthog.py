"""A local server speaking PostHog's capture protocol as documented, for the tests.

``POST /batch/`` takes ``{"api_key", "historical_migration"?, "batch": [...]}``, JSON,
gzipped or not, and answers as PostHog does:

- 200 ``{"status": 1}``: accepted; an event whose JSON is over ``max_event_bytes`` (about
  1 MB) or whose ``uuid`` is not a UUID is discarded without a word, as PostHog does;
- 400 a body that is not JSON, not a batch, or an event without ``event`` or ``distinct_id``
  (``distinct_id`` may also sit in ``properties``); the whole request is refused;
- 401 a missing or wrong project API key;
- 413 a body over ``max_body`` (20 MB);
- and whatever the test scripts: 429 with ``Retry-After``, 503, a refusal of events it
  picks (400), or not listening at all (``down``).

It keeps what it accepted (``events``, with the request it came in) and the decompressed
bodies (for privacy searches). ``collapsed()`` is what PostHog ends up with after its
de-duplication: one event per day, event name, distinct id and uuid.

``python -m tests.support.posthog --port P --api-key K`` serves it as a process (for the
benchmarks), counting instead of keeping; ``GET /_counts`` says how many it took.
"""

from __future__ import annotations

import argparse
import json
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 20 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Received:
    event: dict[str, Any]
    historical: bool
    request: int  # which accepted request brought it (1, 2, ...)

    @property
    def name(self) -> str:
        return str(self.event["event"])

    @property
    def distinct_id(self) -> str:
        return str(_distinct_id(self.event))

    @property
    def uuid(self) -> str | None:
        found = self.event.get("uuid")
        return str(found) if found is not None else None

    @property
    def properties(self) -> dict[str, Any]:
        found = self.event.get("properties")
        return found if isinstance(found, dict) else {}


@dataclass
class Scripted:
    """The answer to the next ``times`` requests."""

    status: int
    times: int
    retry_after: str | None = None


class PostHogServer:
    def __init__(
        self,
        api_key: str = "phc_test_key",
        *,
        max_body: int = MAX_BODY,
        max_event_bytes: int = MAX_EVENT_BYTES,
        keep: bool = True,
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.max_body = max_body
        self.max_event_bytes = max_event_bytes
        self.keep = keep
        self.events: list[Received] = []
        self.bodies: list[bytes] = []
        self.discarded: list[dict[str, Any]] = []
        self.answers: Counter[int] = Counter()  # requests by the status answered
        self.accepted_count = 0
        self.refuse: Callable[[dict[str, Any]], bool] | None = None  # events answered 400
        self._script: list[Scripted] = []
        self._lock = threading.Lock()
        self._accepted_requests = 0
        self._server: ThreadingHTTPServer | None = self._listen(port)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    # -- the test's controls --------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After``)."""
        with self._lock:
            self._script.append(Scripted(status, times, retry_after))

    def down(self) -> None:
        """Stop listening: connections are refused until ``up()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        if self._server is None:
            self._server = self._listen(self.port)

    def close(self) -> None:
        self.down()

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.events)

    def collapsed(self) -> dict[tuple[str, str, str, str | None], Received]:
        """One event per (day, name, distinct id, uuid), as PostHog keeps them in the end."""
        found: dict[tuple[str, str, str, str | None], Received] = {}
        for item in self.received():
            day = str(item.event.get("timestamp", ""))[:10]
            found.setdefault((day, item.name, item.distinct_id, item.uuid), item)
        return found

    def wire(self) -> bytes:
        with self._lock:
            return b"\n".join(self.bodies)

    # -- the protocol ---------------------------------------------------------------------
    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any], str]:
        """(status, JSON body, Retry-After) for one request."""
        with self._lock:
            if self._script:
                scripted = self._script[0]
                scripted.times -= 1
                if scripted.times <= 0:
                    self._script.pop(0)
                return scripted.status, _error(scripted.status), scripted.retry_after or ""
        split = urlsplit(path)
        if split.path.rstrip("/") != "/batch":
            return 404, {"type": "not_found", "detail": f"no route {split.path}"}, ""
        if len(body) > self.max_body:
            return 413, _error(413), ""
        compression = parse_qs(split.query).get("compression", [""])[0]
        if headers.get("Content-Encoding", "").lower() == "gzip" or compression.startswith("gzip"):
            try:
                body = _inflate(body, self.max_body)
            except ValueError:
                return 413, _error(413), ""
            except (OSError, EOFError, zlib.error):
                return 400, _invalid("the body is not valid gzip"), ""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 400, _invalid("the body is not JSON"), ""
        if not isinstance(payload, dict):
            return 400, _invalid("the body is not a JSON object"), ""
        key = payload.get("api_key") or payload.get("token")
        if not key or key != self.api_key:
            return 401, _error(401), ""
        batch = payload.get("batch")
        if not isinstance(batch, list) or not batch:
            return 400, _invalid("batch must be a non-empty list of events"), ""
        for event in batch:
            if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                return 400, _invalid("an event has no event name"), ""
            if not event["event"]:
                return 400, _invalid("an event has an empty event name"), ""
            if not _distinct_id(event):
                return 400, _invalid(f"event {event['event']!r} has no distinct_id"), ""
            if self.refuse is not None and self.refuse(event):
                return 400, _invalid(f"event {event['event']!r} is invalid"), ""
        historical = bool(payload.get("historical_migration"))
        with self._lock:
            self._accepted_requests += 1
            number = self._accepted_requests
            if self.keep:
                self.bodies.append(body)
            for event in batch:
                if not _acceptable(event, self.max_event_bytes):
                    self.discarded.append(event)
                    continue
                self.accepted_count += 1
                if self.keep:
                    self.events.append(Received(event, historical, number))
        return 200, {"status": 1}, ""

    def _listen(self, port: int) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: "down" is clean

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > owner.max_body:
                    # Read and thrown away, so the client is not cut off mid-send, then refused.
                    while length > 0:
                        length -= len(self.rfile.read(min(length, 1 << 20)) or b"\0" * length)
                    self._reply(413, _error(413), "")
                    return
                body = self.rfile.read(length)
                status, answer, retry_after = owner.answer(self.path, self.headers, body)
                self._reply(status, answer, retry_after)

            def do_GET(self) -> None:
                if self.path == "/_counts":
                    with owner._lock:
                        counts = {
                            "events": owner.accepted_count,
                            "requests": owner._accepted_requests,
                        }
                    self._reply(200, counts, "")
                else:
                    self._reply(404, {"detail": "not found"}, "")

            def _reply(self, status: int, answer: dict[str, Any], retry_after: str) -> None:
                with owner._lock:
                    owner.answers[status] += 1
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        # shutdown() (close) waits for the loop's next poll: 0.5 s by default, a test's each
        serving = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="posthog-server",
            daemon=True,
        )
        serving.start()
        return server


def _distinct_id(event: dict[str, Any]) -> Any:
    properties = event.get("properties")
    from_properties = properties.get("distinct_id") if isinstance(properties, dict) else None
    return event.get("distinct_id") or from_properties


def _acceptable(event: dict[str, Any], max_event_bytes: int) -> bool:
    if len(json.dumps(event).encode()) > max_event_bytes:
        return False
    found = event.get("uuid")
    if found is None:
        return True
    try:
        uuid.UUID(str(found))
    except ValueError:
        return False
    return True


def _inflate(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, limit + 1)
    if len(data) > limit:
        raise ValueError("inflated body over the limit")
    if not inflater.eof:
        raise zlib.error("truncated gzip body")
    return data


def _invalid(detail: str) -> dict[str, Any]:
    return {"type": "validation_error", "code": "invalid_payload", "detail": detail}


def _error(status: int) -> dict[str, Any]:
    details = {
        401: ("authentication_error", "invalid_api_key", "Project API key invalid."),
        413: ("validation_error", "payload_too_large", "Payload too large."),
        429: ("rate_limited", "rate_limited", "Too many requests."),
        503: ("server_error", "unavailable", "Service unavailable."),
    }
    kind, code, detail = details.get(status, ("server_error", "error", f"status {status}"))
    return {"type": kind, "code": code, "detail": detail}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default="phc_test_key")
    args = parser.parse_args(argv)
    server = PostHogServer(args.api_key, keep=False, port=args.port)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
