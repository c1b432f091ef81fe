"""Telemetry that could not be exported is counted, and reported once per outage.

With the backend down the SDK would log a line per dropped span (queue full) and the
OTLP exporter one per failed batch and retry: a bot under load would drown its own logs.
Instead we count what is lost in a metric (``bot_telemetry.telemetry.dropped``) and log
one line when an outage starts and one when export recovers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from opentelemetry.metrics import Meter

_log = logging.getLogger("bot_telemetry.export")


DROPPED_METRIC = "bot_telemetry.telemetry.dropped"

# The SDK's and OTLP exporter's loggers whose per-item and per-batch lines we fold into ours.
_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
)
_NOISY_PREFIXES = ("Failed to export", "Transient error")


class ExportAccounting:
    """Counts dropped telemetry per (signal, reason) and tracks outages per destination."""

    def __init__(self, meter: Meter) -> None:
        self._lock = threading.Lock()
        self._dropped: Counter[tuple[str, str]] = Counter()
        self._failing: dict[str, int] = {}
        self._recovered: dict[str, float] = {}  # when each destination last recovered
        self._last_reason = ""
        self._counter = meter.create_counter(
            DROPPED_METRIC, unit="{item}", description="Telemetry items dropped before export"
        )
        self._filter = _FoldSdkNoise(self)

    def dropped(self) -> dict[str, int]:
        """Items dropped so far, keyed ``"<signal>/<reason>"``."""
        with self._lock:
            return {f"{signal}/{reason}": n for (signal, reason), n in self._dropped.items()}

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
    ) -> None:
        """A batch was not delivered; the first failure of an outage is logged, with the
        exporter's exception (and its traceback) when it raised one. ``started`` (the
        ``time.monotonic()`` its export began) tells a request sent during the last outage,
        answered only after the destination recovered, from a new outage: such a late
        failure is counted, and starts no outage."""
        self.count(signal, "export_failed", items)
        with self._lock:
            recovered = self._recovered.get(destination)
            if started is not None and recovered is not None and started < recovered:
                return
            starting = destination not in self._failing
            self._failing[destination] = self._failing.get(destination, 0) + items
            reason = f"{type(error).__name__}: {error}"[:200] if error else self._last_reason
        if starting:
            _log.warning(
                "telemetry export to %s is failing%s; dropped telemetry is counted in the "
                "metric %s and export resumes by itself when the backend answers again",
                destination,
                f" ({reason})" if reason else "",
                DROPPED_METRIC,
                exc_info=error,
            )

    def export_succeeded(self, destination: str) -> None:
        with self._lock:
            lost = self._failing.pop(destination, None)
            if lost is not None:
                self._recovered[destination] = time.monotonic()
        if lost is not None:
            _log.warning(
                "telemetry export to %s recovered; %d items were dropped during the outage",
                destination,
                lost,
            )

    def is_failing(self, destination: str) -> bool:
        """Whether the last export to ``destination`` failed."""
        with self._lock:
            return destination in self._failing

    def note_reason(self, reason: str) -> None:
        with self._lock:
            self._last_reason = reason

    def install_log_folding(self) -> None:
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def remove_log_folding(self) -> None:
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)


class _FoldSdkNoise(logging.Filter):
    def __init__(self, accounting: ExportAccounting) -> None:
        super().__init__()
        self._accounting = accounting

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_NOISY_PREFIXES):
            return True
        self._accounting.note_reason(record.getMessage()[:200])
        return False
