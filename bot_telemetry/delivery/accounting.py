"""Telemetry that could not be exported is counted, and reported once per outage.

With the backend down the SDK would log a line per dropped span (queue full) and the
OTLP exporter one per failed batch and retry: a bot under load would drown its own logs.
Instead we count what is lost in a metric (``bot_telemetry.telemetry.dropped``) and log
one line when an outage starts and one when export recovers. A destination that answers, but
slower than telemetry comes, fails no export: its queue fills and drops new items
(``queue_full``), said the same way: one line when an export succeeds while the queue has
been full (a queue full behind an export that hangs until it fails is that outage's, told by
its lines) and one when it drains, with the episode's count. What an exporter
keeps to send again itself (Azure Monitor's offline storage) is not lost: it is counted
apart (``bot_telemetry.telemetry.deferred``).

Why an export failed is the attempt's own: what the exporter logs while it runs (the SDK's
per-batch lines, folded here) is noted on the thread of that export (``export_attempt``),
so one destination's outage line never carries another's error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.metrics import Meter

_log = logging.getLogger("bot_telemetry.export")


DROPPED_METRIC = "bot_telemetry.telemetry.dropped"
DEFERRED_METRIC = "bot_telemetry.telemetry.deferred"

# The SDK's and OTLP exporter's loggers whose per-item and per-batch lines we fold into ours.
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
)
_NOISY_PREFIXES = ("Failed to export", "Transient error")
# The line of an answer the exporter will not retry; its second argument is the status.
_OTLP_REFUSED = "Failed to export %s batch code: %s"
# The Azure Monitor exporter's per-batch line when a request got no answer; folded only
# inside one of our export attempts (its metric exporter's lines are left alone).
_AZURE_LOGGER = "azure.monitor.opentelemetry.exporter.export._base"
_AZURE_PREFIXES = ("Retrying due to server request error", "Retrying due to server response error")
# Its lines for the items of a 206 it drops ("Data drop 400: <message> <envelope>", "Data
# dropped due to ingestion sampling: ..."): they print the whole envelope, the telemetry's
# attributes with it. Inside our export they are folded, reason not noted: the watch
# (export/azure_monitor.py) counts those items and says why without their data.
_AZURE_ITEM_PREFIX = "Data drop"


@dataclass
class Attempt:
    """One export call: why it failed, as the exporter logged it while it ran, and the HTTP
    status it was answered (0 when none was logged)."""

    reason: str = ""
    status: int = 0


_attempts = threading.local()


@contextmanager
def export_attempt() -> Iterator[Attempt]:
    """Marks an export call on this thread: reasons the exporter logs meanwhile are its own."""
    attempt = Attempt()
    outer = getattr(_attempts, "current", None)
    _attempts.current = attempt
    try:
        yield attempt
    finally:
        _attempts.current = outer


def note_reason(reason: str, status: int = 0) -> bool:
    """Why the export running on this thread fails (and the HTTP status it was answered, if
    known); False when no export is running here."""
    attempt: Attempt | None = getattr(_attempts, "current", None)
    if attempt is None:
        return False
    attempt.reason = reason
    attempt.status = status
    return True


#: Answers that say the credentials were refused: no retry fixes them, the operator must.
CREDENTIALS_REFUSED = frozenset({401, 403})


def _credentials_to_check(destination: str) -> str:
    # Only PostHog's sender and the OTLP exporter report the status (Azure Monitor keeps a
    # 401/403 batch to send again and logs its own line about the credential).
    if "posthog" in destination.lower():
        return "POSTHOG_API_KEY"
    return (
        "the token it is sent, in OTEL_EXPORTER_OTLP_HEADERS (Authorization=Bearer TOKEN, the "
        "token a serve started with --token expects)"
    )


@dataclass
class _Outage:
    dropped: int = 0
    deferred: int = 0


@dataclass
class _Overflow:
    """A queue full since it last drained: what it dropped, and whether that was said."""

    capacity: int
    remedy: Callable[[], str] | None
    dropped: int = 0
    said: bool = False


class ExportAccounting:
    """Counts dropped telemetry per (signal, reason) and tracks outages per destination."""

    def __init__(self, meter: Meter) -> None:
        self._dropped: Counter[tuple[str, str]] = Counter()
        self._deferred: Counter[str] = Counter()
        self._remedies: dict[str, Callable[[bool], str]] = {}
        self._start_afresh()
        _live.add(self)
        self._counter = meter.create_counter(
            DROPPED_METRIC, unit="{item}", description="Telemetry items dropped before export"
        )
        self._deferred_counter = meter.create_counter(
            DEFERRED_METRIC,
            unit="{item}",
            description="Telemetry items an exporter could not send and kept to send again",
        )
        self._filter = _FoldSdkNoise(self)

    def _start_afresh(self) -> None:
        # Also a forked child's, after fork(): its queues start empty (delivery/queue.py), so
        # the parent's outages and full-queue episodes are not its own: kept, the child would
        # say a "recovered" or "caught up" line for the parent's drops, or stay silent through
        # its own next episode (already "said"). A lock another thread held at the fork would
        # stay held in the child.
        self._lock = threading.Lock()
        self._failing: dict[str, _Outage] = {}
        self._recovered: dict[str, float] = {}  # when each destination last recovered
        self._overflowing: dict[tuple[str, str], _Overflow] = {}  # by (destination, signal)

    def set_remedy(self, destination: str, remedy: Callable[[bool], str]) -> None:
        """What an operator can do about what an outage of ``destination`` lost (PostHog:
        send it again from the store), said in the outage's lines: ``remedy(ended)`` is asked
        when the outage starts (False) and, if it lost anything, when it ends (True); ""
        says nothing."""
        with self._lock:
            self._remedies[destination] = remedy

    def _remedy(self, destination: str, ended: bool) -> str:
        with self._lock:
            remedy = self._remedies.get(destination)
        return f"; {found}" if remedy is not None and (found := remedy(ended)) else ""

    def dropped(self) -> dict[str, int]:
        """Items dropped so far, keyed ``"<signal>/<reason>"``."""
        with self._lock:
            return {f"{signal}/{reason}": n for (signal, reason), n in self._dropped.items()}

    def deferred(self) -> dict[str, int]:
        """Items an exporter could not send and kept to send again itself, by signal."""
        with self._lock:
            return dict(self._deferred)

    def count(self, signal: str, reason: str, items: int) -> None:
        with self._lock:
            self._dropped[(signal, reason)] += items
        self._counter.add(items, {"signal": signal, "reason": reason})

    def export_failed(
        self,
        destination: str,
        signal: str,
        items: int,
        error: BaseException | None = None,
        started: float | None = None,
        *,
        reason: str = "",
        deferred: int = 0,
        status: int = 0,
    ) -> None:
        """A batch was not delivered: ``items`` are lost, ``deferred`` more the exporter kept
        to send again. The first failure of an outage is logged, with the exporter's
        exception (and its traceback) when it raised one, else ``reason`` (this attempt's,
        see ``export_attempt``); a ``status`` of 401 or 403 makes the line say the
        credentials were refused and what to check. ``started`` (the ``time.monotonic()``
        its export began) tells a request sent during the last outage, answered only after
        the destination recovered, from a new outage: such a late failure is counted, and
        starts no outage."""
        if items:
            self.count(signal, "export_failed", items)
        if deferred:
            with self._lock:
                self._deferred[signal] += deferred
            self._deferred_counter.add(deferred, {"signal": signal})
        with self._lock:
            recovered = self._recovered.get(destination)
            if started is not None and recovered is not None and started < recovered:
                return
            starting = destination not in self._failing
            if starting:
                # The outage's lines take over from a full queue's: one story per destination.
                for key in [key for key in self._overflowing if key[0] == destination]:
                    del self._overflowing[key]
            outage = self._failing.setdefault(destination, _Outage())
            outage.dropped += items
            outage.deferred += deferred
        if error:
            reason = f"{type(error).__name__}: {error}"[:200]
        if starting:
            details = [reason] if reason else []
            if deferred:
                details.append(f"the exporter keeps what it could not send ({DEFERRED_METRIC})")
            # A refused credential never heals: saying export resumes by itself sent the
            # operator waiting for a backend that was answering all along.
            if status in CREDENTIALS_REFUSED:
                ending = (
                    f"the credentials were refused ({status}), so export resumes only once "
                    f"they are fixed: check {_credentials_to_check(destination)}"
                )
            else:
                ending = "export resumes by itself when the backend answers again"
            _log.warning(
                "telemetry export to %s is failing%s; dropped telemetry is counted in the "
                "metric %s and %s%s",
                destination,
                f" ({'; '.join(details)})" if details else "",
                DROPPED_METRIC,
                ending,
                self._remedy(destination, False),
                exc_info=error,
            )

    def export_succeeded(self, destination: str) -> None:
        with self._lock:
            outage = self._failing.pop(destination, None)
            if outage is not None:
                self._recovered[destination] = time.monotonic()
            slow = any(
                name == destination and not episode.said
                for (name, _), episode in self._overflowing.items()
            )
        if slow:
            self._say_slow(destination)
        if outage is not None:
            _log.warning(
                "telemetry export to %s recovered; %d items were dropped during the outage%s%s",
                destination,
                outage.dropped,
                f" ({outage.deferred} more were kept by the exporter, to be sent again)"
                if outage.deferred
                else "",
                self._remedy(destination, True) if outage.dropped else "",
            )

    def queue_full(
        self,
        destination: str,
        signal: str,
        items: int,
        capacity: int,
        remedy: Callable[[], str] | None = None,
    ) -> None:
        """A full queue dropped ``items``: counted as ``queue_full``. The episode (until
        ``queue_drained``) is said once, with ``remedy()`` when that says something (PostHog:
        how to send the dropped events again): when an export to the destination next
        succeeds, so a destination that is slow, not failing, is told from one whose export
        hangs until it fails (that one's outage line says it)."""
        if not items:
            return
        self.count(signal, "queue_full", items)
        with self._lock:
            if destination in self._failing:
                return  # part of the outage, which its lines tell
            episode = self._overflowing.setdefault(
                (destination, signal), _Overflow(capacity, remedy)
            )
            episode.dropped += items

    def _say_slow(self, destination: str) -> None:
        with self._lock:
            unsaid = [
                (signal, episode)
                for (name, signal), episode in self._overflowing.items()
                if name == destination and not episode.said
            ]
            for _, episode in unsaid:
                episode.said = True
        for signal, episode in unsaid:
            # No export failed, so no outage line: without this a slow destination lost
            # telemetry with nothing said.
            found = episode.remedy() if episode.remedy is not None else ""
            _log.warning(
                "telemetry export to %s is falling behind: its queue of %d %s items is full "
                "(the destination takes them slower than they come), so new ones are dropped "
                "(%d so far), counted in the metric %s as queue_full; said once until the "
                "queue drains%s",
                destination,
                episode.capacity,
                signal,
                episode.dropped,
                DROPPED_METRIC,
                f"; {found}" if found else "",
            )

    def queue_drained(self, destination: str, signal: str, *, closing: bool = False) -> None:
        """The queue that was full is empty again (or, ``closing``, stops while full): the
        episode's last line, with the count it dropped."""
        with self._lock:
            episode = self._overflowing.pop((destination, signal), None)
        if episode is None:
            return
        what = "stopped with its queue still full" if closing else "caught up: its queue drained"
        # Not said yet (the queue filled while an export hung until shutdown): the remedy too.
        found = episode.remedy() if episode.remedy is not None and not episode.said else ""
        _log.warning(
            "telemetry export to %s %s; %d %s items were dropped while its queue was full%s%s",
            destination,
            what,
            episode.dropped,
            signal,
            f" (counted in the metric {DROPPED_METRIC} as queue_full)" if not episode.said else "",
            f"; {found}" if found else "",
        )

    def is_failing(self, destination: str) -> bool:
        """Whether the last export to ``destination`` failed."""
        with self._lock:
            return destination in self._failing

    def install_log_folding(self) -> None:
        for name in (*_NOISY_LOGGERS, _AZURE_LOGGER):
            logging.getLogger(name).addFilter(self._filter)

    def remove_log_folding(self) -> None:
        for name in (*_NOISY_LOGGERS, _AZURE_LOGGER):
            logging.getLogger(name).removeFilter(self._filter)


_live: weakref.WeakSet[ExportAccounting] = weakref.WeakSet()


def _start_afresh_after_fork() -> None:
    for accounting in list(_live):
        accounting._start_afresh()


# Registered on import, before delivery/queue.py's hook restarts the queues' export threads.
os.register_at_fork(after_in_child=_start_afresh_after_fork)


class _FoldSdkNoise(logging.Filter):
    def __init__(self, accounting: ExportAccounting) -> None:
        super().__init__()
        self._accounting = accounting

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if record.name == _AZURE_LOGGER:
            # Folded only when it is about one of our exports, which reports the outage.
            if message.startswith(_AZURE_ITEM_PREFIX):
                return getattr(_attempts, "current", None) is None
            return not (message.startswith(_AZURE_PREFIXES) and note_reason(_reason(record)))
        if not message.startswith(_NOISY_PREFIXES):
            return True
        note_reason(_reason(record), _status(record))
        return False


def _reason(record: logging.LogRecord) -> str:
    return record.getMessage()[:200]


def _status(record: logging.LogRecord) -> int:
    """The HTTP status of the OTLP exporter's "Failed to export %s batch code: %s, ..."."""
    args = record.args
    if str(record.msg).startswith(_OTLP_REFUSED) and isinstance(args, tuple) and len(args) > 1:
        status = args[1]
        return status if isinstance(status, int) else 0
    return 0
