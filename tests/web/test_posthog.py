"""``bot-telemetry serve`` forwards what it stores to PostHog: a real serve process, bots
exporting OTLP to it, and a local server speaking PostHog's capture protocol."""

from __future__ import annotations

import json
import shlex
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

from bot_telemetry import configure
from bot_telemetry.cli import main
from bot_telemetry.export.posthog import PostHogLogExporter, event_record
from bot_telemetry.posthog import EventRecord, PostHogSettings, event_uuid
from bot_telemetry.signals import track_custom_event, with_turn_properties
from tests.reliability.stack import serve_args, stored
from tests.support.ports import free_port
from tests.support.posthog import PostHogServer
from tests.support.processes import RunningProcess, running
from tests.support.waiting import wait_for


@pytest.fixture
def posthog() -> Iterator[PostHogServer]:
    server = PostHogServer()
    yield server
    server.close()


def serve(store: Path, posthog: PostHogServer, **env: str) -> Any:
    port = free_port()
    return running(
        serve_args(port, store),
        ready_url=f"http://127.0.0.1:{port}/api/health",
        env={"POSTHOG_API_KEY": posthog.api_key, "POSTHOG_HOST": posthog.url, **env},
    )


def url_of(process: RunningProcess) -> str:
    port = process.process.args[process.process.args.index("--port") + 1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}"


def status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/posthog", timeout=10) as response:
        found: dict[str, Any] = json.loads(response.read())
        return found


def bot_turns(serve_url: str, turns: int, *, posthog: PostHogSettings | None = None) -> list[Any]:
    """A bot exporting OTLP to serve (and to PostHog itself when given): its custom events."""
    memory = InMemoryLogRecordExporter()
    log_exporters: list[Any] = [OTLPLogExporter(endpoint=f"{serve_url}/v1/logs"), memory]
    if posthog is not None:
        log_exporters.append(PostHogLogExporter(posthog))
    handle = configure(
        "bot",
        service_version="3.1",
        span_exporters=[OTLPSpanExporter(endpoint=f"{serve_url}/v1/traces")],
        log_exporters=log_exporters,
        metric_readers=[],
    )
    try:
        tracer = trace.get_tracer("test")
        for turn in range(turns):
            identity = {
                "conversationId": f"conv-{turn}",
                "enduser.pseudo.id": f"user-{turn % 2}",
                "session.id": f"session-{turn}",
            }
            with tracer.start_as_current_span("bot.turn"):
                token = context.attach(with_turn_properties(identity))
                try:
                    track_custom_event("BotMessageReceived", {"text": "hello, I am Ana"})
                    track_custom_event("QnAMessage", {"score": 0.8}, {"score": 0.8})
                finally:
                    context.detach(token)
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()
    return [r for r in memory.get_finished_logs() if r.log_record.event_name]


def test_serve_forwards_stored_events_with_the_bots_uuids(
    tmp_path: Path, posthog: PostHogServer
) -> None:
    with serve(tmp_path / "store.duckdb", posthog) as process:
        url = url_of(process)
        sent = bot_turns(url, 5)
        wait_for(lambda: len(posthog.received()) >= 10, timeout=20, what="10 forwarded events")
        # serve counts a batch as sent once PostHog's answer is back, after PostHog has it.
        wait_for(lambda: status(url)["sent"] >= 10, timeout=20, what="10 events sent")
        assert status(url)["sent"] == 10
        assert status(url)["dropped"] == {}
    got = posthog.received()
    # The same uuid the bot would have given each event: sending from both collapses.
    assert sorted(r.uuid or "" for r in got) == sorted(
        str(event_uuid(event_record(record))) for record in sent
    )
    assert {r.distinct_id for r in got} == {"user-0", "user-1"}
    assert all(r.properties["service_version"] == "3.1" for r in got)
    assert b"hello, I am Ana" not in posthog.wire()
    assert len(got) == 10, "each stored event once"


def test_events_of_a_bot_that_forwards_itself_are_not_sent_twice(
    tmp_path: Path, posthog: PostHogServer
) -> None:
    with serve(tmp_path / "store.duckdb", posthog) as process:
        url = url_of(process)
        own = PostHogSettings(api_key=posthog.api_key, host=posthog.url)
        bot_turns(url, 3, posthog=own)  # this bot sends its 6 events itself
        bot_turns(url, 1)  # this one relies on serve: 2 events
        wait_for(lambda: len(posthog.received()) >= 8, timeout=20, what="8 events")
        # serve counts a batch as sent once PostHog's answer is back, after PostHog has it.
        wait_for(lambda: status(url)["sent"] >= 2, timeout=20, what="serve's 2 events sent")
        forwarded = status(url)
        assert (forwarded["sent"], forwarded["queued"]) == (2, 0)
    assert len(posthog.received()) == 8


def test_everything_stored_goes_with_forward_all(tmp_path: Path, posthog: PostHogServer) -> None:
    with serve(tmp_path / "store.duckdb", posthog, POSTHOG_FORWARD="all") as process:
        url = url_of(process)
        bot_turns(url, 2)
        # SIGTERM at once: what serve still holds is sent before it exits.
        assert process.stop(signal.SIGTERM) == 0
    received = posthog.received()
    names = sorted(r.name for r in received)
    assert names.count("bot.turn") == 2 and names.count("QnAMessage") == 2
    spans = [r for r in received if r.name == "bot.turn"]
    assert all(r.properties["span.kind"] == "internal" for r in spans)
    assert all(r.properties["duration_ms"] >= 0 for r in spans)
    assert len({r.uuid for r in received}) == len(received)


