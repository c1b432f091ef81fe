"""Items a backend refuses one by one while it takes the rest of the batch (Application
Insights' 206, OTLP's ``partial_success``): counted as lost, by reason, and said once per
kind, in the backend's words without the items' data.

A backend's message may quote what it refused ("Actual: alice@example.com", "span 'Alice's
order'"): ``without_item_data`` keeps the service's words and drops what follows
``Expected:``/``Actual:`` and any quoted value that is not a field or type name.
"""

from __future__ import annotations

import logging
import re
import threading

from ..delivery.accounting import DROPPED_METRIC

_log = logging.getLogger("bot_telemetry.export")

REJECTED = "rejected"

_ITS_DATA = re.compile(r"\s*(Expected|Actual)\s*:.*", re.DOTALL | re.IGNORECASE)
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_NAMED = re.compile(r"(field|type|property|key|attribute)\s*$", re.IGNORECASE)
_NAME = re.compile(r"[\w.]+")


def without_item_data(message: str, limit: int = 160) -> str:
    """``message`` without what may be the refused item's own data (see the module doc)."""
    text = _ITS_DATA.sub("", message).strip()

    def quoted(found: re.Match[str]) -> str:
        value = found.group(1) if found.group(1) is not None else found.group(2)
        named = _NAMED.search(text, 0, found.start())
        return found.group(0) if named and _NAME.fullmatch(value) else "'…'"

    return _QUOTED.sub(quoted, text).rstrip(" .,;")[:limit]


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
