"""Delivery layer: the one bounded export queue (``BatchQueue``) and the exact accounting of
what could not be delivered (``ExportAccounting``), shared by the bot side's exporters and
the collector side's forwarders. It imports only the OpenTelemetry API.

    queue = BatchQueue(send, signal="posthog", destination="PostHog", accounting=accounting)
    queue.put(item)          # the caller pays a lock and an append
"""

from .accounting import DEFERRED_METRIC, DROPPED_METRIC, ExportAccounting
from .queue import BatchQueue, Delivery

__all__ = ["DEFERRED_METRIC", "DROPPED_METRIC", "BatchQueue", "Delivery", "ExportAccounting"]
