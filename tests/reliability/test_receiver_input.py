"""Hostile input to the OTLP receiver of a real ``bot-telemetry serve`` process, generated
with hypothesis: random bytes, truncated and mutated protobuf, deeply nested JSON, any
content type, gzip bombs, huge attribute values, 100k attributes. The answer is always
200 or a clear 4xx (a ``google.rpc.Status`` with a reason), never a crash or a 5xx, and
the process's memory stays bounded."""

from __future__ import annotations

import functools
import gzip
import json
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.rpc import status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.reliability.stack import serve_args
from tests.support.ports import free_port
from tests.support.processes import RunningProcess, running

MAX_BODY_MB = 4
PATHS = ("/v1/traces", "/v1/logs", "/v1/metrics")
OTLP_TYPES = ("application/x-protobuf", "application/protobuf", "application/json")
# Parsing a 4 MiB body, its rows and one transaction take memory for a moment; an unbounded
# inflate or a leak per request would take far more over a few hundred requests.
RSS_GROWTH_LIMIT = 160 * 1024 * 1024
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Receiver:
    process: RunningProcess
    url: str
    baseline_rss: int

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        request = urllib.request.Request(f"{self.url}{path}", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read(), response.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get("Content-Type", "")


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    port = free_port()
    store = tmp_path_factory.mktemp("hostile") / "telemetry.duckdb"
    args = [*serve_args(port, store), "--max-body-mb", str(MAX_BODY_MB)]
    with running(args, ready_url=f"http://127.0.0.1:{port}/api/health") as process:
        found = Receiver(process, f"http://127.0.0.1:{port}", 0)
        found.post("/v1/traces", valid_export(), {"Content-Type": "application/x-protobuf"})
        found.baseline_rss = found.rss()
        yield found
        # After everything the module threw at it: alive, bounded, and no traceback logged.
        assert process.process.poll() is None
        print(
            f"\nserve RSS: {found.baseline_rss / 2**20:.1f} MiB before, "
            f"{found.rss() / 2**20:.1f} MiB after the hostile requests"
        )
        assert found.rss() - found.baseline_rss < RSS_GROWTH_LIMIT, (
            found.rss(),
            found.baseline_rss,
        )
        assert "Traceback" not in process.output(), process.output()[-3000:]


def valid_export(spans: int = 3) -> bytes:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("hostile")
    for index in range(spans):
        with tracer.start_as_current_span(f"span {index}", attributes={"index": index}) as span:
            span.add_event("BotMessageReceived", {"conversationId": f"c-{index}"})
    return encode_spans(exporter.get_finished_spans()).SerializeToString()


VALID = valid_export()


def assert_clear(status: int, body: bytes, content_type: str, allowed: set[int]) -> None:
    assert status in allowed, (status, body[:300])
    if status >= 400:
        if content_type.startswith("application/json"):
            message = json.loads(body)["message"]
        else:
            message = status_pb2.Status.FromString(body).message
        assert message, "a refusal must say why"


@FUZZ
@given(
    body=st.binary(max_size=4096),
    path=st.sampled_from(PATHS),
    content_type=st.sampled_from(OTLP_TYPES),
    encoding=st.sampled_from([None, "gzip", "identity"]),
)
def test_random_bytes(
    receiver: Receiver, body: bytes, path: str, content_type: str, encoding: str | None
) -> None:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    status, answer, answered_type = receiver.post(path, body, headers)
    # Random bytes can be a valid (mostly empty) protobuf message: 200 is an answer too.
    assert_clear(status, answer, answered_type, {200, 400})


@FUZZ
@given(
    cut=st.integers(min_value=0, max_value=len(VALID) - 1),
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=4),
    gzipped=st.booleans(),
)
def test_truncated_and_mutated_protobuf(
    receiver: Receiver, cut: int, flips: list[tuple[int, int]], gzipped: bool
) -> None:
    body = bytearray(VALID)
    for position, value in flips:
        body[position] = value
    sent = bytes(body[:cut])
    headers = {"Content-Type": "application/x-protobuf"}
    if gzipped:
        # A gzip stream cut short as well: the compressed form of the whole, truncated.
        sent = gzip.compress(bytes(body))[: max(1, cut)]
        headers["Content-Encoding"] = "gzip"
    status, answer, answered_type = receiver.post("/v1/traces", sent, headers)
    assert_clear(status, answer, answered_type, {200, 400})


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=300_000),
    shape=st.sampled_from(["list", "object", "kvlist"]),
)
def test_deeply_nested_json(receiver: Receiver, depth: int, shape: str) -> None:
    if shape == "list":
        body = b"[" * depth + b"]" * depth
    elif shape == "object":
        body = b'{"a":' * depth + b"1" + b"}" * depth
    else:  # nested attribute values inside an otherwise valid export
        value = '{"stringValue":"x"}'
        for _ in range(min(depth, 2_000)):
            value = '{"kvlistValue":{"values":[{"key":"k","value":' + value + "}]}}"
        body = (
            '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + "0" * 31 + '1",'
            '"spanId":"' + "0" * 15 + '1","name":"deep","attributes":[{"key":"k",'
            '"value":' + value + "}]}]}]}]}"
        ).encode()
    status, answer, answered_type = receiver.post(
        "/v1/traces", body, {"Content-Type": "application/json"}
    )
    assert_clear(status, answer, answered_type, {200, 400, 413})


