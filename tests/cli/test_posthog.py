"""``bot-telemetry posthog backfill``: stored history to PostHog, resumable, idempotent."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from bot_telemetry import configure
from bot_telemetry.cli import main
from bot_telemetry.posthog import EventRecord, event_uuid
from bot_telemetry.signals import track_custom_event, with_turn_properties
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.receive.sunbird.events import bundle, event
from tests.reliability.stack import stored
from tests.support.posthog import PostHogServer
from tests.support.waiting import wait_for

TURNS = 30


@dataclass
class History:
    store: Path
    uuids: set[str]  # every stored event's uuid, as the live forwarders give it


def record_turns(url: str) -> None:
    handle = configure(
        "bot",
        span_exporters=[OTLPSpanExporter(endpoint=f"{url}/v1/traces")],
        log_exporters=[OTLPLogExporter(endpoint=f"{url}/v1/logs")],
        metric_readers=[],
    )
    try:
        tracer = trace.get_tracer("test")
        for turn in range(TURNS):
            attributes = {"enduser.pseudo.id": f"user-{turn % 4}", "session.id": f"s-{turn}"}
            with tracer.start_as_current_span("bot.turn", attributes=attributes):
                # As bots recorded them before events carried the turn's user and session.
                token = context.attach(with_turn_properties({"conversationId": f"c-{turn}"}))
                try:
                    track_custom_event("BotMessageReceived", {"text": "personal"})
                    track_custom_event("QnAMessage", {"score": 0.5})
                finally:
                    context.detach(token)
        assert handle.force_flush(10_000)
    finally:
        handle.shutdown()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    store = tmp_path_factory.mktemp("backfill") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        record_turns(collector.url)
    rows = stored(
        store,
        "SELECT event_name, time_ns, trace_id, span_id FROM logs WHERE event_name IS NOT NULL",
    )
    uuids = {
        str(event_uuid(EventRecord(name, time_ns, trace_id, span_id, {}, "bot")))
        for name, time_ns, trace_id, span_id in rows
    }
    assert len(uuids) == 2 * TURNS
    return History(store, uuids)


@pytest.fixture
def posthog(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostHogServer]:
    server = PostHogServer()
    monkeypatch.setenv("POSTHOG_API_KEY", server.api_key)
    monkeypatch.setenv("POSTHOG_HOST", server.url)
    yield server
    server.close()


def backfill(store: Path, *args: str) -> int:
    return main(["posthog", "backfill", "--store", str(store), "--since", "1d", *args])


def test_history_goes_once_as_historical_with_the_turns_user(
    history: History, posthog: PostHogServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.duckdb"
    store.write_bytes(history.store.read_bytes())
    assert backfill(store, "--batch", "7") == 0
    got = posthog.received()
    assert {r.uuid for r in got} == history.uuids and len(got) == 2 * TURNS
    assert all(r.historical for r in got)
    # Stored before events carried them: user and session come from the turn span.
    assert {r.distinct_id for r in got} == {f"user-{n}" for n in range(4)}
    assert all("$session_id" in r.properties for r in got)
    assert b"personal" not in posthog.wire()
    err = capsys.readouterr().err
    assert "60/60 events" in err and "sent 60 events" in err

    assert backfill(store) == 0  # done: nothing sent again
    assert "complete" in capsys.readouterr().err and len(posthog.received()) == 2 * TURNS


def test_an_outage_stops_it_and_the_same_command_resumes(
    history: History, posthog: PostHogServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.duckdb"
    store.write_bytes(history.store.read_bytes())
    posthog.refuse = None
    real_answer = posthog.answer
    calls = {"n": 0}

    def third_request_on_fails(path, headers, body):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= 3:
            return 503, {"detail": "down for maintenance"}, ""
        return real_answer(path, headers, body)

    posthog.answer = third_request_on_fails  # type: ignore[method-assign]
    assert backfill(store, "--batch", "10", "--retry-seconds", "0") == 1
    assert "503" in capsys.readouterr().err
    (path,) = tmp_path.glob("store.duckdb.posthog-backfill.*.json")
    checkpoint = json.loads(path.read_text())
    assert checkpoint["sent"] == 20 and not checkpoint["done"]

    posthog.answer = real_answer  # type: ignore[method-assign]
    assert backfill(store, "--batch", "10") == 0
    assert "resuming" in capsys.readouterr().err
    got = posthog.received()
    assert len(got) == 2 * TURNS, "nothing sent twice, nothing missing"
    assert {r.uuid for r in got} == history.uuids


def test_another_project_or_a_wider_window_walks_again_and_each_keeps_its_place(
    history: History,
    posthog: PostHogServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "store.duckdb"
    store.write_bytes(history.store.read_bytes())
    first_key, other_key = posthog.api_key, "phc_second_project"

    def sent_with(key: str, *args: str) -> list[str]:
        posthog.api_key = key  # the server takes this project's key only
        monkeypatch.setenv("POSTHOG_API_KEY", key)
        before = len(posthog.received())
        assert main(["posthog", "backfill", "--store", str(store), *args]) == 0
        return [r.uuid or "" for r in posthog.received()[before:]]

    assert set(sent_with(first_key, "--since", "1d")) == history.uuids
    capsys.readouterr()
    # The same host, another project: its own walk, the whole history.
    assert set(sent_with(other_key, "--since", "1d")) == history.uuids
    # The same project, a wider window: its own walk too.
    assert set(sent_with(other_key, "--since", "30d")) == history.uuids
    assert "complete" not in capsys.readouterr().err
    # Each walk is still where it was: the same commands send nothing again.
    for key, since in ((first_key, "1d"), (other_key, "1d"), (other_key, "30d")):
        assert sent_with(key, "--since", since) == []
        assert "is complete (60 events)" in capsys.readouterr().err
    checkpoints = [path.read_text() for path in tmp_path.glob("*.posthog-backfill.*.json")]
    assert len(checkpoints) == 3
    assert not any(key in text for text in checkpoints for key in (first_key, other_key))


def test_a_running_serve_is_asked_for_the_events(
    history: History, posthog: PostHogServer, tmp_path: Path
) -> None:
    store = tmp_path / "store.duckdb"
    store.write_bytes(history.store.read_bytes())
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        assert backfill(store, "--batch", "25", "--url", collector.url) == 0
    assert {r.uuid for r in posthog.received()} == history.uuids


def test_user_ids_are_the_stored_ones_forwarded_and_backfilled(
    posthog: PostHogServer, tmp_path: Path
) -> None:
    store = tmp_path / "store.duckdb"
    raw = {"fromId": "29:1AliceRaw", "recipientId": "28:bot-raw"}
    with CollectorThread(ServerConfig(store=store, port=0)) as collector:
        # A bot that leaves PostHog to serve, and a page's client event for the same user.
        handle = configure(
            "bot",
            span_exporters=[OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces")],
            log_exporters=[OTLPLogExporter(endpoint=f"{collector.url}/v1/logs")],
            metric_readers=[],
        )
        try:
            with trace.get_tracer("test").start_as_current_span("bot.turn"):
                token = context.attach(with_turn_properties({"conversationId": "c-1"}))
                try:
                    track_custom_event("BotMessageReceived", {**raw, "text": "I am Alice"})
                    track_custom_event("BotMessageSend", {**raw, "text": "Hi Alice"})
                finally:
                    context.detach(token)
            assert handle.force_flush(10_000)
        finally:
            handle.shutdown()
        page = event("INTERACT", actor=raw["fromId"], did="device-raw", conversation="c-1")
        request = urllib.request.Request(
            f"{collector.url}/v1/telemetry",
            data=json.dumps(bundle([page])).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        wait_for(lambda: len(posthog.received()) >= 3, timeout=20, what="3 forwarded events")
    rows = stored(
        store,
        "SELECT event_name, time_ns, trace_id, span_id, service_name, attributes FROM logs "
        "WHERE event_name IS NOT NULL",
    )
    expected = {}
    for name, time_ns, trace_id, span_id, service, attributes in rows:
        found = json.loads(attributes)
        record = EventRecord(name, time_ns, trace_id, span_id, found, service)
        expected[str(event_uuid(record))] = {key: found.get(key) for key in raw}
    assert len(expected) == 3 and all(ids["fromId"] != raw["fromId"] for ids in expected.values())
    assert sum(ids["recipientId"] is not None for ids in expected.values()) == 2  # the bot's

    assert backfill(store) == 0
    got = posthog.received()
    assert len(got) == 6 and sum(r.historical for r in got) == 3
    for item in got:  # live from serve, then from the backfill
        assert {key: item.properties.get(key) for key in raw} == expected[item.uuid or ""]
        assert item.distinct_id == expected[item.uuid or ""]["fromId"]
    assert not any(
        text.encode() in posthog.wire() for text in (*raw.values(), "Alice", "device-raw")
    )


def test_without_a_key_it_says_what_is_missing(
    history: History, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    assert backfill(history.store) == 2  # the command as given cannot run
    assert "POSTHOG_API_KEY is not set" in capsys.readouterr().err


@pytest.mark.parametrize("seconds", ["-1", "inf", "nan"])
def test_a_retry_budget_that_is_no_number_of_seconds_is_refused(
    history: History,
    posthog: PostHogServer,
    seconds: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert backfill(history.store, "--retry-seconds", seconds) == 2
    assert "--retry-seconds must be a number of seconds, 0 or more" in capsys.readouterr().err
    assert posthog.wire() == b""  # nothing was sent


def test_the_events_posthog_is_told_to_leave_out_are_not_backfilled(
    history: History,
    posthog: PostHogServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "store.duckdb"
    store.write_bytes(history.store.read_bytes())
    monkeypatch.setenv("POSTHOG_EXCLUDE_EVENTS", "BotMessage*")
    assert backfill(store) == 0
    assert {r.name for r in posthog.received()} == {"QnAMessage"}
    assert len(posthog.received()) == TURNS
    assert f"sent {TURNS} events" in capsys.readouterr().err

    # Another choice of events is another walk: the events left out before go now.
    monkeypatch.delenv("POSTHOG_EXCLUDE_EVENTS")
    monkeypatch.setenv("POSTHOG_EVENTS", "BotMessage*")
    assert backfill(store) == 0
    assert "complete" not in capsys.readouterr().err
    assert {r.uuid for r in posthog.received()} == history.uuids
    assert len(posthog.received()) == 2 * TURNS
