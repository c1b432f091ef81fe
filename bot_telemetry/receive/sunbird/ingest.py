"""Client telemetry in: a Sunbird bundle through validate → de-duplicate → unbundle → enrich →
store, independent of HTTP (``http.py`` serves it; tests and benchmarks call it directly).

    receiver = SunbirdReceiver(writer)
    outcome = await receiver.ingest(body, headers=ClientHeaders(device="d-1"))
    outcome.stored, outcome.duplicates, outcome.failures

A bundle that cannot be read at all raises ``BundleError`` (status and reason). Otherwise
every event is accounted for: stored, a duplicate (already stored), or failed (kept in the
failed set with its reason). The outcome is known only once nothing can lose the rows: with a
receipt journal (``journal=``, what ``serve`` uses) once the body is on disk in the journal,
the rows following into the store within ``linger`` seconds; without one, once they are
committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...privacy import PrivacyPolicy, current_policy
from ...store.database import Written
from ...store.engine import EngineUnavailable
from ...store.rows import Batch
from ...store.writer import (
    DEFER_ROWS,
    DEFER_SECONDS,
    LINGER_ROWS,
    LINGER_SECONDS,
    StoreWriter,
    WriterBusy,
)
from ..journal import Journal, JournalError, Record
from ..otlp import OtlpError, decompress
from ..unicode import may_hold_surrogates, without_surrogates
from .dedup import DEFAULT_WINDOW_SECONDS, DedupWindow
from .enrich import Sessions, fill_from_headers
from .rows import BundleInfo, add_rows, event_key, event_values, failed_row
from .schemas import Problem
from .validate import validate

#: Sunbird's ingest service takes bodies up to 5 MB; so do we by default.
DEFAULT_MAX_BODY = 5 * 1024 * 1024
#: The SDK sends at most 1000 events a batch; a bundle of more is refused whole.
DEFAULT_MAX_EVENTS = 10_000
#: Failures listed in one answer (all are counted and all are stored).
MAX_LISTED_FAILURES = 100
#: Bodies up to this size (about 100 web-chat events, ~2 ms of CPU at worst) are read and
#: enriched on the event loop; bigger ones on a worker thread, so the loop never stalls long.
INLINE_BYTES = 64 * 1024

_log = logging.getLogger(__name__)


class BundleError(Exception):
    """A request refused whole: the HTTP status and a reason a person can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ClientHeaders:
    """The context a client may send in headers instead of in each event."""

    device: str = ""
    channel: str = ""
    app: str = ""


@dataclass
class Parsed:
    """A bundle read and its events validated (CPU work, done off the event loop)."""

    bundle_id: str | None
    msgid: str | None
    bundle_key: tuple[str, ...]
    events: list[dict[str, Any]]
    keys: list[tuple[str, str, str]]
    failures: list[tuple[int, Any, Problem]]
    received: int


@dataclass
class Outcome:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    repeated_bundle: bool = False
    msgid: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)


def _as_text(constant: str) -> str:
    # NaN, Infinity and -Infinity are not JSON, though Python's json reads them: as text, a
    # number field holding one is refused alone with a reason, and anything stored stays JSON.
    return constant


def _finite_or_text(text: str) -> float | str:
    # A decimal too big for a float (1e400) would read as infinity: kept as its text too.
    number = float(text)
    return number if number - number == 0 else text


# orjson reads an int of more than 64 bits as a float (json as an int), and 1,024 levels of
# nesting (json about as many as the stack has room for, ~900 in serve, then "nested too
# deeply"). What orjson read is written back (it refuses more than 254 levels: those bodies
# are read by json); a float of 1e16 or more is written with "e+", and only when a "+" is in
# that text (a byte search, ten times quicker than one for "e+") is the body looked at for a
# run of 19 digits (in a number, or in a string: harmless), then read by json.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def load_json(data: bytes) -> Any:
    """The JSON document in ``data`` as ``json.loads`` with our hooks reads it (NaN, ±Infinity
    and out-of-range decimals as text, ints of any size), read by orjson (about twice as
    fast) when that gives the same: orjson refuses NaN, Infinity, 1e400, lone surrogates
    (``"\\ud800"``), a BOM and UTF-16, and those bodies, big ints and the very deeply nested
    are read by json, with its errors. Duplicate keys, ``-0`` and floats read alike in both
    (tests/receive/sunbird/test_ingest.py compares them). A lone surrogate is read as U+FFFD,
    as OTLP's receiver does: it is no text the store (or any UTF-8) can hold."""
    try:
        document = orjson.loads(data)
        written = orjson.dumps(document)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass
    else:
        if b"+" not in written or _LONG_NUMBER not in data.translate(_DIGITS_AS_ZERO):
            return document
    document = json.loads(data, parse_constant=_as_text, parse_float=_finite_or_text)
    return without_surrogates(document) if may_hold_surrogates(data) else document


