"""Client events: Sunbird telemetry v3 events from a front end (web chat, app), stored as
events beside the bot's.

Each stored client event is a log record named by its ``eid`` (``START``, ``INTERACT``, ...)
whose attributes are the event's fields flattened under ``sunbird.``: ``sunbird.edata.rating``,
``sunbird.context.pdata.id``, ``sunbird.cdata.Conversation``. Lists stay lists (``sunbird.tags``,
``sunbird.context.cdata``). Besides those, a few keys every event query already knows:
``conversationId`` (from a cdata item of type ``Conversation``), ``fromId`` (the actor,
pseudonymised with the bot's key) and ``session.id``.

    from bot_telemetry.contract import CLIENT_EVENT_EIDS, ATTR_SUNBIRD_MID
"""

from __future__ import annotations

from typing import Final

#: Every eid of the v3 specification.
CLIENT_EVENT_EIDS: Final = (
    "START",
    "END",
    "IMPRESSION",
    "INTERACT",
    "FEEDBACK",
    "LOG",
    "ERROR",
    "INTERRUPT",
    "SUMMARY",
    "ASSESS",
    "RESPONSE",
    "SHARE",
    "SEARCH",
    "AUDIT",
    "EXDATA",
    "METRICS",
    "HEARTBEAT",
)

#: The page's own events, not something its user did (as Web Chat's ``webchat/join`` is not):
#: it starts (``START``, on load) and ends (``END``, the tab closed), is shown
#: (``IMPRESSION``: sent on load with ``START``, no choice of the user's; a user moving
#: elsewhere in the page is an ``INTERACT``), goes to the background (``INTERRUPT``),
#: sums itself up as it ends (``SUMMARY``), beats, logs, fails, reports figures or audits.
#: Sessions and retention do not count them as the user's (docs/journeys.md, Whose doing an
#: event is); ``INTERACT``, ``FEEDBACK``, ``SEARCH``, ``SHARE``, ``ASSESS``, ``RESPONSE``
#: and ``EXDATA`` (the app's own data) go by the trace they name.
CLIENT_LIFECYCLE_EIDS: Final = (
    "START",
    "END",
    "IMPRESSION",
    "INTERRUPT",
    "SUMMARY",
    "HEARTBEAT",
    "LOG",
    "ERROR",
    "METRICS",
    "AUDIT",
)

#: The instrumentation scope of stored client events, and of the failed set (invalid events
#: kept with their reason; they have no event name, so event views do not list them).
CLIENT_EVENT_SCOPE: Final = "bot_telemetry.client.sunbird"
CLIENT_FAILED_SCOPE: Final = "bot_telemetry.client.sunbird.failed"

#: The prefix of every flattened field.
SUNBIRD_PREFIX: Final = "sunbird."
ATTR_SUNBIRD_EID: Final = "sunbird.eid"
ATTR_SUNBIRD_MID: Final = "sunbird.mid"
ATTR_SUNBIRD_VER: Final = "sunbird.ver"
ATTR_SUNBIRD_ETS: Final = "sunbird.ets"
#: When the collector received the event (ms since the epoch), as Sunbird's ``syncts``.
ATTR_SUNBIRD_SYNCTS: Final = "sunbird.syncts"
#: ``syncts`` as ISO 8601, as Sunbird's and DIGIT's ``@timestamp``.
ATTR_SUNBIRD_TIMESTAMP: Final = "sunbird.@timestamp"
ATTR_SUNBIRD_ACTOR_ID: Final = "sunbird.actor.id"
ATTR_SUNBIRD_ACTOR_TYPE: Final = "sunbird.actor.type"
ATTR_SUNBIRD_CHANNEL: Final = "sunbird.context.channel"
ATTR_SUNBIRD_ENV: Final = "sunbird.context.env"
ATTR_SUNBIRD_PDATA_ID: Final = "sunbird.context.pdata.id"
ATTR_SUNBIRD_PDATA_VER: Final = "sunbird.context.pdata.ver"
ATTR_SUNBIRD_PDATA_PID: Final = "sunbird.context.pdata.pid"
ATTR_SUNBIRD_SID: Final = "sunbird.context.sid"
ATTR_SUNBIRD_DID: Final = "sunbird.context.did"
ATTR_SUNBIRD_CDATA: Final = "sunbird.context.cdata"
#: ``sunbird.cdata.<type>``: each cdata item's id by its type, e.g. ``sunbird.cdata.Conversation``.
SUNBIRD_CDATA_PREFIX: Final = "sunbird.cdata."
ATTR_SUNBIRD_TAGS: Final = "sunbird.tags"
SUNBIRD_EDATA_PREFIX: Final = "sunbird.edata."
SUNBIRD_OBJECT_PREFIX: Final = "sunbird.object."
#: ``client`` when the page sent a session id, ``server`` when the collector made one.
ATTR_SUNBIRD_SESSION_SOURCE: Final = "sunbird.session.source"
#: The bundle an event came in (its ``params.msgid``) and the bundle's ``id``.
ATTR_SUNBIRD_MSGID: Final = "sunbird.bundle.msgid"
ATTR_SUNBIRD_BUNDLE_ID: Final = "sunbird.bundle.id"

