"""The PII corpus through the whole demo stack (channel, bot, nlu, qna as processes, the bot on
each runtime: botbuilder and the Agents SDK,
``bot-telemetry serve`` behind a recording OTLP endpoint). Under the default policy no byte
of it is in any exported payload (the OTLP bodies as sent on the wire) or in the store;
with the policy opened (``BOT_TELEMETRY_LOG_PERSONAL_INFORMATION=1``) the text and names
are there, with emails, phone and card numbers redacted.

The personal data reaches the sample's telemetry every way it can: message text and the
user's name and id on each activity; the nlu and qna questions (TelemetryRecognizer,
TelemetryQnA); the sample's own events with keys no policy lists (``TableBooked``'s
``guest``, ``QuestionUnanswered``'s ``userQuestion``); and exception messages, since nlu
and qna fail now and then and the sample's errors quote the request (the nlu URL with the
user's text in its query, the qna question).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from tests.privacy.test_corpus import CORPUS, NAMES, PATTERNED
from tests.reliability.backend import Backend
from tests.reliability.stack import (
    collector,
    exporting_to,
    reading,
    sample_stack,
    say,
    start_conversation,
)
from tests.support.ports import free_port
from tests.support.processes import REPO

# The corpus as the user types it, plus a booking in which the user gives their name (having
# said no to the consent question).
BOOKING = ("book a table for 2 on friday", "no", "{name}", "yes")


def forms(value: str) -> set[bytes]:
    """The ways a value can be written in a payload: as is, URL-encoded (query strings),
    and without separators (digits of a card or phone)."""
    found = {
        value,
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        urllib.parse.quote(value, safe=""),
    }
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) >= 7:
        found.add(digits)
    return {form.encode() for form in found}


def forms_of_text(value: str) -> set[str]:
    return {form.decode() for form in forms(value)}


def text_columns(store: Path) -> bytes:
    """Every text value in the store, read back through SQL (the file may compress strings)."""
    with reading(store) as query:
        rows = query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        )
        values = []
        for table, column in rows:
            values += [
                row[0]
                for row in query(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
            ]
    return "\n".join(values).encode()


async def converse(channel: str, bot_status: int) -> int:
    answered = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        for user_id, name, text in CORPUS:
            conversation = await start_conversation(http, channel, user_id, name)
            for message in (text, f"again: {text}", *(m.format(name=name) for m in BOOKING)):
                turn = await say(http, channel, conversation, message)
                assert (turn.status, turn.bot_status) == (200, bot_status) and turn.replies
                answered += 1
    return answered


@pytest.mark.parametrize("runtime", ["botbuilder", "agents"])
@pytest.mark.parametrize("opened", [False, True], ids=["default policy", "opened policy"])
def test_the_pii_corpus_through_the_demo_stack(tmp_path: Path, opened: bool, runtime: str) -> None:
    store = tmp_path / "telemetry.duckdb"
    with collector(store) as serve:
        backend = Backend(forward_to=serve.url)
        try:
            env = exporting_to(
                backend.url,
                OTEL_METRIC_EXPORT_INTERVAL="200",
                BOT_TELEMETRY_LOG_PERSONAL_INFORMATION="1" if opened else "0",
            )
            failing = {"nlu": ["--fail-every", "7"], "qna": ["--fail-every", "3"]}
            runtime_args = ("--runtime", runtime)
            with sample_stack(tmp_path, env, bot_args=runtime_args, service_args=failing) as stack:
                # The Agents SDK's hosting answers 202 Accepted, the botbuilder sample 201.
                bot_status = 202 if runtime == "agents" else 201
                answered = asyncio.run(converse(stack.urls["channel"], bot_status))
                bot_log = stack.log("bot")
            # Every service flushed on SIGTERM, through the recording endpoint into serve.
        finally:
            backend.close()
    wire = backend.wire_bytes()
    kept = text_columns(store) + store.read_bytes()
    assert answered == len(CORPUS) * (2 + len(BOOKING))
    assert backend.received.events[("bot", "BotMessageReceived")] == answered + len(CORPUS)
    assert b"BotMessageReceived" in wire and b"BotMessageReceived" in kept
    # Every way in was taken: the sample's own events, and failures whose exceptions
    # quoted the user's words (the bot's own log, which stays on the machine, shows them).
    for signal in (b"TableBooked", b"QuestionUnanswered", b"sample_bot.http_clients.ServiceError"):
        assert signal in wire and signal in kept, signal
    assert "recognizer failed: nlu answered 503 for http" in bot_log
    assert "qna failed: qna answered 503 to " in bot_log
    quoted = [text for _, _, text in CORPUS if any(f in bot_log for f in forms_of_text(text))]
    assert quoted, "no exception message quoted a corpus message"
    print(
        f"\n{'opened' if opened else 'default'} policy: searched {len(wire):,} bytes sent in "
        f"{len(backend.bodies)} exports and a {store.stat().st_size:,}-byte store for "
        f"{len(PATTERNED) + len(NAMES)} values in {len(CORPUS)} conversations"
    )

    secrets = {
        form: value
        for value in [*PATTERNED, *(user for user, _, _ in CORPUS if "@" in user)]
        for form in forms(value)
    }
    leaked = sorted({value for form, value in secrets.items() if form in wire or form in kept})
    assert not leaked, f"redacted or pseudonymous values found: {leaked}"

    names_found = sorted(name for name in NAMES if name.encode() in wire)
    texts_found = [
        text
        for _, _, text in CORPUS
        if any(word.encode() in wire for word in ("flight", "password"))
    ]
    if not opened:
        names_kept = sorted(name for name in NAMES if name.encode() in kept)
        assert names_found == names_kept == [], "names left the bot under the default policy"
        for _, _, text in CORPUS:
            assert text.encode() not in wire
        # Nothing personal is sent redacted either, but for the booking's confirm question:
        # its text quotes the name the user gave, replaced (PromptAnswered's questionTitle).
        quoted_name = b"under the name [REDACTED]. Shall I book it?"
        assert wire.count(b"[REDACTED]") == wire.count(quoted_name) > 0
    else:
        # Opened: text and names are recorded (on the wire and in the store) and redacted.
        assert names_found == sorted(NAMES)
        assert sorted(name for name in NAMES if name.encode() in kept) == sorted(NAMES)
        assert texts_found and b"[REDACTED]" in wire and b"[REDACTED]" in kept
        assert b"My card is [REDACTED], book a flight to Houston" in wire
        # the exceptions' messages are recorded too, redacted (URL-encoded text included)
        assert b"nlu answered 503 for" in wire and b"qna answered 503 to" in wire


def test_an_unclear_switch_stops_the_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sample_bot.nlu", "--port", str(free_port())],
        cwd=REPO,
        env={**os.environ, "BOT_TELEMETRY_LOG_PERSONAL_INFORMATION": "maybe"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "BOT_TELEMETRY_LOG_PERSONAL_INFORMATION='maybe'" in done.stderr
