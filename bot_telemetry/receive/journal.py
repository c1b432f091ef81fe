"""The receipt journal: request bodies kept on disk from the moment they are answered until
their rows are committed to the store, so a receiver can answer before the store commits and
still lose nothing on a crash.

    journal = Journal.open(path)
    for record in journal.pending():       # left by a run that stopped before committing
        ...                                 # ingest record.body again, then release(record.seq)
    seq = await asyncio.wrap_future(journal.append(body, {"device": "d-1"}))   # durable now
    journal.release(seq)                    # its rows are committed: forget it

Why: a transaction costs DuckDB ~3 ms of CPU whatever its size, so storing each browser
bundle (a few events) as it is answered spends most of the CPU on commits; with the journal
the store commits thousands of rows at once (docs/client-telemetry.md#speed).

SQLite (the standard library's) holds the records: appends from concurrent requests are
written by one thread in one transaction, synced to disk (``synchronous=FULL``) before any of
them resolves — a group commit. Released records are deleted with ``secure_delete``, since a
body may hold ids and text the privacy policy would never let into the store.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    meta TEXT NOT NULL,
    body BLOB NOT NULL)
"""

#: Records appended at most before ``append`` refuses more (the store has fallen far behind).
DEFAULT_MAX_RECORDS = 100_000
#: Syncs to disk at most this often: appends coming sooner wait and share the next one (a
#: sync costs ~0.1 ms of the kernel's CPU here); an append after a quiet spell syncs at once.
SYNC_INTERVAL = 0.002


class JournalError(Exception):
    """The journal cannot keep a body (full, closed, or its file failed)."""


@dataclass(frozen=True)
class Record:
    """A body kept by an earlier run, with what was known about its request."""

    seq: int
    meta: dict[str, str | int | None]
    body: bytes


class Journal:
    """One SQLite file of received bodies; ``append`` from any thread, ``release`` likewise."""

    def __init__(self, path: Path, *, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self.path = path
        self.max_records = max_records
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only this user may read it: bodies are held before the privacy policy applies.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(descriptor)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "secure_delete=ON",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(_SCHEMA)
        self._kept = self._count()
        self._appends: list[tuple[str, bytes, Future[int]]] = []
        self._releases: list[int] = []
        self._closing = False
        self._changed = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._run, name="bot-telemetry-journal", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, path: str | Path, *, max_records: int = DEFAULT_MAX_RECORDS) -> Journal:
        """Open (creating it) the journal at ``path``."""
        try:
            return cls(Path(path), max_records=max_records)
        except (OSError, sqlite3.Error) as error:
            raise JournalError(f"cannot open the receipt journal {path}: {error}") from error

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM received").fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        """Records kept (appended and not yet released)."""
        return self._kept

    def pending(self) -> list[Record]:
        """The records kept now, oldest first: at start-up, what an earlier run left."""
        with self._changed:
            rows = self._db.execute("SELECT seq, meta, body FROM received ORDER BY seq").fetchall()
        return [Record(int(seq), json.loads(meta), bytes(body)) for seq, meta, body in rows]

    def append(self, body: bytes, meta: Mapping[str, str | int | None]) -> Future[int]:
        """Keep ``body``; the future resolves to its sequence number once it is on disk, or
        fails with ``JournalError``."""
        future: Future[int] = Future()
        with self._changed:
            if self._closing:
                raise JournalError("the receipt journal is closed")
            if self._kept >= self.max_records:
                raise JournalError(
                    f"the receipt journal holds {self._kept} bodies the store has not taken yet"
                )
            self._kept += 1
            self._appends.append((json.dumps(dict(meta)), body, future))
            self._changed.notify()
        return future

    def release(self, seq: int) -> None:
        """The rows of record ``seq`` are committed: it may be deleted."""
        with self._changed:
            self._releases.append(seq)
            self._changed.notify()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is waiting, then stop (records not released stay for the next run)."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join(timeout)
        self._db.close()

    def _run(self) -> None:
        synced = 0.0
        while True:
            with self._changed:
                while not (self._appends or self._releases or self._closing):
                    self._changed.wait()
                if self._appends:
                    due = synced + SYNC_INTERVAL
                    while not self._closing and (wait := due - time.monotonic()) > 0:
                        self._changed.wait(wait)
                appends, self._appends = self._appends, []
                releases, self._releases = self._releases, []
                closing = self._closing
            written = self._write(appends, releases) if appends or releases else True
            if appends:
                synced = time.monotonic()
            if not written and not closing:
                with self._changed:  # the file failed: try the releases again in a moment
                    self._changed.wait(1.0)
            elif closing:
                return

    def _write(self, appends: list[tuple[str, bytes, Future[int]]], releases: list[int]) -> bool:
        db = self._db
        kept: list[tuple[Future[int], int]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for meta, body, future in appends:
                cursor = db.execute("INSERT INTO received (meta, body) VALUES (?, ?)", (meta, body))
                kept.append((future, int(cursor.lastrowid or 0)))
            if releases:
                db.executemany("DELETE FROM received WHERE seq = ?", [(seq,) for seq in releases])
            db.execute("COMMIT")
        except sqlite3.Error as error:
            _log.exception("the receipt journal %s could not be written", self.path)
            if db.in_transaction:
                db.execute("ROLLBACK")
            with self._changed:
                self._kept -= len(appends)
                # Releases are retried with the next write; appends are refused.
                self._releases[:0] = releases
            for _, _, future in appends:
                future.set_exception(JournalError(f"the receipt journal failed: {error}"))
            return False
        with self._changed:
            self._kept -= len(releases)
        for future, seq in kept:
            future.set_result(seq)
        return True