#: Why an event is in the failed set.
ATTR_SUNBIRD_FAILURE_FIELD: Final = "sunbird.failure.field"
ATTR_SUNBIRD_FAILURE_EXPECTED: Final = "sunbird.failure.expected"
ATTR_SUNBIRD_FAILURE_REASON: Final = "sunbird.failure.reason"

#: cdata types that link an event to the bot's telemetry (compared case-insensitively).
CDATA_CONVERSATION: Final = "Conversation"
CDATA_TRACE: Final = "Trace"
CDATA_SPAN: Final = "Span"

#: HTTP headers that stand in for missing context, as Sunbird's ingest service reads them.
HEADER_DEVICE_ID: Final = "X-Device-ID"
HEADER_CHANNEL_ID: Final = "X-Channel-ID"
HEADER_APP_ID: Final = "X-App-ID"

#: Free text in edata, per eid: recorded only when the privacy policy allows personal data,
#: and then redacted. ``extra`` is INTERACT's open object (a suggested action's value is what
#: the user said).
CLIENT_FREE_TEXT: Final = {
    # START's ``loc``: where the device is (a city, or coordinates): personal like a name
    "START": ("loc",),
    "FEEDBACK": ("comments", "commenttxt"),
    "SEARCH": ("query",),
    "LOG": ("message",),
    "ERROR": ("err", "stacktrace"),
    "INTERACT": ("extra",),
    "RESPONSE": ("values",),
    "ASSESS": ("resvalues",),
}

__all__ = [
    "ATTR_SUNBIRD_ACTOR_ID",
    "ATTR_SUNBIRD_ACTOR_TYPE",
    "ATTR_SUNBIRD_BUNDLE_ID",
    "ATTR_SUNBIRD_CDATA",
    "ATTR_SUNBIRD_CHANNEL",
    "ATTR_SUNBIRD_DID",
    "ATTR_SUNBIRD_EID",
    "ATTR_SUNBIRD_ENV",
    "ATTR_SUNBIRD_ETS",
    "ATTR_SUNBIRD_FAILURE_EXPECTED",
    "ATTR_SUNBIRD_FAILURE_FIELD",
    "ATTR_SUNBIRD_FAILURE_REASON",
    "ATTR_SUNBIRD_MID",
    "ATTR_SUNBIRD_MSGID",
    "ATTR_SUNBIRD_PDATA_ID",
    "ATTR_SUNBIRD_PDATA_PID",
    "ATTR_SUNBIRD_PDATA_VER",
    "ATTR_SUNBIRD_SESSION_SOURCE",
    "ATTR_SUNBIRD_SID",
    "ATTR_SUNBIRD_SYNCTS",
    "ATTR_SUNBIRD_TAGS",
    "ATTR_SUNBIRD_TIMESTAMP",
    "ATTR_SUNBIRD_VER",
    "CDATA_CONVERSATION",
    "CDATA_SPAN",
    "CDATA_TRACE",
    "CLIENT_EVENT_EIDS",
    "CLIENT_EVENT_SCOPE",
    "CLIENT_FAILED_SCOPE",
    "CLIENT_FREE_TEXT",
    "CLIENT_LIFECYCLE_EIDS",
    "HEADER_APP_ID",
    "HEADER_CHANNEL_ID",
    "HEADER_DEVICE_ID",
    "SUNBIRD_CDATA_PREFIX",
    "SUNBIRD_EDATA_PREFIX",
    "SUNBIRD_OBJECT_PREFIX",
    "SUNBIRD_PREFIX",
]
