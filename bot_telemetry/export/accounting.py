"""Drop accounting lives in ``bot_telemetry.delivery.accounting`` (the collector side's
forwarders count their losses the same way); these names stay importable from here."""

from __future__ import annotations

from ..delivery.accounting import DEFERRED_METRIC, DROPPED_METRIC, ExportAccounting

__all__ = ["DEFERRED_METRIC", "DROPPED_METRIC", "ExportAccounting"]