def parse_bundle(
    body: bytes,
    content_encoding: str | None,
    headers: ClientHeaders,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_events: int = DEFAULT_MAX_EVENTS,
) -> Parsed:
    """Read the bundle and validate each event; ``BundleError`` if it is not a bundle."""
    try:
        data = decompress(body, content_encoding, max_body)
    except OtlpError as error:
        raise BundleError(error.status, error.reason) from error
    try:
        document = load_json(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(400, f"body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise BundleError(400, "body is nested too deeply to be a telemetry bundle") from error
    if type(document) is not dict:
        raise BundleError(
            400, "body must be a JSON object: a Sunbird bundle {id, ver, params, ets, events}"
        )
    events = document.get("events")
    if type(events) is not list:
        raise BundleError(400, "not a Sunbird bundle: 'events' must be an array of events")
    if len(events) > max_events:
        raise BundleError(
            413, f"the bundle has {len(events)} events, over the limit of {max_events}"
        )
    bundle_id = document.get("id")
    params = document.get("params", {})
    if bundle_id is not None and type(bundle_id) is not str:
        raise BundleError(400, "not a Sunbird bundle: 'id' must be a string")
    if type(params) is not dict:
        raise BundleError(400, "not a Sunbird bundle: 'params' must be an object")
    msgid = params.get("msgid")
    if msgid is not None and type(msgid) is not str:
        raise BundleError(400, "not a Sunbird bundle: 'params.msgid' must be a string")
    valid: list[dict[str, Any]] = []
    keys: list[tuple[str, str, str]] = []
    failures: list[tuple[int, Any, Problem]] = []
    for index, event in enumerate(events):
        fill_from_headers(event, headers.device, headers.channel, headers.app)
        problem = validate(event)
        if problem is None:
            valid.append(event)
            keys.append(event_key(event))
        else:
            failures.append((index, event, problem))
    # A repeat of the bundle: the same msgid and the same bytes from the same device.
    bundle_key = ("bundle", msgid or "", hashlib.sha256(data).hexdigest(), headers.device)
    return Parsed(bundle_id, msgid, bundle_key, valid, keys, failures, len(events))


def bundle_info(parsed: Parsed, syncts_ms: int) -> BundleInfo:
    """What the bundle's rows share: its id, msgid and the time it was received."""
    seconds, millis = divmod(syncts_ms, 1000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return BundleInfo(parsed.bundle_id, parsed.msgid, syncts_ms, f"{stamp}.{millis:03d}Z")


def build_batch(
    parsed: Parsed,
    new: list[int],
    bundle: BundleInfo,
    policy: PrivacyPolicy,
    sessions: Sessions,
    device: str,
) -> Batch:
    """The rows of the new events and of the failed ones, enriched (CPU work)."""
    rows: list[tuple[Any, ...]] = []
    pseudonyms: dict[str, str] = {}
    for index in new:
        event = parsed.events[index]
        context = event["context"]
        session = None
        if not context.get("sid"):
            session = sessions.session_for(
                event["actor"]["id"], context.get("did") or "", event["ets"]
            )
        rows.append(event_values(event, bundle, policy, session, pseudonyms))
    for _, raw, problem in parsed.failures:
        rows.append(failed_row(raw, problem, bundle, policy, device))
    batch = Batch()
    add_rows(batch, rows)
    return batch


def _failure(index: int, raw: Any, problem: Problem) -> dict[str, Any]:
    listed: dict[str, Any] = {
        "index": index,
        "field": problem.field or "event",
        "expected": problem.expected,
        "reason": problem.reason,
    }
    if type(raw) is dict:
        for name in ("eid", "mid"):
            if isinstance(raw.get(name), str):
                listed[name] = raw[name]
    return listed


class SunbirdReceiver:
    """The pipeline's state: the de-duplication window, open sessions and counters."""

    def __init__(
        self,
        writer: StoreWriter,
        *,
        dedup_window: float = DEFAULT_WINDOW_SECONDS,
        max_body: int = DEFAULT_MAX_BODY,
        max_events: int = DEFAULT_MAX_EVENTS,
        policy: PrivacyPolicy | Callable[[], PrivacyPolicy] = current_policy,
        sessions: Sessions | None = None,
        journal: Journal | None = None,
        linger: float = DEFER_SECONDS,
    ) -> None:
        self.writer = writer
        self.journal = journal
        #: How long rows answered from the journal may wait to share a commit.
        self.linger = linger
        self.window = DedupWindow(dedup_window)
        self.sessions = sessions or Sessions()
        self.max_body = max_body
        self.max_events = max_events
        self._policy = policy
        self.counts = {"bundles": 0, "received": 0, "stored": 0, "duplicates": 0, "failed": 0}

    def policy(self) -> PrivacyPolicy:
        return self._policy if isinstance(self._policy, PrivacyPolicy) else self._policy()

    async def ingest(
        self,
        body: bytes,
        content_encoding: str | None = None,
        headers: ClientHeaders | None = None,
    ) -> Outcome:
        """Validate, de-duplicate, enrich and store one bundle; the outcome once committed.
        Raises ``BundleError`` (refused whole, nothing stored)."""
        headers = headers or ClientHeaders()
        # A small bundle is read on the event loop: its CPU work is bounded (INLINE_BYTES)
        # and two trips to a worker thread would cost more than the work itself.
        inline = len(body) <= INLINE_BYTES
        loop = asyncio.get_running_loop()
        if inline:
            parsed = parse_bundle(
                body,
                content_encoding,
                headers,
                max_body=self.max_body,
                max_events=self.max_events,
            )
        else:
            parsed = await loop.run_in_executor(
                None,
                lambda: parse_bundle(
                    body,
                    content_encoding,
                    headers,
                    max_body=self.max_body,
                    max_events=self.max_events,
                ),
            )
        outcome = Outcome(received=parsed.received, msgid=parsed.msgid)
        window = self.window
        while True:
            busy_bundle = window.is_busy(parsed.bundle_key)
            if busy_bundle is not None:
                await busy_bundle.done.wait()
                continue
            if window.is_duplicate(parsed.bundle_key):
                outcome.repeated_bundle = True
                outcome.duplicates = len(parsed.events)
                window.duplicates += outcome.duplicates
                self._count(outcome)
                return outcome
            new, duplicates, busy = window.classify(parsed.keys)
            if not busy:
                break
            for ticket in busy:
                await ticket.done.wait()
        reserved: list[Hashable] = [parsed.bundle_key]
        reserved.extend(parsed.keys[index] for index in new)
        ticket = window.reserve(reserved)
        received_ms = time.time_ns() // 1_000_000
        kept: asyncio.Future[int] | None = None
        try:
            if self.journal is not None and (new or parsed.failures):
                # On disk while the rows are made (the journal's thread syncs it meanwhile).
                kept = self._keep(body, content_encoding, headers, received_ms)
            bundle = bundle_info(parsed, received_ms)
            policy = self.policy()
            if inline:
                batch = build_batch(parsed, new, bundle, policy, self.sessions, headers.device)
            else:
                batch = await loop.run_in_executor(
                    None,
                    build_batch,
                    parsed,
                    new,
                    bundle,
                    policy,
                    self.sessions,
                    headers.device,
                )
            if kept is not None:
                try:
                    seq = await kept
                except JournalError as error:
                    kept = None
                    raise BundleError(503, str(error)) from error
                # Kept: the answer need not wait for the store, whose commit is shared with
                # thousands of other rows (store/writer.py, DEFER_SECONDS).
                self._submit(batch, seq, self.linger, DEFER_ROWS)
            elif batch.log_count:
                # A bundle is a few events: its commit may wait a moment to be shared with
                # other senders' (store/writer.py, LINGER_SECONDS).
                written = self._submit(batch, None, LINGER_SECONDS, LINGER_ROWS)
                try:
                    await asyncio.wrap_future(written)
                except EngineUnavailable as error:
                    raise BundleError(503, f"the store is unavailable: {error}") from error
                except Exception as error:
                    raise BundleError(500, f"the events could not be stored: {error}") from error
        except BaseException:
            window.release(ticket)
            if kept is not None:
                kept.add_done_callback(self._forget)
            raise
        window.commit(ticket)
        window.duplicates += duplicates
        outcome.stored = len(new)
        outcome.duplicates = duplicates
        outcome.failed = len(parsed.failures)
        outcome.failures = [
            _failure(index, raw, problem)
            for index, raw, problem in parsed.failures[:MAX_LISTED_FAILURES]
        ]
        self._count(outcome)
        return outcome

    def _keep(
        self, body: bytes, encoding: str | None, headers: ClientHeaders, received_ms: int
    ) -> asyncio.Future[int]:
        assert self.journal is not None
        meta = {
            "received_ms": received_ms,
            "encoding": encoding,
            "device": headers.device,
            "channel": headers.channel,
            "app": headers.app,
        }
        try:
            return self.journal.keep(body, meta)
        except JournalError as error:
            raise BundleError(503, str(error)) from error

    def _forget(self, kept: asyncio.Future[int]) -> None:
        # A kept body whose request failed after all: the client retries, so it must not
        # also come back from the journal (a cancelled wait the journal releases itself).
        if self.journal is not None and not kept.cancelled() and kept.exception() is None:
            self.journal.release(kept.result())

    def _submit(self, batch: Batch, seq: int | None, linger: float, enough: int) -> Future[Written]:
        try:
            written = self.writer.submit(batch, linger=linger, enough=enough)
        except WriterBusy as error:
            if seq is not None and self.journal is not None:
                self.journal.release(seq)  # answered 503: the client sends it again
            raise BundleError(503, str(error)) from error
        if seq is not None:
            written.add_done_callback(lambda future: self._stored(seq, future))
        return written

    def _stored(self, seq: int, written: Future[Written]) -> None:
        # On the writer's thread, once the rows are committed (or could not be).
        if self.journal is None:
            return
        error = written.exception()
        if error is None:
            self.journal.release(seq)
        else:
            _log.error(
                "client events answered as received could not be stored (%s); their bundle "
                "stays in the receipt journal %s and is stored when serve starts again",
                error,
                self.journal.folder,
            )

    def replay_journal(self) -> int:
        """Store the bundles an earlier run answered but did not commit (call at start-up,
        before requests come); returns how many bundles were replayed. The store skips rows
        it already holds, so a bundle committed just before a crash is not stored twice."""
        if self.journal is None:
            return 0
        records = self.journal.pending()
        for record in records:
            self._replay(record)
        if records:
            _log.info("replayed %d client bundles from %s", len(records), self.journal.folder)
        return len(records)

    def _replay(self, record: Record) -> None:
        assert self.journal is not None
        meta = record.meta
        headers = ClientHeaders(
            device=str(meta.get("device") or ""),
            channel=str(meta.get("channel") or ""),
            app=str(meta.get("app") or ""),
        )
        encoding = meta.get("encoding")
        try:
            parsed = parse_bundle(
                record.body,
                encoding if isinstance(encoding, str) else None,
                headers,
                max_body=self.max_body,
                max_events=self.max_events,
            )
        except BundleError as error:  # it was read once; a changed limit can refuse it now
            _log.error("dropped a journaled client bundle that is refused now: %s", error.reason)
            self.journal.release(record.seq)
            return
        received = meta.get("received_ms")
        bundle = bundle_info(parsed, received if isinstance(received, int) else 0)
        # Remembered as if just received, so a client's retry after the restart is a repeat.
        new, _, _ = self.window.classify(parsed.keys)
        self.window.commit(self.window.reserve([parsed.keys[index] for index in new]))
        batch = build_batch(
            parsed,
            new,
            bundle,
            self.policy(),
            self.sessions,
            headers.device,
        )
        self._submit(batch, record.seq, self.linger, DEFER_ROWS)

    def _count(self, outcome: Outcome) -> None:
        counts = self.counts
        counts["bundles"] += 1
        counts["received"] += outcome.received
        counts["stored"] += outcome.stored
        counts["duplicates"] += outcome.duplicates
        counts["failed"] += outcome.failed
