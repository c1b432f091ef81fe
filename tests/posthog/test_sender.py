"""Delivery to a local server speaking PostHog's capture protocol: limits, retries, refusals."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from bot_telemetry.posthog import CaptureSender, EventRecord, PostHogSettings, capture_event
from bot_telemetry.privacy import PrivacyPolicy
from tests.support.posthog import PostHogServer


def settings_for(server: PostHogServer, **options: Any) -> PostHogSettings:
    return PostHogSettings(api_key=server.api_key, host=server.url, **options)


def events(count: int, **extra: Any) -> list[dict[str, Any]]:
    settings = PostHogSettings(api_key="k", host="http://h")
    start = time.time_ns()
    return [
        capture_event(
            EventRecord(
                "QnAMessage",
                start + n,
                "ab" * 16,
                "cd" * 8,
                {"enduser.pseudo.id": f"user-{n % 3}", "n": n, **extra},
                "bot",
            ),
            settings,
            PrivacyPolicy(),
        )
        for n in range(count)
    ]


def test_a_batch_arrives_gzipped_with_every_field(posthog_server: PostHogServer) -> None:
    sent = events(5)
    delivery = CaptureSender(settings_for(posthog_server)).send(sent)
    assert (delivery.delivered, delivery.dropped) == (5, {})
    got = posthog_server.received()
    assert [r.uuid for r in got] == [e["uuid"] for e in sent]
    assert [r.event for r in got] == sent
    assert not any(r.historical for r in got)
    assert posthog_server.answers == {200: 1}


def test_503_is_retried_and_every_event_arrives_once(posthog_server: PostHogServer) -> None:
    posthog_server.fail_next(503, times=2)
    sent = events(20)
    delivery = CaptureSender(settings_for(posthog_server)).send(sent)
    assert delivery.delivered == 20 and not delivery.dropped
    assert posthog_server.answers == {503: 2, 200: 1}
    assert sorted(r.uuid or "" for r in posthog_server.received()) == sorted(
        e["uuid"] for e in sent
    )


def test_429_waits_as_long_as_retry_after_says(posthog_server: PostHogServer) -> None:
    posthog_server.fail_next(429, times=1, retry_after="2")
    started = time.monotonic()
    delivery = CaptureSender(settings_for(posthog_server)).send(events(3))
    waited = time.monotonic() - started
    assert delivery.delivered == 3
    assert 2.0 <= waited < 10, waited  # not the 0.5 s the first backoff step would be


def test_a_bad_key_is_not_retried_and_says_so(posthog_server: PostHogServer) -> None:
    sender = CaptureSender(PostHogSettings(api_key="phc_wrong", host=posthog_server.url))
    delivery = sender.send(events(4))
    assert delivery.failed == 4 and delivery.delivered == 0
    assert posthog_server.answers == {401: 1}
    assert "POSTHOG_API_KEY" in delivery.reason and "401" in delivery.reason
    assert delivery.status == 401  # the outage line then says the key was refused


def test_a_refused_event_is_dropped_alone_with_one_log_line(
    posthog_server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    posthog_server.refuse = lambda event: event["properties"].get("n") in (3, 11)
    sender = CaptureSender(settings_for(posthog_server))
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.posthog"):
        delivery = sender.send(events(16))
    assert delivery.delivered == 14 and delivery.dropped == {"rejected": 2}
    kept = sorted(r.properties["n"] for r in posthog_server.received())
    assert kept == [n for n in range(16) if n not in (3, 11)]
    lines = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(lines) == 1 and "QnAMessage" in lines[0].getMessage()


def test_an_oversized_event_is_dropped_and_the_rest_go(posthog_server: PostHogServer) -> None:
    sent = events(3)
    sent[1]["properties"]["blob"] = "x" * 950_000
    delivery = CaptureSender(settings_for(posthog_server)).send(sent)
    assert delivery.delivered == 2 and delivery.dropped == {"too_large": 1}
    assert [r.uuid for r in posthog_server.received()] == [sent[0]["uuid"], sent[2]["uuid"]]


def test_batches_stay_under_the_body_limit_and_413_splits() -> None:
    # A proxy in front of PostHog that takes smaller bodies than our batches: 413, then halves.
    server = PostHogServer(max_body=60_000)
    try:
        sent = events(200, padding="p" * 900)  # about 1.3 kB each, 260 kB in all
        delivery = CaptureSender(settings_for(server), max_batch_bytes=400_000).send(sent)
        assert delivery.delivered == 200 and not delivery.dropped
        assert server.answers[413] >= 1
        assert len({r.uuid for r in server.received()}) == 200
        # With our own limit under the server's, no request is refused.
        again = PostHogServer(max_body=60_000)
        try:
            CaptureSender(settings_for(again), max_batch_bytes=50_000).send(sent)
            assert 413 not in again.answers and len(again.received()) == 200
        finally:
            again.close()
    finally:
        server.close()


def test_down_is_retried_within_the_budget_then_counted(posthog_server: PostHogServer) -> None:
    posthog_server.down()
    sender = CaptureSender(settings_for(posthog_server, retry_seconds=1.0))
    started = time.monotonic()
    delivery = sender.send(events(7))
    assert delivery.failed == 7 and "no answer" in delivery.reason
    assert 0.4 < time.monotonic() - started < 5


def test_stop_retrying_ends_a_backoff_at_once(posthog_server: PostHogServer) -> None:
    posthog_server.fail_next(503, times=100)
    sender = CaptureSender(settings_for(posthog_server, retry_seconds=60))
    threading.Timer(0.3, sender.stop_retrying).start()
    started = time.monotonic()
    delivery = sender.send(events(2))
    assert delivery.failed == 2
    assert time.monotonic() - started < 3


def test_historical_migration_is_flagged(posthog_server: PostHogServer) -> None:
    CaptureSender(settings_for(posthog_server)).send(events(2), historical=True)
    assert [r.historical for r in posthog_server.received()] == [True, True]
