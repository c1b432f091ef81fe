"""The receipt journal: bodies on disk from their answer until their rows are committed; what a
killed ``serve`` answered is stored when it starts again, once; released bodies leave no trace."""

from __future__ import annotations

import asyncio
import json
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


def test_a_kept_body_survives_a_reopen_until_released(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path)
    first = journal.append(b"first body", {"device": "d-1", "received_ms": 5}).result(10)
    second = journal.append(b"second body", {"device": None}).result(10)
    assert second > first and len(journal) == 2
    journal.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # bodies precede the privacy policy

    reopened = Journal.open(path)
    kept = reopened.pending()
    assert [(r.seq, r.body, r.meta) for r in kept] == [
        (first, b"first body", {"device": "d-1", "received_ms": 5}),
        (second, b"second body", {"device": None}),
    ]
    reopened.release(first)
    # A release is written with the next group (or on close).
    reopened.append(b"third", {}).result(10)
    assert [r.body for r in reopened.pending()] == [b"second body", b"third"]
    assert len(reopened) == 2
    reopened.close()


def test_a_released_body_leaves_no_trace_in_the_files(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path)
    marker = b"grace.hopper@example.com-" + b"x" * 200
    seq = journal.append(marker, {}).result(10)
    journal.release(seq)
    journal.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("j.sqlite")]
    assert files and all(marker[:25] not in p.read_bytes() for p in files)


def test_a_full_journal_refuses_more(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.sqlite", max_records=1)
    journal.append(b"one", {}).result(10)
    with pytest.raises(JournalError, match="holds 1 bodies"):
        journal.append(b"two", {})
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.append(b"three", {})


def test_a_journal_that_cannot_be_opened_says_where(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(JournalError, match="cannot open the receipt journal"):
        Journal.open(tmp_path / "file" / "j.sqlite")


def _client_bundle(user: str, count: int) -> bytes:
    events = [event("INTERACT", actor=user, mid=f"{user}-{index}") for index in range(count)]
    return json.dumps(bundle(events)).encode()


def test_a_full_journal_answers_503_and_the_client_retries(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, list[int]]:
        store = Store.open(tmp_path / "s.duckdb")
        writer = StoreWriter(store)
        journal = Journal.open(tmp_path / "j.sqlite", max_records=1)
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
    assert Journal.open(tmp_path / "j.sqlite").pending() == []
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


def _stored(store: Path) -> list[tuple[str, str]]:
    opened = Store.open(store, read_only=True)
    with opened.reader() as db:
        rows = db.execute(
            "SELECT event_name, json_extract_string(attributes, '$.\"sunbird.mid\"') "
            "FROM logs ORDER BY 2"
        ).fetchall()
    opened.close()
    return [(str(name), str(mid)) for name, mid in rows]


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
    journal.append(body, {"received_ms": 1, "encoding": None, "device": ""}).result(10)
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
        journal = Journal.open(tmp_path / "j.sqlite")
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
    (record,) = Journal.open(tmp_path / "j.sqlite").pending()
    assert record.meta["device"] == "dev-9" and record.meta["app"] == "web"
    assert isinstance(record.meta["received_ms"], int)
