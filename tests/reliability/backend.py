"""A telemetry backend the test controls: a real OTLP/HTTP endpoint on loopback.

It answers as the test says (accept, 500, 429 with Retry-After, hang, or not listen at
all), keeps every body it was sent (the bytes on the wire, for the privacy searches) and
decodes what it accepted. With ``forward_to`` it passes accepted exports on to
``bot-telemetry serve`` and answers with the store's answer, so the test has both the wire
bytes and a store. It also speaks Application Insights' ingestion (``POST /v2.1/track``,
gzipped JSON envelopes, answered as the service does), for the Azure Monitor exporter: an
envelope named in ``refusals`` is refused on its own, with a 206 (partial success) answer.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bot_telemetry.export.accounting import DROPPED_METRIC

ACCEPT, FAIL_500, THROTTLE_429, HANG, DOWN = "accept", "500", "429", "hang", "down"


def _service(resource: Any) -> str:
    for attribute in resource.attributes:
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return ""


def _attributes(attributes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in attributes:
        value = attribute.value
        found[attribute.key] = getattr(value, value.WhichOneof("value") or "string_value")
    return found


@dataclass
class Received:
    """What the backend accepted, decoded."""

    spans: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, span name)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, event name)
    turn_conversations: list[str] = field(default_factory=list)  # bot.turn spans' conversation
    # (service, signal, reason) -> the last cumulative value of the dropped-telemetry metric
    dropped: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # Application Insights envelopes: (base type, name), e.g. ("RemoteDependencyData", "work")
    envelopes: Counter[tuple[str, str]] = field(default_factory=Counter)


class Backend:
    def __init__(
        self, *, forward_to: str | None = None, retry_after: int = 1, hang_seconds: float = 30.0
    ) -> None:
        self.mode = ACCEPT
        self.forward_to = forward_to
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.bodies: list[bytes] = []
        self.requests: Counter[str] = Counter()  # by mode at arrival
        self.received = Received()
        #: Application Insights: envelope name (or message) -> (statusCode, message) of the
        #: error that refuses it, in a 206 answer that accepts the others.
        self.refusals: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = self._listen(0)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    # -- the test's controls --------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode == DOWN:
            self._stop_listening()
        elif self._server is None:
            self._server = self._listen(self.port)
        if mode != HANG:
            self._released.set()  # hung requests are answered (with a failure) now
        else:
            self._released.clear()
        self.mode = mode

    def close(self) -> None:
        self._released.set()
        self._stop_listening()

    def wire_bytes(self) -> bytes:
        with self._lock:
            return b"".join(self.bodies)

    # -- serving --------------------------------------------------------------------------
    def _listen(self, port: int) -> ThreadingHTTPServer:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so "down" leaves no kept-alive
            # connection being served after the listening socket is closed.
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer, headers = backend._handle(self.path, body, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a hung export's client has gone by the time it is answered

        server = Server(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        # shutdown() (close, DOWN) waits for the loop's next poll: 0.5 s by default
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return server

    def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def _handle(self, path: str, body: bytes, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        mode = self.mode
        with self._lock:
            self.bodies.append(body)
            self.requests[mode] += 1
        if mode == HANG:
            self._released.wait(self.hang_seconds)
            return 503, b"", {}  # decided on arrival: a hung export is never accepted late
        if mode == FAIL_500:
            return 500, b"", {}
        if mode == THROTTLE_429:
            return 429, b"", {"Retry-After": str(self.retry_after)}
        if re.sub("/+", "/", path) == "/v2.1/track":
            return self._track(body)
        if self.forward_to is not None:
            status, answer = self._forward(path, body, headers)
            if status != 200:
                return status, answer, {}
        else:
            answer = b""
        self._decode(path, body)
        return 200, answer, {}

    def _track(self, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        """Application Insights' ingestion: every envelope accepted but those ``refusals``
        names, which a 206 lists by index (``{"itemsReceived", "itemsAccepted", "errors":
        [{"index", "statusCode", "message"}]}``)."""
        text = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode().strip()
        items = (
            json.loads(text)
            if text.startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
        errors = []
        with self._lock:
            for index, item in enumerate(items):
                data = item.get("data", {})
                base = data.get("baseData", {})
                name = str(base.get("name") or base.get("message") or "")
                refusal = self.refusals.get(name)
                if refusal is not None:
                    status, message = refusal
                    errors.append({"index": index, "statusCode": status, "message": message})
                    continue
                self.received.envelopes[(str(data.get("baseType", "")), name)] += 1
        accepted = len(items) - len(errors)
        answer = {"itemsReceived": len(items), "itemsAccepted": accepted, "errors": errors}
        status = 206 if errors else 200
        return status, json.dumps(answer).encode(), {"Content-Type": "application/json"}

    def _forward(self, path: str, body: bytes, headers: Any) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{self.forward_to}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": headers.get("Content-Type", "application/x-protobuf")},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 503, b""

    def _decode(self, path: str, body: bytes) -> None:
        received = self.received
        if path == "/v1/traces":
            traces = ExportTraceServiceRequest.FromString(body)
            with self._lock:
                for resource_spans in traces.resource_spans:
                    service = _service(resource_spans.resource)
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            received.spans[(service, span.name)] += 1
                            if span.name == "bot.turn":
                                conversation = _attributes(span.attributes).get(
                                    "activity.conversation.id", ""
                                )
                                received.turn_conversations.append(str(conversation))
        elif path == "/v1/logs":
            logs = ExportLogsServiceRequest.FromString(body)
            with self._lock:
                for resource_logs in logs.resource_logs:
                    service = _service(resource_logs.resource)
                    for scope in resource_logs.scope_logs:
                        for record in scope.log_records:
                            name = _attributes(record.attributes).get("microsoft.custom_event.name")
                            if name:
                                received.events[(service, str(name))] += 1
        elif path == "/v1/metrics":
            metrics = ExportMetricsServiceRequest.FromString(body)
            with self._lock:
                for resource_metrics in metrics.resource_metrics:
                    service = _service(resource_metrics.resource)
                    for scope in resource_metrics.scope_metrics:
                        for metric in scope.metrics:
                            if metric.name != DROPPED_METRIC:
                                continue
                            for point in metric.sum.data_points:
                                labels = _attributes(point.attributes)
                                key = (
                                    service,
                                    str(labels.get("signal")),
                                    str(labels.get("reason")),
                                )
                                received.dropped[key] = int(point.as_int)

    def spans_of(self, service: str) -> int:
        with self._lock:
            return sum(n for (svc, _), n in self.received.spans.items() if svc == service)

    def dropped_of(self, service: str) -> int:
        with self._lock:
            return sum(n for (svc, _, _), n in self.received.dropped.items() if svc == service)
