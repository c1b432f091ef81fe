"""Items a backend refuses one by one while it takes the rest of the batch (Application
Insights' 206, OTLP's ``partial_success``): counted as lost, by reason, and said once per
kind, in the backend's words without the items' data (``privacy.item_data``).
"""

from __future__ import annotations

import logging
import threading

from ..delivery.accounting import DROPPED_METRIC
from ..privacy.item_data import without_item_data

_log = logging.getLogger("bot_telemetry.export")

REJECTED = "rejected"

__all__ = ["REJECTED", "Refusals", "without_item_data"]


class Refusals:
    """Says each kind of refusal once: the outage line tells an export that failed; items
    refused in a batch that was otherwise delivered are told here."""

    def __init__(self) -> None:
        self._told: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def tell(self, kind: str, what: str, reason: str = REJECTED) -> None:
        """``what`` was refused (e.g. "Application Insights refused telemetry items (400:
        ...)"), counted as ``reason``; said the first time ``(reason, kind)`` is seen."""
        with self._lock:
            if (reason, kind) in self._told:
                return
            self._told.add((reason, kind))
        _log.warning(
            "%s; they are counted in the metric %s as %s, and further items refused this "
            "way are only counted",
            what,
            DROPPED_METRIC,
            reason,
        )
