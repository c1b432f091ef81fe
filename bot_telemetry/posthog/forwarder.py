"""A forwarder: events handed over on one thread, mapped and sent to PostHog on another.

``serve`` hands it each batch of stored events (``put_many``), the bot's log pipeline uses
the same mapping and sender through ``export.posthog``. Both queue on ``BatchQueue``, so a
PostHog that is down or slow costs the caller an append, and every event not delivered is
counted (``ExportAccounting``: ``posthog/queue_full``, ``export_failed``, ``too_large``,
``rejected``, ``shutdown``).

    forwarder = PostHogForwarder(settings, accounting)
    forwarder.put_many(records)
    forwarder.close()            # sends what is queued (once, if PostHog is failing)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from ..delivery import BatchQueue, Delivery, ExportAccounting
from ..privacy import DEFAULT_POLICY, PrivacyPolicy
from .events import EventRecord, capture_event
from .sender import CaptureSender
from .settings import PostHogSettings

_log = logging.getLogger(__name__)

SIGNAL = "posthog"


class Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def time_ns(self) -> int: ...


Item = TypeVar("Item", bound=Named)


def destination_name(settings: PostHogSettings) -> str:
    return f"PostHog {settings.host}"


def map_and_send(
    records: Sequence[EventRecord],
    settings: PostHogSettings,
    policy: PrivacyPolicy,
    sender: CaptureSender,
    *,
    historical: bool = False,
) -> Delivery:
    """Map ``records`` to capture events and deliver them; a record that cannot be mapped is
    dropped alone (``rejected``), the others go."""
    events = []
    unmapped = 0
    for record in records:
        try:
            events.append(capture_event(record, settings, policy))
        except Exception:
            unmapped += 1
            _log.exception("could not map event %r for PostHog", record.name)
    delivery = sender.send(events, historical=historical)
    delivery.drop("rejected", unmapped)
    return delivery


def _as_record(item: EventRecord) -> EventRecord:
    return item


class PostHogForwarder(Generic[Item]):
    """Queues items (``EventRecord``s, or rows turned into them on the sending thread by
    ``to_record``) and sends them to PostHog in the background. Items whose name the
    settings' include/exclude rules refuse are not queued."""

    def __init__(
        self,
        settings: PostHogSettings,
        accounting: ExportAccounting,
        *,
        to_record: Callable[[Item], EventRecord] = _as_record,  # type: ignore[assignment]
        policy: PrivacyPolicy | Callable[[], PrivacyPolicy] = DEFAULT_POLICY,
        max_queue_size: int = 8192,
        max_batch_size: int = 512,
        schedule_delay_millis: float = 1000,
        backfill_from: str | None = None,
        unsent_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.accounting = accounting
        # A callable is read at each batch (serve's ``ServerConfig.policy``, which its
        # receivers read at each export): the events go out under the policy they were kept by.
        self._policy = policy
        self.destination = destination_name(settings)
        self._to_record = to_record
        self._sender = CaptureSender(settings)
        self._queue: BatchQueue[Item] = BatchQueue(
            self._deliver,
            signal=SIGNAL,
            destination=self.destination,
            accounting=accounting,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay_millis=schedule_delay_millis,
            full_remedy=self._full_remedy if backfill_from is not None else None,
        )
        self.sent = 0
        # What an outage lost is in the store the items came from (``backfill_from``, the
        # backfill's --store): the lines say how to send it again, from the oldest time lost.
        self._backfill_from = backfill_from
        self._times = threading.Lock()
        self._lost_since_ns: int | None = None  # the oldest event lost to an outage
        self._unconfirmed_since_ns: int | None = None  # the oldest queued, not yet sent
        # The oldest event not known to be sent, kept on disk while there is one, so that a
        # process killed before it could say so has it said when it starts again.
        self._unsent_file = unsent_file if backfill_from is not None else None
        self._unsent_written: int | None = None
        if backfill_from is not None:
            accounting.set_remedy(self.destination, self._remedy)
        if self._unsent_file is not None:
            self._tell_unsent_of_last_run(self._unsent_file)

    @property
    def policy(self) -> PrivacyPolicy:
        """The policy the events are mapped under, now."""
        return self._policy() if callable(self._policy) else self._policy

    def put(self, item: Item) -> None:
        self.put_many((item,))

    def put_many(self, items: Iterable[Item]) -> None:
        wanted = [item for item in items if self.settings.wants(item.name)]
        if not wanted:
            return
        if self._backfill_from is None:
            self._queue.put_many(wanted)
            return
        oldest = min(item.time_ns for item in wanted)
        with self._times:
            self._queue.put_many(wanted)
            if self._unconfirmed_since_ns is None or oldest < self._unconfirmed_since_ns:
                self._unconfirmed_since_ns = oldest
            self._keep_unsent()

    def pending(self) -> int:
        return self._queue.pending()

    def flush(self, timeout_millis: float = 30_000) -> bool:
        return self._queue.flush(timeout_millis)

    def close(self, timeout_millis: float = 30_000) -> None:
        """Send what is queued (tried once each if PostHog is failing), then stop; what could
        not be sent is counted as ``shutdown`` and, with ``backfill_from``, one line says how
        to send it later."""
        self._sender.stop_retrying()
        before = self._shutdown_drops()
        self._queue.close(timeout_millis)
        self._sender.close()
        lost = self._shutdown_drops() - before
        if self._backfill_from is not None:
            with self._times:
                since = _earliest(self._lost_since_ns, self._unconfirmed_since_ns)
                self._keep_unsent()  # kept for the next start while anything went unsent
        if lost and self._backfill_from is not None:
            _log.warning(
                "%d events were not sent to %s before shutdown (counted as %s/shutdown); %s",
                lost,
                self.destination,
                SIGNAL,
                self._backfill_command(since),
            )

    def _shutdown_drops(self) -> int:
        return self.accounting.dropped().get(f"{SIGNAL}/shutdown", 0)

    def _full_remedy(self, dropped: Sequence[Item]) -> str:
        # Said in the queue's line when it is first full (the queue's one mechanism for every
        # destination): the events it drops are in the store, from the oldest of them.
        return self._backfill_command(min(item.time_ns for item in dropped))

    def _remedy(self, ended: bool) -> str:
        with self._times:
            since = self._lost_since_ns
            if ended:  # said at the recovery: the next outage starts afresh
                self._lost_since_ns = None
                self._keep_unsent()
        return self._backfill_command(since) if since is not None else ""

    def _keep_unsent(self) -> None:
        """The oldest event not known to be sent, on disk (under ``_times``); written only
        when it changes, removed when there is none."""
        if self._unsent_file is None:
            return
        since = _earliest(self._lost_since_ns, self._unconfirmed_since_ns)
        if since == self._unsent_written:
            return
        try:
            if since is None:
                self._unsent_file.unlink(missing_ok=True)
            else:
                partial = self._unsent_file.with_name(self._unsent_file.name + ".tmp")
                partial.write_text(json.dumps({"unsent_since_ns": since}))
                os.replace(partial, self._unsent_file)
        except OSError as error:  # a read-only folder: only the log lines say it then
            _log.debug("could not keep %s: %s", self._unsent_file, error)
            return
        self._unsent_written = since

    def _tell_unsent_of_last_run(self, path: Path) -> None:
        try:
            since = int(json.loads(path.read_text())["unsent_since_ns"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError):
            since = None
        _log.warning(
            "the last run stopped before it had sent every event to %s (it was killed, or "
            "PostHog failed to the end): they were not sent to PostHog; %s",
            self.destination,
            self._backfill_command(since),
        )
        path.unlink(missing_ok=True)

    def _backfill_command(self, since_ns: int | None) -> str:
        # POSTHOG_FORWARD=all: spans and plain log records were lost too, which the backfill
        # does not send.
        which = " (not spans or plain log records)" if self.settings.forward == "all" else ""
        command = backfill_command(self._backfill_from or "", since_ns)
        return (
            f"the events are in the store: once PostHog answers, `{command}` sends them{which} "
            "(with POSTHOG_API_KEY and POSTHOG_HOST as here; PostHog collapses any it already "
            "has)"
        )

    def _deliver(self, batch: Sequence[Item]) -> Delivery:
        records, unreadable = [], 0
        for item in batch:
            try:
                records.append(self._to_record(item))
            except Exception:
                unreadable += 1
                _log.exception("could not read %r for PostHog", item.name)
        delivery = map_and_send(records, self.settings, self.policy, self._sender)
        delivery.drop("rejected", unreadable)
        self.sent += delivery.delivered
        if self._backfill_from is not None:
            self._note_times(batch, delivery)
        return delivery

    def _note_times(self, batch: Sequence[Item], delivery: Delivery) -> None:
        with self._times:
            if delivery.failed:
                oldest = min(item.time_ns for item in batch)
                self._lost_since_ns = _earliest(self._lost_since_ns, oldest)
            elif not self._queue.pending():
                # Everything put so far is sent or counted as lost (in _lost_since_ns).
                self._unconfirmed_since_ns = None
            self._keep_unsent()


def backfill_command(store_option: str, since_ns: int | None) -> str:
    """The ``bot-telemetry posthog backfill`` that sends the events from ``since_ns`` on
    (whole seconds, rounded down: it must take in the oldest event lost)."""
    command = f"bot-telemetry posthog backfill {store_option}"
    if since_ns is not None:
        moment = time.gmtime(since_ns // 1_000_000_000)
        command += f" --since {time.strftime('%Y-%m-%dT%H:%M:%SZ', moment)}"
    return command


def _earliest(first: int | None, second: int | None) -> int | None:
    if first is None or second is None:
        return first if second is None else second
    return min(first, second)