@FUZZ
@given(
    content_type=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
)
def test_any_content_type(receiver: Receiver, content_type: str) -> None:
    status, answer, answered_type = receiver.post(
        "/v1/traces", VALID, {"Content-Type": content_type}
    )
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("application/x-protobuf", "application/protobuf"):
        assert status == 200
    else:
        assert_clear(status, answer, answered_type, {400, 415})
        if media != "application/json":
            assert status == 415


@functools.cache
def gzip_bomb(inflated_mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    return b"".join([*(packer.compress(zeros) for _ in range(inflated_mib)), packer.flush()])


@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/json"])
def test_gzip_bombs_are_refused_before_they_inflate(receiver: Receiver, content_type: str) -> None:
    bomb = gzip_bomb(1024)  # 1 GiB of zeros in about 1 MiB
    status, answer, answered_type = receiver.post(
        "/v1/traces", bomb, {"Content-Type": content_type, "Content-Encoding": "gzip"}
    )
    assert_clear(status, answer, answered_type, {413})
    assert receiver.rss() - receiver.baseline_rss < RSS_GROWTH_LIMIT


def one_span_with(attributes: list[KeyValue]) -> bytes:
    request = ExportTraceServiceRequest.FromString(VALID)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    del span.attributes[:]
    span.attributes.extend(attributes)
    return request.SerializeToString()


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param(
            [KeyValue(key="huge", value=AnyValue(string_value="x" * 3_500_000))],
            id="a 3.5 MB value",
        ),
        pytest.param(
            [
                KeyValue(key=f"k{index}", value=AnyValue(int_value=index))
                for index in range(100_000)
            ],
            id="100k attributes",
        ),
        pytest.param(
            [KeyValue(key="k" * 1_000_000, value=AnyValue(bool_value=True))], id="a 1 MB key"
        ),
    ],
)
def test_huge_attributes_are_stored_or_refused_clearly(
    receiver: Receiver, attributes: list[KeyValue]
) -> None:
    status, answer, answered_type = receiver.post(
        "/v1/traces", one_span_with(attributes), {"Content-Type": "application/x-protobuf"}
    )
    assert_clear(status, answer, answered_type, {200, 413})
    assert receiver.rss() - receiver.baseline_rss < RSS_GROWTH_LIMIT
    # The UI's query over that span still answers.
    with urllib.request.urlopen(f"{receiver.url}/api/traces", timeout=30) as response:
        assert response.status == 200