def test_posthog_down_is_counted_and_serve_keeps_storing(
    tmp_path: Path, posthog: PostHogServer
) -> None:
    with serve(tmp_path / "store.duckdb", posthog, POSTHOG_RETRY_SECONDS="1") as process:
        url = url_of(process)
        posthog.down()
        bot_turns(url, 3)  # exports acknowledged: stored, whatever PostHog does
        wait_for(lambda: status(url)["dropped"] == {"posthog/export_failed": 6}, timeout=30)
        posthog.up()
        bot_turns(url, 1)
        wait_for(lambda: status(url)["sent"] == 2, timeout=30, what="forwarding resumed")
        events = json.loads(
            urllib.request.urlopen(f"{url}/api/events?limit=100", timeout=10).read()
        )
        assert len(events) == 8
    log = process.output()
    assert log.count("is failing") == 1 and log.count("recovered; 6 items were dropped") == 1
    # Both lines say how to send what was lost; done as the recovery line says, PostHog has
    # every stored event, each once in the end (the uuids collapse).
    (starting,) = [line for line in log.splitlines() if "is failing" in line]
    (recovered,) = [line for line in log.splitlines() if "recovered;" in line]
    assert backfill_command(starting) == backfill_command(recovered)
    assert posthog_backfill(recovered, posthog) == 0
    stored = stored_uuids(tmp_path / "store.duckdb")
    assert len(stored) == 8 and {r.uuid for r in posthog.received()} == stored


def test_events_posthog_did_not_get_before_shutdown_are_named_with_how_to_send_them(
    tmp_path: Path, posthog: PostHogServer
) -> None:
    with serve(tmp_path / "store.duckdb", posthog, POSTHOG_RETRY_SECONDS="60") as process:
        url = url_of(process)
        posthog.down()
        bot_turns(url, 2)  # stored; the forwarder waits out its backoff for PostHog
        assert process.stop(signal.SIGTERM) == 0
    # Shutting down cuts the backoff short for one last try, which fails: the outage's line
    # (or, for what was still queued behind it, the shutdown's) says how to send them.
    lines = [line for line in process.output().splitlines() if "posthog backfill" in line]
    assert lines
    posthog.up()
    assert posthog_backfill(lines[-1], posthog) == 0
    stored = stored_uuids(tmp_path / "store.duckdb")
    assert len(stored) == 4 and {r.uuid for r in posthog.received()} == stored


def backfill_command(line: str) -> list[str]:
    """The command a log line gives, as arguments of ``bot-telemetry``."""
    command = shlex.split(line.split("`")[1])
    assert command[:3] == ["bot-telemetry", "posthog", "backfill"], line
    return command[1:]


def posthog_backfill(line: str, posthog: PostHogServer) -> int:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POSTHOG_API_KEY", posthog.api_key)
        patch.setenv("POSTHOG_HOST", posthog.url)
        return main(backfill_command(line))


def stored_uuids(store: Path, url: str | None = None) -> set[str]:
    """The uuids of the stored events (asked of the serve at ``url`` while it holds them)."""
    if url is not None:
        found = json.loads(urllib.request.urlopen(f"{url}/api/posthog/events", timeout=10).read())
        rows = [(e["name"], e["time_ns"], e["trace_id"], e["span_id"]) for e in found["events"]]
    else:
        rows = stored(
            store,
            "SELECT event_name, time_ns, trace_id, span_id FROM logs WHERE event_name IS NOT NULL",
        )
    return {
        str(event_uuid(EventRecord(name, time_ns, trace_id, span_id, {}, "bot")))
        for name, time_ns, trace_id, span_id in rows
    }


def test_serves_own_audit_of_exhaust_downloads_is_not_forwarded(
    tmp_path: Path, posthog: PostHogServer
) -> None:
    with serve(tmp_path / "store.duckdb", posthog) as process:
        url = url_of(process)
        # A download refused (a link serve did not sign): audited, and stored as an event
        # with the client's address.
        link = f"{url}/dataset/v1/download/uci-private-exhaust/ABC/bot_private_20250601.zip"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(link, timeout=10)
        assert refused.value.code == 403
        events = json.loads(
            urllib.request.urlopen(f"{url}/api/events?name=ExhaustDownloaded", timeout=10).read()
        )
        assert len(events) == 1
        bot_turns(url, 1)  # stored after it: forwarded after it
        wait_for(lambda: status(url)["sent"] >= 2, timeout=20, what="the bot's 2 events sent")
    assert sorted(r.name for r in posthog.received()) == ["BotMessageReceived", "QnAMessage"]
    assert b"ExhaustDownloaded" not in posthog.wire() and b"127.0.0.1" not in posthog.wire()


def test_events_a_killed_serve_had_not_sent_are_named_when_it_starts_again(
    tmp_path: Path, posthog: PostHogServer
) -> None:
    store = tmp_path / "store.duckdb"
    posthog.down()
    with serve(store, posthog, POSTHOG_RETRY_SECONDS="600") as process:
        url = url_of(process)
        bot_turns(url, 2)  # stored, and waiting for PostHog, which is down
        wait_for(lambda: len(stored_uuids(store, url)) == 4, timeout=20, what="4 stored events")
        # Killed: no shutdown, nothing said, nothing sent.
        process.stop(signal.SIGKILL)
    posthog.up()
    with serve(store, posthog) as again:
        pass
    lines = [line for line in again.output().splitlines() if "posthog backfill" in line]
    assert len(lines) == 1 and "not sent to PostHog" in lines[0], again.output()
    assert posthog.received() == []  # the second serve had nothing new to forward
    assert posthog_backfill(lines[0], posthog) == 0
    stored = stored_uuids(store)
    assert len(stored) == 4 and {r.uuid for r in posthog.received()} == stored
