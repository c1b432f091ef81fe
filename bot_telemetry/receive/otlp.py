"""Decode OTLP/HTTP request bodies (protobuf or JSON, optionally gzip) into the official messages.

The JSON encoding differs from protobuf's canonical JSON in one way that matters: trace and
span ids are hex strings, not base64 (OTLP specification, "JSON Protobuf Encoding"). We turn
them into base64 before handing the document to ``json_format`` so any SDK's JSON decodes.

Text that is not valid Unicode is repaired, not refused, as the OpenTelemetry Collector does:
a lone surrogate in OTLP/JSON (``"\\ud83d"``, half an emoji cut by a JavaScript SDK) and bytes
that are not UTF-8 in a protobuf string field both become U+FFFD, so one bad string does not
cost the whole batch.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from .ports import DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT
from .unicode import REPLACEMENT, SURROGATE, may_hold_surrogates

Encoding = Literal["protobuf", "json"]


PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPES = frozenset({"application/json"})

# Keys whose values are ids: hex in OTLP/JSON, bytes in protobuf.
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


class Signal(Enum):
    """One OTLP signal: its request and response message types."""

    TRACES = (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    )
    LOGS = (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse)
    METRICS = (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    )

    def request(self) -> Message:
        message: Message = self.value[0]()
        return message

    def response(self) -> Message:
        message: Message = self.value[1]()
        return message


@dataclass(frozen=True)
class OtlpError(Exception):
    """A request we refuse, with the HTTP status and a reason a person can act on."""

    status: int
    reason: str

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


def encoding_of(content_type: str | None) -> Encoding:
    """The OTLP encoding named by a Content-Type header, or a 415 error."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in PROTOBUF_TYPES:
        return "protobuf"
    if media_type in JSON_TYPES:
        return "json"
    shown = media_type or "none"
    raise OtlpError(
        415,
        f"unsupported content type {shown!r}: send application/x-protobuf or application/json",
    )


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body without its Content-Encoding, refusing more than ``limit`` bytes once inflated."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding != "gzip":
        raise OtlpError(415, f"unsupported content encoding {coding!r}: send gzip or identity")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # Inflate at most one byte past the limit so a small bomb cannot fill memory.
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise OtlpError(400, f"body is not valid gzip: {error}") from error
    if len(data) > limit:
        raise OtlpError(413, f"body is over the limit of {limit} bytes once decompressed")
    if not inflater.eof:
        raise OtlpError(400, "body is not valid gzip: the stream is truncated")
    return data


def decode(signal: Signal, body: bytes, encoding: Encoding) -> Message:
    """Parse an export request, or raise a 400 saying why it cannot be parsed."""
    message = signal.request()
    if encoding == "protobuf":
        try:
            message.ParseFromString(body)
        except DecodeError as error:
            if "UTF-8" not in str(error):
                raise OtlpError(
                    400, f"body is not a valid {_name(message)} protobuf: {error}"
                ) from error
            # Rare, so the repair (a second walk over the bytes) costs nothing otherwise.
            try:
                message.ParseFromString(repair_utf8(body, message.DESCRIPTOR))
            except (DecodeError, IndexError) as again:
                raise OtlpError(
                    400, f"body is not a valid {_name(message)} protobuf: {again}"
                ) from again
        return message
    try:
        # Invalid UTF-8 in the JSON text becomes U+FFFD, as in a protobuf string.
        document = json.loads(body.decode("utf-8", "replace"))
        if not isinstance(document, dict):
            raise OtlpError(400, f"body must be a JSON object holding a {_name(message)}")
        surrogates = may_hold_surrogates(body)
        json_format.ParseDict(
            _prepare_json(document, "", surrogates), message, ignore_unknown_fields=True
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OtlpError(400, f"body is not valid JSON: {error}") from error
    except RecursionError as error:
        # Far deeper than any OTLP message can be (protobuf stops at 100 levels).
        raise OtlpError(400, "body is nested too deeply to be an OTLP message") from error
    except (json_format.ParseError, ValueError) as error:
        raise OtlpError(400, f"body is not a valid {_name(message)}: {error}") from error
    return message


def encode(message: Message, encoding: Encoding) -> tuple[bytes, str]:
    """A response body and its Content-Type in the request's encoding."""
    if encoding == "protobuf":
        return message.SerializeToString(), "application/x-protobuf"
    text = json_format.MessageToJson(message, indent=None)
    return text.encode(), "application/json"


def status_body(error: OtlpError, encoding: Encoding | None) -> tuple[bytes, str]:
    """The google.rpc.Status body OTLP/HTTP asks for on a 4xx answer."""
    # 3 is INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED (too large, too many); the HTTP status
    # carries the finer meaning.
    status = status_pb2.Status(code=8 if error.status in (413, 429) else 3, message=error.reason)
    return encode(status, encoding or "json")


def _name(message: Message) -> str:
    return str(message.DESCRIPTOR.name)


def _prepare_json(value: Any, key: str, surrogates: bool) -> Any:
    """Hex ids to base64; lone surrogates (only looked for when ``surrogates``) to U+FFFD."""
    if isinstance(value, dict):
        if surrogates:
            return {
                SURROGATE.sub(REPLACEMENT, name): _prepare_json(item, name, surrogates)
                for name, item in value.items()
            }
        return {name: _prepare_json(item, name, surrogates) for name, item in value.items()}
    if isinstance(value, list):
        return [_prepare_json(item, key, surrogates) for item in value]
    if isinstance(value, str):
        if key in _ID_KEYS and value:
            try:
                raw = bytes.fromhex(value)
            except ValueError as error:
                raise OtlpError(400, f"{key} {value!r} is not a hex string") from error
            return base64.b64encode(raw).decode()
        if surrogates:
            return SURROGATE.sub(REPLACEMENT, value)
    return value


def repair_utf8(data: bytes, descriptor: Descriptor) -> bytes:
    """The protobuf ``data`` with every string field made valid UTF-8 (bad bytes -> U+FFFD).

    A walk over the wire format guided by the message's descriptor: string fields are
    re-encoded, nested messages repaired in turn, everything else copied as it is.
    Raises DecodeError (or IndexError) when the bytes are not protobuf at all.
    """
    out = bytearray()
    position = 0
    while position < len(data):
        key, start = _varint(data, position)
        wire_type = key & 7
        if wire_type == 0:
            _, end = _varint(data, start)
        elif wire_type == 1:
            end = start + 8
        elif wire_type == 5:
            end = start + 4
        elif wire_type == 2:
            length, begin = _varint(data, start)
            end = begin + length
            if end > len(data):
                raise DecodeError("truncated length-delimited field")
            payload = data[begin:end]
            field = descriptor.fields_by_number.get(key >> 3)
            if field is not None and field.type == FieldDescriptor.TYPE_STRING:
                payload = payload.decode("utf-8", "replace").encode()
            elif field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
                payload = repair_utf8(payload, field.message_type)
            out += data[position:start] + _encode_varint(len(payload)) + payload
            position = end
            continue
        else:
            raise DecodeError(f"unsupported wire type {wire_type}")
        if end > len(data):
            raise DecodeError("truncated field")
        out += data[position:end]
        position = end
    return bytes(out)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HTTP_PORT",
    "Encoding",
    "OtlpError",
    "Signal",
    "decode",
    "decompress",
    "encode",
    "encoding_of",
    "status_body",
]
