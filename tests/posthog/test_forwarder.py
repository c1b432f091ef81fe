"""The forwarder's lines about what an outage lost: the backfill command that sends it again,
from the oldest event lost, also for events still queued at shutdown."""

from __future__ import annotations

import logging
import shlex
import threading

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from bot_telemetry.analytics.window import parse_instant
from bot_telemetry.delivery import ExportAccounting
from bot_telemetry.posthog import EventRecord, PostHogForwarder, PostHogSettings
from tests.support.posthog import PostHogServer
from tests.support.waiting import wait_for

SECOND = 1_000_000_000
#: 2025-06-01T10:00:00Z, with a fraction: the command's --since is a whole second before it.
START = 1_748_772_000 * SECOND + 250_000_000


def record(n: int) -> EventRecord:
    attributes = {"enduser.pseudo.id": f"user-{n}"}
    return EventRecord("QnAMessage", START + n * SECOND, "ab" * 16, "cd" * 8, attributes, "bot")


def forwarder(server: PostHogServer, forward: str = "events") -> PostHogForwarder[EventRecord]:
    settings = PostHogSettings(
        api_key=server.api_key, host=server.url, retry_seconds=0, forward=forward
    )
    return PostHogForwarder(
        settings,
        ExportAccounting(MeterProvider().get_meter("test")),
        schedule_delay_millis=3_600_000,  # nothing leaves but by flush and close
        backfill_from="--store /data/telemetry.duckdb",
    )


def since_in(line: str) -> int:
    command = shlex.split(line.split("`")[1])
    assert command[:5] == [
        "bot-telemetry",
        "posthog",
        "backfill",
        "--store",
        "/data/telemetry.duckdb",
    ]
    assert command[5] == "--since"
    return parse_instant(command[6], 0)


def test_an_outage_and_its_recovery_say_to_backfill_from_the_oldest_event_lost(
    posthog_server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    sending = forwarder(posthog_server)
    posthog_server.down()
    sending.put_many([record(3), record(2)])
    assert not sending.flush()
    sending.put_many([record(1)])
    assert not sending.flush()
    posthog_server.up()
    sending.put_many([record(9)])
    assert sending.flush()
    sending.close()
    (failing,) = [r.getMessage() for r in caplog.records if "is failing" in r.getMessage()]
    (recovered,) = [r.getMessage() for r in caplog.records if "recovered" in r.getMessage()]
    assert since_in(failing) == START // SECOND * SECOND + 2 * SECOND  # lost so far
    assert since_in(recovered) == START // SECOND * SECOND + SECOND  # lost in all
    assert "3 items were dropped" in recovered


def test_events_still_queued_at_shutdown_are_named_with_the_command(
    posthog_server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    sending = forwarder(posthog_server)
    posthog_server.down()
    sending.put_many([record(5)])
    assert not sending.flush()  # the outage starts
    sending.put_many([record(0), record(7)])  # queued behind it
    with caplog.at_level(logging.WARNING):
        sending.close()
    assert sending.accounting.dropped() == {"posthog/export_failed": 1, "posthog/shutdown": 2}
    (line,) = [r.getMessage() for r in caplog.records if "before shutdown" in r.getMessage()]
    assert line.startswith("2 events were not sent to PostHog")
    assert since_in(line) == START // SECOND * SECOND  # the oldest of all three


def test_without_a_store_to_name_no_command_is_given(
    posthog_server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = PostHogSettings(api_key=posthog_server.api_key, host=posthog_server.url)
    sending: PostHogForwarder[EventRecord] = PostHogForwarder(
        settings, ExportAccounting(MeterProvider().get_meter("test"))
    )
    posthog_server.down()
    sending.put_many([record(1)])
    sending.close()
    assert not any("backfill" in r.getMessage() for r in caplog.records)


def test_with_forward_all_the_line_says_the_backfill_sends_events_only(
    posthog_server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    sending = forwarder(posthog_server, forward="all")
    posthog_server.down()
    sending.put_many([record(1)])
    assert not sending.flush()
    sending.close()
    (failing,) = [r.getMessage() for r in caplog.records if "is failing" in r.getMessage()]
    assert since_in(failing) == START // SECOND * SECOND + SECOND
    assert "not spans or plain log records" in failing


def test_a_full_queue_says_once_what_it_dropped_and_how_to_send_it(
    posthog_server: PostHogServer, caplog: pytest.LogCaptureFixture
) -> None:
    # PostHog slower than the events come: the sending thread is held (here while it reads
    # the first batch) and answered in the end, no request fails, and the queue fills up.
    release = threading.Event()

    def slowly(item: EventRecord) -> EventRecord:
        assert release.wait(30), "the test never let the batch go"
        return item

    settings = PostHogSettings(api_key=posthog_server.api_key, host=posthog_server.url)
    sending: PostHogForwarder[EventRecord] = PostHogForwarder(
        settings,
        ExportAccounting(MeterProvider().get_meter("test")),
        to_record=slowly,
        max_queue_size=2,
        schedule_delay_millis=3_600_000,
        backfill_from="--store /data/telemetry.duckdb",
    )
    sending.put_many([record(8), record(9)])  # a full batch: taken at once, then held
    wait_for(lambda: sending.pending() == 0, what="the sending thread to take the batch")
    sending.put_many([record(4), record(5)])
    sending.put_many([record(3), record(6)])  # both dropped
    sending.put_many([record(7)])  # dropped, and said no more
    assert sending.accounting.dropped() == {"posthog/queue_full": 3}
    release.set()
    assert sending.flush()
    lines = [r.getMessage() for r in caplog.records if "queue" in r.getMessage()]
    assert len(lines) == 2, lines
    assert f"{sending.destination} is falling behind" in lines[0], lines[0]
    assert "takes them slower than they come" in lines[0] and "(3 so far)" in lines[0]
    assert since_in(lines[0]) == START // SECOND * SECOND + 3 * SECOND
    assert "caught up" in lines[1] and "3 posthog items were dropped" in lines[1], lines[1]
    sending.close()
