"""Hostile input to the sample bot as a real process: every invalid W3C trace header, bodies
that are not JSON or not an activity, activities missing fields, huge text. The bot must
answer each exactly as botbuilder alone does (a CloudAdapter echo bot without telemetry,
also a real process), valid turns must still be answered, and no exception from
bot-telemetry may reach a turn (the bot's log holds no traceback through our code)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.reliability.backend import Backend
from tests.reliability.stack import Stack, exporting_to, sample_stack, start_conversation
from tests.support.ports import free_port
from tests.support.processes import RunningProcess, running
from tests.support.waiting import wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
VALID_TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@dataclass
class Bots:
    stack: Stack
    plain: RunningProcess
    plain_url: str
    backend: Backend


@pytest.fixture(scope="module")
def bots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bots]:
    backend = Backend()
    port = free_port()
    env = exporting_to(backend.url, OTEL_BSP_SCHEDULE_DELAY="100")
    try:
        with (
            sample_stack(tmp_path_factory.mktemp("bot-input"), env) as stack,
            running(
                ["-m", "tests.reliability.plain_bot", "--port", str(port)],
                ready_url=f"http://127.0.0.1:{port}/health",
            ) as plain,
        ):
            yield Bots(stack, plain, f"http://127.0.0.1:{port}", backend)
            raised = raised_in_bot_telemetry(stack.log("bot"))
            assert not raised, "exceptions raised in bot-telemetry:\n" + "\n\n".join(raised)
    finally:
        backend.close()


def raised_in_bot_telemetry(log: str) -> list[str]:
    """Tracebacks whose innermost frame is in bot_telemetry. Exceptions that only pass
    through its middleware (botbuilder's own, the bot's own) do not count."""
    found, block, innermost = [], [], ""
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last)"):
            block, innermost = [line], ""
        elif block and line.startswith("  "):
            block.append(line)
            if line.lstrip().startswith("File "):
                innermost = line
        elif block:
            block.append(line)  # the exception itself
            if "/bot_telemetry/" in innermost:
                found.append("\n".join(block))
            block = []
    return found


def new_conversation(bots: Bots) -> str:
    import asyncio

    import aiohttp

    async def start() -> str:
        async with aiohttp.ClientSession() as session:
            return await start_conversation(session, bots.stack.urls["channel"], "hostile")

    return asyncio.run(start())


def activity(conversation_id: str, channel_url: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "message",
        "id": f"act-{conversation_id}",
        "channelId": "sample-channel",
        "serviceUrl": channel_url,
        "conversation": {"id": conversation_id},
        "from": {"id": "hostile-user", "name": "Mallory"},
        "recipient": {"id": "sample-bot", "name": "Sample Bot"},
        "text": "when are you open?",
        "locale": "en-US",
    }
    for key, value in changes.items():
        if value is DROP:
            base.pop(key, None)
        else:
            base[key] = value
    return base


DROP = object()


def post(url: str, body: bytes, headers: list[tuple[str, str]]) -> int:
    target = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    try:
        connection.putrequest("POST", "/api/messages")
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def replies(bots: Bots, conversation: str) -> list[dict[str, Any]]:
    url = f"{bots.stack.urls['channel']}/driver/conversations/{conversation}/replies"
    with urllib.request.urlopen(url, timeout=10) as response:
        found: list[dict[str, Any]] = json.loads(response.read())["replies"]
        return found


JSON = [("Content-Type", "application/json")]
# W3C Trace Context's invalid traceparent cases (test suite and specification).
INVALID_TRACEPARENTS = [
    f"ff-{TRACE_ID}-00f067aa0ba902b7-01",  # version ff
    f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",  # upper-case hex
    f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
    f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
    f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01",  # trace id too short
    f"00-{TRACE_ID}0-00f067aa0ba902b7-01",  # trace id too long
    f"00-{TRACE_ID}-00f067aa0ba902b-01",  # parent id too short
    f"00-{TRACE_ID}-00f067aa0ba902b7-1",  # flags one digit
    f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra",  # version 00 with more fields
    f"0-{TRACE_ID}-00f067aa0ba902b7-01",  # version one digit
    f"00-{TRACE_ID[:-1]}g-00f067aa0ba902b7-01",  # non-hex character
    f"00_{TRACE_ID}_00f067aa0ba902b7_01",  # wrong delimiter
    f"00-{TRACE_ID}-00f067aa0ba902b7-0g",  # non-hex flags
    f"cc-{TRACE_ID}-00f067aa0ba902b7-01.",  # future version, bad suffix
    "",  # empty
    "00-" + "a" * 4000,  # long garbage
]
HEADER_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    *[
        (f"traceparent {index}: {value[:40]!r}", [("traceparent", value)])
        for index, value in enumerate(INVALID_TRACEPARENTS)
    ],
    (
        "two different traceparents",
        [("traceparent", VALID_TRACEPARENT), ("traceparent", f"00-{'1' * 32}-{'2' * 16}-01")],
    ),
    (
        "tracestate with invalid keys",
        [("traceparent", VALID_TRACEPARENT), ("tracestate", "UPPER=1,=empty,k=v=w,@@@=x")],
    ),
    (
        "tracestate with 40 members",
        [
            ("traceparent", VALID_TRACEPARENT),
            ("tracestate", ",".join(f"k{i}=v" for i in range(40))),
        ],
    ),
    (
        "tracestate duplicated keys",
        [("traceparent", VALID_TRACEPARENT), ("tracestate", "a=1,a=2"), ("tracestate", "a=3")],
    ),
    ("tracestate 7 kB", [("traceparent", VALID_TRACEPARENT), ("tracestate", "k=" + "v" * 7000)]),
    ("baggage malformed", [("baggage", "=;;==,,%zz=%%,key")]),
    ("baggage 7 kB", [("baggage", ",".join(f"k{i}={'v' * 60}" for i in range(100)))]),
    ("Request-Id garbage", [("Request-Id", "|@@@.&&&.")]),
    (
        "Request-Id and invalid traceparent",
        [("Request-Id", f"|{TRACE_ID}.1."), ("traceparent", INVALID_TRACEPARENTS[0])],
    ),
]


@pytest.mark.parametrize(("case", "headers"), HEADER_CASES, ids=[c for c, _ in HEADER_CASES])
def test_malformed_trace_headers(bots: Bots, case: str, headers: list[tuple[str, str]]) -> None:
    statuses, conversations = {}, {}
    for name, url in (("sample", bots.stack.urls["bot"]), ("plain", bots.plain_url)):
        conversation = conversations[name] = new_conversation(bots)
        body = json.dumps(activity(conversation, bots.stack.urls["channel"])).encode()
        statuses[name] = post(url, body, [*JSON, *headers])
    assert statuses["sample"] == statuses["plain"] == 201, statuses
    answered = replies(bots, conversations["sample"])
    assert answered[-1]["text"].startswith("We are open"), answered

    def turn_exported() -> bool:
        bots.stack.flush("bot")
        return conversations["sample"] in bots.backend.received.turn_conversations

    wait_for(turn_exported, timeout=10, what="the turn's telemetry")


HUGE = "x" * 900_000


BODY_CASES: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("not JSON", b"{not json", JSON),
    ("empty body", b"", JSON),
    ("JSON null", b"null", JSON),
    ("JSON list", b"[1, 2]", JSON),
    ("JSON string", b'"hello"', JSON),
    ("not UTF-8", b"\xff\xfe{\x00", JSON),
    (
        "deeply nested channelData",
        lambda c, s: b'{"type": "message", "channelData": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        JSON,
    ),
    ("no type", {"type": DROP}, JSON),
    ("unknown type", {"type": "bogus"}, JSON),
    ("only a type", lambda c, s: b'{"type": "message"}', JSON),
    ("no conversation", {"conversation": DROP}, JSON),
    # (No serviceUrl at all sends botbuilder to api.botframework.com, off loopback; an
    # unreachable one costs botbuilder's connector 10 s of retries. Neither adds a case.)
    ("serviceUrl not a URL", {"serviceUrl": "not a url"}, JSON),
    ("no from", {"from": DROP}, JSON),
    ("no recipient", {"recipient": DROP}, JSON),
    ("no channelId", {"channelId": DROP}, JSON),
    ("no id", {"id": DROP}, JSON),
    ("text a number", {"text": 12345}, JSON),
    ("text an object", {"text": {"nested": ["a"]}}, JSON),
    ("text null", {"text": None}, JSON),
    ("conversation id a number", {"conversation": {"id": 42}}, JSON),
    ("from a string", {"from": "mallory"}, JSON),
    ("timestamp garbage", {"timestamp": "yesterday at noon"}, JSON),
    ("entities garbage", {"entities": [1, "two", {"type": 3}]}, JSON),
    ("attachments garbage", {"attachments": "nope"}, JSON),
    ("locale garbage", {"locale": "\u202e\x00" * 100}, JSON),
    ("text with control characters", {"text": "\x00\x1b[31m\u202e when are you open?"}, JSON),
    ("huge text (900 kB)", {"text": HUGE}, JSON),
    ("over aiohttp's body limit (2 MB)", {"text": "y" * 2_000_000}, JSON),
    ("wrong content type", {}, [("Content-Type", "text/plain")]),
    ("no content type", {}, []),
]


@pytest.mark.parametrize(
    ("case", "change", "headers"), BODY_CASES, ids=[c for c, _, _ in BODY_CASES]
)
def test_invalid_activities(
    bots: Bots, case: str, change: Any, headers: list[tuple[str, str]]
) -> None:
    statuses, conversations = {}, {}
    for name, url in (("sample", bots.stack.urls["bot"]), ("plain", bots.plain_url)):
        conversation = conversations[name] = new_conversation(bots)
        service_url = bots.stack.urls["channel"]
        if isinstance(change, bytes):
            body = change
        elif callable(change):
            body = change(conversation, service_url)
        else:
            body = json.dumps(activity(conversation, service_url, **change)).encode()
        statuses[name] = post(url, body, headers)
    assert statuses["sample"] == statuses["plain"], statuses
    if statuses["plain"] in (200, 201):
        # botbuilder ran the turn; so did the sample bot, and it answered if it could.
        plain_replied = replies(bots, conversations["plain"])[1:]
        if plain_replied:
            assert replies(bots, conversations["sample"])[1:], case
    print(f"\n{case}: {statuses['sample']}")
