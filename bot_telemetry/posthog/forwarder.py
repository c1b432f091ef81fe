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

import logging
from collections.abc import Callable, Iterable, Sequence
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
        policy: PrivacyPolicy = DEFAULT_POLICY,
        max_queue_size: int = 8192,
        max_batch_size: int = 512,
        schedule_delay_millis: float = 1000,
    ) -> None:
        self.settings = settings
        self.accounting = accounting
        self.policy = policy
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
        )
        self.sent = 0

    def put(self, item: Item) -> None:
        if self.settings.wants(item.name):
            self._queue.put(item)

    def put_many(self, items: Iterable[Item]) -> None:
        self._queue.put_many(item for item in items if self.settings.wants(item.name))

    def pending(self) -> int:
        return self._queue.pending()

    def flush(self, timeout_millis: float = 30_000) -> bool:
        return self._queue.flush(timeout_millis)

    def close(self, timeout_millis: float = 30_000) -> None:
        """Send what is queued (tried once each if PostHog is failing), then stop."""
        self._sender.stop_retrying()
        self._queue.close(timeout_millis)
        self._sender.close()

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
        return delivery
