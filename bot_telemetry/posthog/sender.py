"""Delivering capture events to PostHog within its limits, retrying what may succeed later.

- An event over ``max_event_bytes`` (PostHog discards events over about 1 MB) is dropped
  and counted as ``too_large``; the events beside it go.
- Events are sent in requests of at most ``max_batch_bytes`` (PostHog takes bodies up to
  20 MB), gzipped.
- 429, 408, 5xx and no answer at all are retried with exponential backoff (0.5 s doubling,
  at most 30 s), or after the ``Retry-After`` PostHog asked for, while the batch's retry
  budget (``retry_seconds``) lasts; then the batch is dropped as ``export_failed``.
  ``stop_retrying`` (shutdown) cuts a wait short for one last try at once.
- 400 (a payload PostHog refuses) and 413 (a body too large for a proxy in front of it)
  split the request in halves until the one event at fault is alone: it is dropped as
  ``rejected`` / ``too_large`` with one log line, the others are delivered.
- 401, 403 (the project API key) and any other answer are not retried: the batch is
  dropped as ``export_failed``, with the reason for the outage's one log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..delivery.queue import EXPORT_FAILED, Delivery
from .capture import Answer, CaptureClient, encode
from .settings import PostHogSettings

_log = logging.getLogger(__name__)

#: The official client's limit per event: PostHog discards events over about 1 MB.
MAX_EVENT_BYTES = 900 * 1024
#: Bodies up to 20 MB are taken; like the official client we stay well below (5 MiB).
MAX_BATCH_BYTES = 5 * 1024 * 1024
TOO_LARGE, REJECTED = "too_large", "rejected"
_BACKOFF_FIRST, _BACKOFF_MAX = 0.5, 30.0


class CaptureSender:
    """Sends lists of capture events (dicts) to one PostHog project; see the module doc."""

    def __init__(
        self,
        settings: PostHogSettings,
        *,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.settings = settings
        self.max_event_bytes = max_event_bytes
        self.max_batch_bytes = max_batch_bytes
        self._client = CaptureClient(settings)
        self._stop = threading.Event()
        self._told: set[str] = set()

    def stop_retrying(self) -> None:
        """From now on each request is tried once (shutting down: do not wait out backoffs)."""
        self._stop.set()

    def close(self) -> None:
        self.stop_retrying()
        self._client.close()

    def send(self, events: Sequence[dict[str, Any]], *, historical: bool = False) -> Delivery:
        """Deliver ``events``; what could not be, by reason, is in the returned ``Delivery``."""
        delivery = Delivery()
        encoded: list[bytes] = []
        for event in events:
            data = encode(event)
            if len(data) > self.max_event_bytes:
                self._refused(delivery, TOO_LARGE, event, f"{len(data):,} bytes")
            else:
                encoded.append(data)
        deadline = time.monotonic() + self.settings.retry_seconds
        chunks = list(self._chunks(encoded))
        for index, chunk in enumerate(chunks):
            if not self._send(chunk, historical, delivery, deadline):
                # The backend is failing (or refuses the key): the rest would fail alike.
                delivery.drop(EXPORT_FAILED, sum(len(rest) for rest in chunks[index + 1 :]))
                break
        return delivery

    def _chunks(self, encoded: list[bytes]) -> Iterator[list[bytes]]:
        chunk: list[bytes] = []
        size = 0
        for data in encoded:
            if chunk and size + len(data) + 1 > self.max_batch_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(data)
            size += len(data) + 1
        if chunk:
            yield chunk

    def _send(
        self, chunk: list[bytes], historical: bool, delivery: Delivery, deadline: float
    ) -> bool:
        """Deliver one request's events; False when the backend is failing."""
        attempt = 0
        while True:
            answer = self._client.post(chunk, historical)
            if answer.ok:
                delivery.delivered += len(chunk)
                return True
            if answer.status in (400, 413):
                if len(chunk) == 1:
                    reason = REJECTED if answer.status == 400 else TOO_LARGE
                    self._refused(delivery, reason, chunk[0], f"{answer.status}: {answer.detail}")
                    return True
                half = len(chunk) // 2
                if not self._send(chunk[:half], historical, delivery, deadline):
                    delivery.drop(EXPORT_FAILED, len(chunk) - half)
                    return False
                return self._send(chunk[half:], historical, delivery, deadline)
            if answer.retryable and not self._stop.is_set():
                wait = _backoff(attempt) if answer.retry_after is None else answer.retry_after
                if time.monotonic() + wait <= deadline:
                    attempt += 1
                    # Shutting down ends the wait: one last try at once, then no more.
                    self._stop.wait(wait)
                    continue
            delivery.drop(EXPORT_FAILED, len(chunk))
            delivery.reason = self._failure(answer)
            delivery.status = answer.status
            return False

    def _failure(self, answer: Answer) -> str:
        where = self.settings.host
        if answer.status in (401, 403):
            return (
                f"PostHog at {where} refused the project API key ({answer.status}: "
                f"{answer.detail}); check POSTHOG_API_KEY"
            )
        if answer.status == 404:
            return f"{self.settings.batch_url} answered 404; check POSTHOG_HOST"
        if answer.status == 0:
            return f"no answer from PostHog at {where}: {answer.detail}"
        return f"PostHog at {where} answered {answer.status}: {answer.detail}"

    def _refused(self, delivery: Delivery, reason: str, event: Any, why: str) -> None:
        delivery.drop(reason)
        if reason in self._told:
            return
        self._told.add(reason)
        # One line per kind of refusal: the name says which event, never its content.
        name = _event_name(event)
        _log.warning(
            "PostHog event %r dropped (%s: %s); it is counted as posthog/%s, and further "
            "events dropped this way are only counted",
            name,
            reason,
            why,
            reason,
        )


def _backoff(attempt: int) -> float:
    return float(min(_BACKOFF_FIRST * 2**attempt, _BACKOFF_MAX))


def _event_name(event: Any) -> str:
    if isinstance(event, dict):
        return str(event.get("event", "?"))
    if isinstance(event, bytes):
        # An encoded event starts with its name: {"event":"...",
        head = event[:200].decode(errors="replace")
        prefix = '{"event":"'
        if head.startswith(prefix):
            return head[len(prefix) :].split('"', 1)[0]
    return "?"
