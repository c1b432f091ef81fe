"""The receipt journal: request bodies kept on disk from the moment they are answered until
their rows are committed to the store, so a receiver can answer before the store commits and
still lose nothing on a crash.

    journal = Journal.open(folder)
    for record in journal.pending():       # left by a run that stopped before committing
        ...                                 # ingest record.body again, then release(record.seq)
    seq = await journal.keep(body, {"device": "d-1"})   # on the event loop: durable now
    journal.release(seq)                    # its rows are committed: forget it

Why: a transaction costs DuckDB ~3 ms of CPU whatever its size, so storing each browser
bundle (a few events) as it is answered spent most of the CPU on commits; with the journal
the store commits thousands of rows at once (docs/client-telemetry.md#speed).

The journal is a folder of append-only segment files written by one thread: the bodies
appended meanwhile are written with one ``write`` and synced with one ``fdatasync`` before any
of them resolves (a group commit, as DuckDB syncs its log on commit). Each record is framed
with its length and a CRC, so a write torn by a crash is recognised and dropped (its request
was never answered). A segment is deleted — the active one truncated — once every record in it
is released. Why not SQLite: it wrote each ~15 KB body three times (log, database, the
overwrite on delete), ~200 µs of CPU a bundle here, against ~10 µs for an append.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

_log = logging.getLogger(__name__)

#: Records kept at most before ``keep`` refuses more (the store has fallen far behind).
DEFAULT_MAX_RECORDS = 100_000
#: Syncs to disk at most this often: appends coming sooner wait and share the next sync (one
#: costs ~0.1 ms of the kernel's CPU here); an append after a quiet spell syncs at once.
SYNC_INTERVAL = 0.002
#: A segment past this size is closed and a new one started, so a released one can go.
SEGMENT_BYTES = 8 * 1024 * 1024

# magic, seq, meta length, body length, CRC-32 of meta + body
_HEADER = struct.Struct("<4sQIII")
_MAGIC = b"BTJ1"
# A release frame: its body is the released sequence numbers (unsynced: one lost only means
# those records are stored again at the next start, and the store skips them).
_RELEASED = b"BTR1"
_SUFFIX = ".journal"
_LOCK = "lock"


class JournalError(Exception):
    """The journal cannot keep a body (full, closed, in use, or its files failed)."""


@dataclass(frozen=True)
class Record:
    """A body kept by an earlier run, with what was known about its request."""

    seq: int
    meta: dict[str, str | int | None]
    body: bytes


@dataclass(eq=False)
class _Segment:
    path: Path
    size: int = 0
    outstanding: set[int] = field(default_factory=set)
    released: set[int] = field(default_factory=set)


class Journal:
    """One folder of received bodies; ``keep`` from an event loop, ``release`` from any
    thread."""

    def __init__(self, folder: Path, *, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self.folder = folder
        self.max_records = max_records
        # Only this user may read it: bodies are held before the privacy policy applies.
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(self._lock_fd)
            raise JournalError(
                f"the receipt journal {folder} is in use by another process"
            ) from error
        self._pending, self._sealed, self._next_seq = self._read_segments()
        self._of = {seq: segment for segment in self._sealed for seq in segment.outstanding}
        self._active = _Segment(folder / f"{self._next_seq:020d}{_SUFFIX}")
        self._fd = os.open(self._active.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _sync_folder(folder)
        self._kept = len(self._of)
        self._appends: list[tuple[bytes, asyncio.Future[int], int]] = []
        self._releases: list[int] = []
        self._closing = False
        # Whether the thread waits for work (not for its next sync, nor writing): only then
        # does an append or a release wake it.
        self._idle = False
        self._changed = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._run, name="bot-telemetry-journal", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, folder: str | Path, *, max_records: int = DEFAULT_MAX_RECORDS) -> Journal:
        """Open (creating it) the journal in ``folder``."""
        try:
            return cls(Path(folder), max_records=max_records)
        except OSError as error:
            raise JournalError(f"cannot open the receipt journal {folder}: {error}") from error

    def __len__(self) -> int:
        """Records kept (appended and not yet released)."""
        return self._kept

    def pending(self) -> list[Record]:
        """What an earlier run left, oldest first (read when the journal was opened)."""
        return list(self._pending)

    def keep(self, body: bytes, meta: Mapping[str, str | int | None]) -> asyncio.Future[int]:
        """Keep ``body`` (call from an event loop); the future resolves to its sequence number
        once it is on disk, or fails with ``JournalError``. The futures of the bodies synced
        together are resolved in one call into their loop: each call from another thread
        cost the loop ~0.1 ms of CPU here, now paid once a sync rather than once a body."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._enqueue(body, meta, future)
        return future

    def _enqueue(
        self, body: bytes, meta: Mapping[str, str | int | None], waiter: asyncio.Future[int]
    ) -> None:
        encoded = orjson.dumps(meta if type(meta) is dict else dict(meta))
        with self._changed:
            if self._closing:
                raise JournalError("the receipt journal is closed")
            if self._kept >= self.max_records:
                raise JournalError(
                    f"the receipt journal holds {self._kept} bodies the store has not taken yet"
                )
            seq = self._next_seq
            self._next_seq += 1
            self._kept += 1
            frame = _HEADER.pack(
                _MAGIC, seq, len(encoded), len(body), zlib.crc32(body, zlib.crc32(encoded))
            )
            self._appends.append((frame + encoded + body, waiter, seq))
            if self._idle:
                self._changed.notify()

    def release(self, seq: int) -> None:
        """The rows of record ``seq`` are committed: it may be deleted."""
        with self._changed:
            self._releases.append(seq)
            if self._idle:
                self._changed.notify()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is waiting, then stop (records not released stay for the next run)."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join(timeout)
        os.close(self._fd)
        os.close(self._lock_fd)

    def _run(self) -> None:
        synced = 0.0
        while True:
            with self._changed:
                while not (self._appends or self._releases or self._closing):
                    self._idle = True
                    self._changed.wait()
                self._idle = False
                if self._appends:
                    due = synced + SYNC_INTERVAL
                    while not self._closing and (wait := due - time.monotonic()) > 0:
                        self._changed.wait(wait)
                appends, self._appends = self._appends, []
                releases, self._releases = self._releases, []
                closing = self._closing
            if appends:
                self._write(appends)
                synced = time.monotonic()
            if releases:
                self._forget(releases)
            if closing:
                return

    def _write(self, appends: list[tuple[bytes, asyncio.Future[int], int]]) -> None:
        data = b"".join(frame for frame, _, _ in appends)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fdatasync(self._fd)
        except OSError as error:
            _log.exception("the receipt journal %s could not be written", self.folder)
            with self._changed:
                self._kept -= len(appends)
            # Whatever reached the file is a record nobody was told about: a replay stores
            # it, the client's retry is then a repeat.
            failure = JournalError(f"the receipt journal failed: {error}")
            self._resolve([(waiter, failure) for _, waiter, _ in appends])
            return
        segment = self._active
        segment.size += len(data)
        for _, _, seq in appends:
            segment.outstanding.add(seq)
            self._of[seq] = segment
        self._resolve([(waiter, seq) for _, waiter, seq in appends])
        if segment.size >= SEGMENT_BYTES:
            self._rotate()

    def _resolve(self, outcomes: list[tuple[asyncio.Future[int], int | JournalError]]) -> None:
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | JournalError]]
        ] = {}
        for future, outcome in outcomes:
            by_loop.setdefault(future.get_loop(), []).append((future, outcome))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._settle, settled)
            except RuntimeError:  # the loop is closed: its requests are gone
                for _, outcome in settled:
                    self._abandoned(outcome)

    def _settle(self, settled: list[tuple[asyncio.Future[int], int | JournalError]]) -> None:
        # On the waiters' event loop.
        for future, outcome in settled:
            if future.cancelled():
                self._abandoned(outcome)
            elif isinstance(outcome, JournalError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _abandoned(self, outcome: int | JournalError) -> None:
        # A body kept for a request that was cancelled before it was answered: the client
        # sends it again, so it must not also come back from the journal.
        if not isinstance(outcome, JournalError):
            self.release(outcome)

    def _rotate(self) -> None:
        with self._changed:
            first = self._next_seq
        fresh = _Segment(self.folder / f"{first:020d}{_SUFFIX}")
        try:
            fd = os.open(fresh.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            _sync_folder(self.folder)
        except OSError:
            _log.exception("the receipt journal %s could not start a segment", self.folder)
            return
        os.close(self._fd)
        old, self._active, self._fd = self._active, fresh, fd
        self._sealed.append(old)
        if not old.outstanding:
            self._delete(old)

    def _forget(self, releases: list[int]) -> None:
        noted: list[int] = []
        for seq in releases:
            segment = self._of.pop(seq, None)
            if segment is None:
                continue
            segment.outstanding.discard(seq)
            with self._changed:
                self._kept -= 1
            if segment.outstanding:
                segment.released.add(seq)
                noted.append(seq)
            elif segment is self._active:
                # Emptied: cut it back so released bodies do not linger on disk. The releases
                # of older segments it noted are noted again.
                try:
                    os.ftruncate(self._fd, 0)
                except OSError:
                    _log.exception("could not truncate the receipt journal %s", segment.path)
                    continue
                segment.size = 0
                segment.released.clear()
                noted = [seq for old in self._sealed for seq in old.released]
            else:
                self._delete(segment)
        if noted:
            self._note_released(noted)

    def _note_released(self, seqs: list[int]) -> None:
        body = struct.pack(f"<{len(seqs)}Q", *seqs)
        frame = _HEADER.pack(_RELEASED, 0, 0, len(body), zlib.crc32(body)) + body
        try:
            os.write(self._fd, frame)
        except OSError:
            _log.exception("could not note released records in %s", self._active.path)
            return
        self._active.size += len(frame)

    def _delete(self, segment: _Segment) -> None:
        try:
            segment.path.unlink(missing_ok=True)
        except OSError:
            _log.exception("could not delete the receipt journal segment %s", segment.path)
            return
        if segment in self._sealed:
            self._sealed.remove(segment)

    def _read_segments(self) -> tuple[list[Record], list[_Segment], int]:
        records: list[Record] = []
        segments: list[_Segment] = []
        released: set[int] = set()
        next_seq = 1
        for path in sorted(self.folder.glob(f"*{_SUFFIX}")):
            segment = _Segment(path)
            data = path.read_bytes()
            offset = 0
            while offset + _HEADER.size <= len(data):
                magic, seq, meta_size, body_size, crc = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                end = start + meta_size + body_size
                meta, body = data[start : start + meta_size], data[start + meta_size : end]
                if magic not in (_MAGIC, _RELEASED) or end > len(data):
                    break
                if zlib.crc32(body, zlib.crc32(meta)) != crc:
                    break
                if magic == _RELEASED:
                    released.update(struct.unpack(f"<{len(body) // 8}Q", body))
                else:
                    records.append(Record(seq, orjson.loads(meta), body))
                    segment.outstanding.add(seq)
                    next_seq = max(next_seq, seq + 1)
                offset = end
            if offset < len(data):
                _log.warning(
                    "the receipt journal segment %s ends with %d bytes of a write a crash cut "
                    "short; that request was never answered",
                    path,
                    len(data) - offset,
                )
            segment.size = offset
            segments.append(segment)
        records = [record for record in records if record.seq not in released]
        kept: list[_Segment] = []
        for segment in segments:
            segment.outstanding -= released
            if segment.outstanding:
                kept.append(segment)
            else:
                segment.path.unlink(missing_ok=True)
        return records, kept, next_seq


def _sync_folder(folder: Path) -> None:
    # A new file's name survives a power cut only once its folder is synced.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
