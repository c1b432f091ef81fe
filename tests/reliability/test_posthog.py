"""PostHog through the sample's real processes (channel, bot, nlu, qna, each exporting to
PostHog itself with POSTHOG_API_KEY / POSTHOG_HOST, and OTLP to a recording backend in front
of ``bot-telemetry serve``), against a local server speaking PostHog's capture protocol.

- After forced 503s every event the bot recorded arrives once, with the uuid the store's
  copy of it gives; under the default policy nothing personal is in any PostHog request.
- With PostHog down the whole run, every turn is answered, and every event is counted as
  dropped (the ``bot_telemetry.telemetry.dropped`` metric, signal ``posthog``), none lost
  without a count."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp

from bot_telemetry.posthog import EventRecord, event_uuid
from tests.privacy.test_corpus import CORPUS, NAMES, PATTERNED
from tests.reliability.backend import Backend
from tests.reliability.stack import (
    collector,
    drive,
    exporting_to,
    sample_stack,
    say,
    start_conversation,
    stored,
)
from tests.reliability.test_privacy import BOOKING, forms
from tests.support.posthog import PostHogServer


async def converse(channel: str) -> int:
    answered = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        for user_id, name, text in CORPUS:
            conversation = await start_conversation(http, channel, user_id, name)
            for message in (text, *(m.format(name=name) for m in BOOKING)):
                turn = await say(http, channel, conversation, message)
                assert (turn.status, turn.bot_status) == (200, 201) and turn.replies
                answered += 1
    return answered


def test_every_event_arrives_once_after_retries_and_nothing_personal(tmp_path: Path) -> None:
    posthog = PostHogServer()
    # The first requests fail: the senders must retry (a 503 backs off, 429s wait as told).
    posthog.fail_next(503, times=1)
    posthog.fail_next(429, times=2, retry_after="0")
    store = tmp_path / "telemetry.duckdb"
    try:
        with collector(store) as serve:
            backend = Backend(forward_to=serve.url)
            try:
                env = exporting_to(
                    backend.url,
                    POSTHOG_API_KEY=posthog.api_key,
                    POSTHOG_HOST=posthog.url,
                    OTEL_BSP_SCHEDULE_DELAY="200",
                )
                with sample_stack(tmp_path, env) as stack:
                    answered = asyncio.run(converse(stack.urls["channel"]))
                # Every process flushed on SIGTERM.
            finally:
                backend.close()
    finally:
        posthog.close()
    assert answered == len(CORPUS) * (1 + len(BOOKING))
    assert (posthog.answers[503], posthog.answers[429]) == (1, 2) and posthog.answers[200] >= 1

    got = [r for r in posthog.received() if r.properties.get("service") == "bot"]
    assert Counter(r.name for r in got) == Counter(
        {name: n for (service, name), n in backend.received.events.items() if service == "bot"}
    )
    assert len(posthog.collapsed()) == len(posthog.received()), "an event arrived twice"
    rows = stored(
        store,
        "SELECT event_name, time_ns, trace_id, span_id FROM logs "
        "WHERE event_name IS NOT NULL AND service_name = 'bot'",
    )
    expected = {
        str(event_uuid(EventRecord(name, time_ns, trace_id, span_id, {}, "bot")))
        for name, time_ns, trace_id, span_id in rows
    }
    assert {r.uuid for r in got} == expected

    # Pseudonymous users: as many as conversations, none of them a real id.
    users = {r.distinct_id for r in got if r.name == "BotMessageReceived"}
    assert len(users) == len(CORPUS)
    assert not users & {user for user, _, _ in CORPUS}
    assert all("$session_id" in r.properties for r in got)
    wire = posthog.wire()
    secrets = [v for v in [*PATTERNED, *NAMES, *(u for u, _, _ in CORPUS if "@" in u)]]
    leaked = sorted({v for v in secrets for form in forms(v) if form in wire})
    assert not leaked, f"personal data sent to PostHog: {leaked}"
    for _, _, text in CORPUS:
        assert text.encode() not in wire


def test_posthog_down_loses_nothing_uncounted_and_blocks_no_turn(tmp_path: Path) -> None:
    posthog = PostHogServer()
    posthog.down()
    backend = Backend()
    try:
        env = exporting_to(
            backend.url,
            POSTHOG_API_KEY=posthog.api_key,
            POSTHOG_HOST=posthog.url,
            POSTHOG_RETRY_SECONDS="1",
            OTEL_BSP_MAX_QUEUE_SIZE="64",
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_METRIC_EXPORT_INTERVAL="300",
        )
        with sample_stack(tmp_path, env) as stack:
            turns = asyncio.run(drive(stack.urls["channel"], 10, 6, ["when are you open?"]))
            assert stack.terminate("bot") == 0  # flushes; the final metric export follows
    finally:
        backend.close()
        posthog.close()
    assert len(turns) == 60
    assert all((t.status, t.bot_status) == (200, 201) and t.replies for t in turns)
    emitted = sum(n for (service, _), n in backend.received.events.items() if service == "bot")
    dropped = {
        reason: n
        for (service, signal, reason), n in backend.received.dropped.items()
        if service == "bot" and signal == "posthog"
    }
    assert emitted > 60
    assert sum(dropped.values()) == emitted, dropped
    assert dropped.get("queue_full", 0) > 0, "a small queue while PostHog is down overflows"
    log = stack.log("bot")
    assert log.count("telemetry export to PostHog") == 1, "one log line for the outage"
