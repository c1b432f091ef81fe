"""The receipt journal: bodies on disk from their answer until their rows are committed; what a
killed ``serve`` answered is stored when it starts again, once; released bodies leave no trace."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.receive.journal import Journal, JournalError
from bot_telemetry.receive.sunbird.ingest import BundleError, ClientHeaders, SunbirdReceiver
from bot_telemetry.store.database import Store
from bot_telemetry.store.writer import StoreWriter
from tests.receive.sunbird.events import bundle, event
from tests.support.ports import free_port
from tests.support.processes import running


def kept(journal: Journal, body: bytes, meta: dict[str, Any]) -> int:
    """``body`` kept, from an event loop as a receiver keeps it; its sequence number."""

    async def keep() -> int:
        return await journal.keep(body, meta)

    return asyncio.run(keep())


def test_a_kept_body_survives_a_reopen_until_released(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    journal = Journal.open(folder)
    first = kept(journal, b"first body", {"device": "d-1", "received_ms": 5})
    second = kept(journal, b"second body", {"device": None})
    assert second > first and len(journal) == 2
    journal.close()
    # Only the owner may read them: bodies precede the privacy policy.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}

    reopened = Journal.open(folder)
    left = reopened.pending()
    assert [(r.seq, r.body, r.meta) for r in left] == [
        (first, b"first body", {"device": "d-1", "received_ms": 5}),
        (second, b"second body", {"device": None}),
    ]
    reopened.release(first)
    third = kept(reopened, b"third", {})
    assert third > second
    reopened.close()
    again = Journal.open(folder)
    assert [r.body for r in again.pending()] == [b"second body", b"third"]
    assert len(again) == 2
    again.close()


def test_a_torn_write_is_dropped_and_the_records_before_it_kept(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    journal = Journal.open(folder)
    kept(journal, b"whole", {})
    kept(journal, b"torn apart", {})
    journal.close()
    (segment,) = [p for p in folder.iterdir() if p.suffix == ".journal" and p.stat().st_size]
    segment.write_bytes(segment.read_bytes()[:-4])  # a crash cut the last write short
    reopened = Journal.open(folder)
    assert [r.body for r in reopened.pending()] == [b"whole"]
    # New records go on after the highest number kept, in a segment of their own (the torn
    # record's number was never answered to anyone).
    assert kept(reopened, b"next", {}) == 2
    reopened.close()


def test_released_bodies_leave_no_trace_in_the_files(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    journal = Journal.open(folder)
    marker = b"grace.hopper@example.com-" + b"x" * 200
    seqs = [kept(journal, marker, {}) for _ in range(3)]
    later = kept(journal, b"a later body", {})
    for seq in seqs:
        journal.release(seq)
    journal.close()
    # Released beside one still kept: noted as released, its bytes stay until the segment
    # empties (a restart does not bring them back).
    reopened = Journal.open(folder)
    assert [r.body for r in reopened.pending()] == [b"a later body"]
    reopened.release(later)
    reopened.close()
    files = list(folder.iterdir())
    assert files and all(marker[:25] not in p.read_bytes() for p in files)


def test_bodies_synced_together_are_answered_in_one_call_into_the_loop(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal")
    kept(journal, b"first", {})  # a sync now: the next bodies wait for the next one together
    calls: list[int] = []

    async def keep_many() -> list[int]:
        loop = asyncio.get_running_loop()
        calls_before = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return calls_before(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        futures = [journal.keep(f"body {i}".encode(), {}) for i in range(5)]
        return list(await asyncio.gather(*futures))

    seqs = asyncio.run(keep_many())
    journal.close()
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    # One call for all five when they shared a sync; never one each.
    assert 1 <= len(calls) < 5


def test_a_body_whose_wait_was_cancelled_is_released_by_the_journal(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    journal = Journal.open(folder)

    async def cancel_one() -> int:
        abandoned = journal.keep(b"abandoned", {})
        abandoned.cancel()  # its request went away before it was answered
        return await journal.keep(b"answered", {})

    answered = asyncio.run(cancel_one())
    journal.close()
    reopened = Journal.open(folder)
    # The client sends the abandoned one again: it must not also come back from here.
    assert [(r.seq, r.body) for r in reopened.pending()] == [(answered, b"answered")]
    reopened.close()


def test_a_failed_write_fails_the_waiting_bodies_and_the_journal_goes_on(
    tmp_path: Path,
) -> None:
    journal = Journal.open(tmp_path / "journal")
    real_fd = journal._fd
    journal._fd = os.open(tmp_path, os.O_RDONLY)  # a descriptor a write fails on (EBADF/EISDIR)
    with pytest.raises(JournalError, match="the receipt journal failed"):
        kept(journal, b"lost", {})
    os.close(journal._fd)
    journal._fd = real_fd
    assert len(journal) == 0
    assert kept(journal, b"kept", {}) > 0
    journal.close()


def test_a_journal_is_one_process_s(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal")
    with pytest.raises(JournalError, match="in use by another process"):
        Journal.open(tmp_path / "journal")
    journal.close()
    Journal.open(tmp_path / "journal").close()


def test_a_full_journal_refuses_more(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal", max_records=1)
    kept(journal, b"one", {})
    with pytest.raises(JournalError, match="holds 1 bodies"):
        kept(journal, b"two", {})
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        kept(journal, b"three", {})


def test_a_journal_that_cannot_be_opened_says_where(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(JournalError, match="cannot open the receipt journal"):
        Journal.open(tmp_path / "file" / "journal")


def _client_bundle(user: str, count: int) -> bytes:
    events = [event("INTERACT", actor=user, mid=f"{user}-{index}") for index in range(count)]
    return json.dumps(bundle(events)).encode()


def test_a_full_journal_answers_503_and_the_client_retries(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, list[int]]:
        store = Store.open(tmp_path / "s.duckdb")
        writer = StoreWriter(store)
        journal = Journal.open(tmp_path / "journal", max_records=1)
        # A long linger: the first bundle's rows wait, so its body stays in the journal.
        receiver = SunbirdReceiver(writer, journal=journal, linger=60)
        stored = (await receiver.ingest(_client_bundle("u1", 3))).stored
        statuses = []
        try:
            await receiver.ingest(_client_bundle("u2", 2))
        except BundleError as error:
            statuses.append(error.status)
        writer.close()  # commits the lingering rows, releasing the first body
        journal.close()
        store.close()
        return stored, statuses

    stored, statuses = asyncio.run(scenario())
    assert stored == 3 and statuses == [503]
    assert Journal.open(tmp_path / "journal").pending() == []
    opened = Store.open(tmp_path / "s.duckdb", read_only=True)
    with opened.reader() as db:
        assert db.execute("SELECT count(*) FROM logs").fetchone() == (3,)
    opened.close()


def _post(port: int, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/telemetry",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _serve(store: Path, port: int, *extra: str) -> Any:
    return running(
        [
            "-m",
            "bot_telemetry.cli",
            "serve",
            "--store",
            str(store),
            "--port",
            str(port),
            "--no-grpc",
            "--exhaust-schedule",
            "off",
            *extra,
        ],
        ready_url=f"http://127.0.0.1:{port}/api/health",
    )


def _stored(store: Path) -> list[tuple[str | None, str]]:
    opened = Store.open(store, read_only=True)
    with opened.reader() as db:
        rows = db.execute(
            "SELECT event_name, json_extract_string(attributes, '$.\"sunbird.mid\"') "
            "FROM logs ORDER BY 2"
        ).fetchall()
    opened.close()
    return [(name, str(mid)) for name, mid in rows]


def test_what_a_killed_serve_answered_is_stored_once_when_it_starts_again(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.duckdb"
    journal = tmp_path / "store.duckdb.client-journal"
    port = free_port()
    # Rows linger an hour: the kill comes while they are only in the journal.
    with _serve(store, port, "--client-linger", "1h") as serve:
        answers = [_post(port, _client_bundle(user, 4)) for user in ("u1", "u2")]
        serve.stop(signal.SIGKILL)
    assert [a["result"]["stored"] for a in answers] == [4, 4]
    left = Journal.open(journal)
    assert len(left.pending()) == 2
    left.close()

    port = free_port()
    with _serve(store, port) as serve:
        # Replayed before the first request is served; a retry of a replayed bundle is a repeat.
        again = _post(port, _client_bundle("u1", 4))
        assert again["result"]["stored"] == 0 and again["result"]["duplicates"] == 4
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/client-events?limit=100") as r:
            listed = json.loads(r.read())
        assert len(listed) == 8
        serve.stop(signal.SIGTERM)
    assert [mid for _, mid in _stored(store)] == sorted(
        f"{user}-{index}" for user in ("u1", "u2") for index in range(4)
    )
    emptied = Journal.open(journal)
    assert emptied.pending() == []
    emptied.close()


def test_a_replayed_bundle_keeps_its_invalid_events_in_the_failed_set_once(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.duckdb"
    port = free_port()
    bad = event("FEEDBACK", actor="u3", mid="u3-bad")
    bad["edata"]["rating"] = "five"  # a number is expected
    body = json.dumps(bundle([event("INTERACT", actor="u3", mid="u3-good"), bad])).encode()
    with _serve(store, port, "--client-linger", "1h") as serve:
        answer = _post(port, body)
        serve.stop(signal.SIGKILL)
    assert (answer["result"]["stored"], answer["result"]["failed"]) == (1, 1)

    port = free_port()
    with _serve(store, port) as serve:
        assert _post(port, body)["result"]["repeatedBundle"] is False  # a new process's window
        url = f"http://127.0.0.1:{port}/api/client-events?failed=true&limit=10"
        with urllib.request.urlopen(url) as response:
            failed = json.loads(response.read())
        serve.stop(signal.SIGTERM)
    assert [(f["field"], f["mid"]) for f in failed] == [("edata.rating", "u3-bad")]
    # The failed one has no event name; each is stored once.
    assert _stored(store) == [(None, "u3-bad"), ("INTERACT", "u3-good")]


def test_reads_through_serve_see_what_was_answered_at_once(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    port = free_port()
    with _serve(store, port, "--client-linger", "1h"):
        assert _post(port, _client_bundle("u1", 3))["result"]["stored"] == 3
        # The rows would wait an hour for company; a read has them committed first.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/client-events?limit=10") as r:
            assert len(json.loads(r.read())) == 3


def test_a_journal_left_with_a_bundle_the_store_already_has_stores_it_once(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.duckdb"
    port = free_port()
    body = _client_bundle("u1", 2)
    with _serve(store, port):
        assert _post(port, body)["result"]["stored"] == 2
    # As if the process had died after the commit and before the release.
    journal = Journal.open(tmp_path / "store.duckdb.client-journal")
    kept(journal, body, {"received_ms": 1, "encoding": None, "device": ""})
    journal.close()
    with _serve(store, port) as serve:
        serve.stop(signal.SIGTERM)  # replayed at start, committed and released on the way out
    assert len(_stored(store)) == 2
    left = Journal.open(tmp_path / "store.duckdb.client-journal")
    assert left.pending() == []
    left.close()


def test_serve_without_a_journal_answers_after_the_commit(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    port = free_port()
    with _serve(store, port, "--client-journal", "off") as serve:
        assert _post(port, _client_bundle("u1", 2))["result"]["stored"] == 2
        serve.stop(signal.SIGKILL)
    assert not (tmp_path / "store.duckdb.client-journal").exists()
    assert len(_stored(store)) == 2


def test_receiver_headers_are_kept_for_the_replay(tmp_path: Path) -> None:
    async def answer() -> int:
        store = Store.open(tmp_path / "s.duckdb")
        writer = StoreWriter(store)
        journal = Journal.open(tmp_path / "journal")
        receiver = SunbirdReceiver(writer, journal=journal, linger=3600)
        events = [event("INTERACT", actor="u9", mid="m-1", did=None)]
        outcome = await receiver.ingest(
            json.dumps(bundle(events)).encode(), None, ClientHeaders(device="dev-9", app="web")
        )
        journal.close()  # as if killed before the commit: the body stays
        writer.close()
        store.close()
        return outcome.stored

    assert asyncio.run(answer()) == 1
    (record,) = Journal.open(tmp_path / "journal").pending()
    assert record.meta["device"] == "dev-9" and record.meta["app"] == "web"
    assert isinstance(record.meta["received_ms"], int)
