"""PostHog: our events on PostHog's capture API (``POST /batch/``), for the bot's exporter,
``serve``'s forwarder and the backfill alike. Sits above ``delivery`` and ``privacy``;
both halves may import it.

    settings = PostHogSettings.from_environment()    # POSTHOG_API_KEY, POSTHOG_HOST, ...
    forwarder = PostHogForwarder(settings, accounting)
    forwarder.put(EventRecord("QnAMessage", time_ns, trace_id, span_id, attributes, "bot"))
"""

from .events import EventRecord, capture_event, event_uuid, session_uuid
from .forwarder import PostHogForwarder, map_and_send
from .sender import CaptureSender
from .settings import PostHogSettings

__all__ = [
    "CaptureSender",
    "EventRecord",
    "PostHogForwarder",
    "PostHogSettings",
    "capture_event",
    "event_uuid",
    "map_and_send",
    "session_uuid",
]
