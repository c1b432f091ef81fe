"""Decoding OTLP bodies: text that is not valid Unicode becomes U+FFFD instead of costing the
batch (a lone surrogate in JSON, bad UTF-8 in a protobuf string), as the Collector does."""

from __future__ import annotations

import json

import pytest

from bot_telemetry.receive import otlp
from bot_telemetry.receive.otlp import OtlpError, Signal
from bot_telemetry.store.rows import spans_batch
from tests.support.otlp_messages import spans_request

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def json_trace(name: str, attribute: str) -> bytes:
    """An OTLP/JSON trace whose span name and one attribute are given as raw JSON text."""
    span = (
        f'{{"traceId":"{TRACE_ID}","spanId":"eee19b7ec3c1b174","name":{name},'
        f'"startTimeUnixNano":"1","endTimeUnixNano":"2",'
        f'"attributes":[{{"key":{attribute},"value":{{"stringValue":{attribute}}}}}]}}'
    )
    return f'{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}'.encode()


def test_lone_surrogates_in_json_become_replacement_characters() -> None:
    body = json_trace(r'"cut \ud83d"', r'"k\udc00"')
    batch = spans_batch(otlp.decode(Signal.TRACES, body, "json"))
    assert batch.spans["name"] == ["cut \ufffd"]
    assert json.loads(batch.spans["attributes"][0]) == {"k\ufffd": "k\ufffd"}


def test_paired_surrogates_in_json_stay_one_character() -> None:
    body = json_trace(r'"smile \ud83d\ude00"', r'"\u00e9"')
    batch = spans_batch(otlp.decode(Signal.TRACES, body, "json"))
    assert batch.spans["name"] == ["smile \U0001f600"]
    assert json.loads(batch.spans["attributes"][0]) == {"é": "é"}


def test_invalid_utf8_in_json_text_becomes_replacement_characters() -> None:
    body = json_trace('"caf\xe9"', '"k"').replace(b"caf\xc3\xa9", b"caf\xe9")
    batch = spans_batch(otlp.decode(Signal.TRACES, body, "json"))
    assert batch.spans["name"] == ["caf\ufffd"]


def test_bad_utf8_in_protobuf_strings_is_repaired_at_any_depth() -> None:
    request = spans_request(
        [{"name": "AAAA", "attributes": {"BBBB": "CCCC", "list": ["DDDD", {"EEEE": 1}]}}],
        service="FFFF",
    )
    raw = request.SerializeToString()
    for marker in (b"AAAA", b"BBBB", b"CCCC", b"DDDD", b"EEEE", b"FFFF"):
        raw = raw.replace(marker, b"\xed\xa0\x80X")  # a UTF-8-encoded lone surrogate
    batch = spans_batch(otlp.decode(Signal.TRACES, raw, "protobuf"))
    bad = "\ufffd\ufffd\ufffdX"
    assert batch.spans["name"] == [bad]
    assert batch.spans["service_name"] == [bad]
    assert json.loads(batch.spans["attributes"][0]) == {bad: bad, "list": [bad, {bad: 1}]}
    # Bytes fields (ids) are never touched.
    assert batch.spans["trace_id"] == [
        request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    ]


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\x05\x0a\x03\xed"])
def test_bytes_that_are_not_protobuf_are_still_refused(body: bytes) -> None:
    with pytest.raises(OtlpError) as refused:
        otlp.decode(Signal.TRACES, body, "protobuf")
    assert refused.value.status == 400
