"""Span names and attribute keys: what the bot puts on spans and log records, and what the
collector reads back from anyone's telemetry."""

from __future__ import annotations

from typing import Final

#: The name of the turn span; the collector finds turns by it.
TURN_SPAN_NAME: Final = "bot.turn"

ATTR_ACTIVITY_ID: Final = "activity.id"
ATTR_ACTIVITY_TYPE: Final = "activity.type"
ATTR_CHANNEL_ID: Final = "activity.channel_id"
ATTR_LOCALE: Final = "activity.locale"
#: What an invoke or event activity names (``adaptiveCard/action``, ``task/fetch``,
#: ``composeExtension/query``, ``webchat/join``); absent on activities without a name.
ATTR_ACTIVITY_NAME: Final = "activity.name"
#: The collector groups traces into conversations by this attribute.
ATTR_CONVERSATION_ID: Final = "activity.conversation.id"
ATTR_GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"

#: A model call's description (OpenTelemetry's GenAI conventions, as of semantic conventions
#: 1.37; ``gen_ai.system`` is the older name Azure Monitor still reads). Our own constants: the
#: semconv package keeps them only in its private ``_incubating`` module.
ATTR_GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
ATTR_GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
ATTR_GEN_AI_SYSTEM: Final = "gen_ai.system"
ATTR_GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
ATTR_GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
ATTR_GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
ATTR_GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
ATTR_GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
ATTR_GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
ATTR_GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
ATTR_GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
ATTR_SESSION_ID: Final = "session.id"
ATTR_ENDUSER_PSEUDO_ID: Final = "enduser.pseudo.id"
ATTR_SERVICE_VERSION: Final = "service.version"
#: ``true`` on a turn the bot started itself (``continue_conversation``: a proactive
#: message, a reminder), which no user activity started; absent on every other turn.
ATTR_TURN_PROACTIVE: Final = "bot.turn.proactive"
#: ``true`` on a turn whose activity the channel or its page sent on its own, nobody having
#: done anything (contract.analytics: ``CHANNEL_ACTIVITY_TYPES``, ``CLIENT_HOUSEKEEPING_EVENTS``:
#: a conversationUpdate, typing, Web Chat's ``webchat/join``); absent on every other turn.
#: Every event of the turn carries it too, so a backend that reads events alone (customEvents,
#: PostHog) can keep them out of user activity, as the collector's ``turns.by_user`` does.
ATTR_TURN_CHANNEL_SENT: Final = "bot.turn.channel_sent"
#: The names of the event activities both runtimes run a turn the bot started with
#: (``ActivityEventNames``: ``continue_conversation``, ``create_conversation``).
PROACTIVE_EVENT_NAMES: Final = ("ContinueConversation", "CreateConversation")

ATTR_PEER_SERVICE: Final = "peer.service"
ATTR_SERVICE_PEER_NAME: Final = "service.peer.name"
ATTR_SERVER_ADDRESS: Final = "server.address"
ATTR_SERVER_PORT: Final = "server.port"
ATTR_DB_SYSTEM_NAME: Final = "db.system.name"
ATTR_DB_NAMESPACE: Final = "db.namespace"

#: Where an event's pseudonymous user id comes from, most specific first: every custom
#: event of a turn carries the turn's ``enduser.pseudo.id`` (a turn property); older events
#: only BotMessageReceived's ``fromId`` (pseudonymized by the privacy policy).
USER_ATTRIBUTES: Final = (ATTR_ENDUSER_PSEUDO_ID, "fromId")
#: Where an event's session comes from: the turn's ``session.id`` (a turn property).
SESSION_ATTRIBUTES: Final = (ATTR_SESSION_ID,)
#: A log record's own unique id (OpenTelemetry's ``log.record.uid``): a client event's id
#: (a Sunbird ``mid``), from which forwarders derive the event's deterministic uuid.
ATTR_LOG_RECORD_UID: Final = "log.record.uid"
#: A resource attribute a process sets when it forwards its own events to PostHog, so that
#: ``bot-telemetry serve`` does not forward them a second time.
RESOURCE_POSTHOG_FORWARDED: Final = "bot_telemetry.posthog.forwarded"
#: OpenTelemetry's resource attribute naming the distribution a process's SDK came with, and
#: ours (``configure()`` sets it): ``bot-telemetry serve`` knows its sender applied the
#: privacy policy already, and applies it to other services' telemetry.
RESOURCE_DISTRO_NAME: Final = "telemetry.distro.name"
DISTRO_NAME: Final = "bot-telemetry"

#: The log record attribute Azure Monitor turns into a customEvents row.
CUSTOM_EVENT_NAME: Final = "microsoft.custom_event.name"
#: A custom event's numeric measurements, as one JSON object of ``{name: number}``. The Azure
#: Monitor exporter turns it into customMeasurements (and leaves it out of customDimensions).
CUSTOM_MEASUREMENTS: Final = "microsoft.custom_measurements"
#: The attribute some SDKs name an event by, instead of the LogRecord's event_name field.
EVENT_NAME: Final = "event.name"

#: Where a dependency's node name comes from, most specific first. Tempo's service graph
#: uses peer.service, db.name and db.system by default; Application Insights uses the target
#: (host, or db name). The stable conventions come first, then their older names.
PEER_ATTRIBUTES: Final = (
    ATTR_PEER_SERVICE,
    ATTR_SERVICE_PEER_NAME,
    ATTR_DB_SYSTEM_NAME,
    "db.system",
    ATTR_SERVER_ADDRESS,
    "net.peer.name",
)
#: Where a span's or record's conversation id comes from, most specific first.
CONVERSATION_ATTRIBUTES: Final = (
    ATTR_CONVERSATION_ID,
    ATTR_GEN_AI_CONVERSATION_ID,
    "conversationId",
)

#: Attributes of a turn span the embedded store keeps in columns of their own (filled at
#: ingest), so the turn queries never parse JSON: column name -> the attribute it holds.
PROMOTED_SPAN_ATTRIBUTES: Final = {
    "user_id": (ATTR_ENDUSER_PSEUDO_ID,),
    "session_id": (ATTR_SESSION_ID,),
    "channel_id": (ATTR_CHANNEL_ID,),
    "activity_id": (ATTR_ACTIVITY_ID,),
    "activity_type": (ATTR_ACTIVITY_TYPE,),
    "locale": (ATTR_LOCALE,),
}

__all__ = [
    "ATTR_ACTIVITY_ID",
    "ATTR_ACTIVITY_NAME",
    "ATTR_ACTIVITY_TYPE",
    "ATTR_CHANNEL_ID",
    "ATTR_CONVERSATION_ID",
    "ATTR_DB_NAMESPACE",
    "ATTR_DB_SYSTEM_NAME",
    "ATTR_ENDUSER_PSEUDO_ID",
    "ATTR_GEN_AI_CONVERSATION_ID",
    "ATTR_GEN_AI_OPERATION_NAME",
    "ATTR_GEN_AI_PROVIDER_NAME",
    "ATTR_GEN_AI_REQUEST_MAX_TOKENS",
    "ATTR_GEN_AI_REQUEST_MODEL",
    "ATTR_GEN_AI_REQUEST_TEMPERATURE",
    "ATTR_GEN_AI_RESPONSE_FINISH_REASONS",
    "ATTR_GEN_AI_RESPONSE_ID",
    "ATTR_GEN_AI_RESPONSE_MODEL",
    "ATTR_GEN_AI_SYSTEM",
    "ATTR_GEN_AI_USAGE_INPUT_TOKENS",
    "ATTR_GEN_AI_USAGE_OUTPUT_TOKENS",
    "ATTR_LOCALE",
    "ATTR_LOG_RECORD_UID",
    "ATTR_PEER_SERVICE",
    "ATTR_SERVER_ADDRESS",
    "ATTR_SERVER_PORT",
    "ATTR_SERVICE_PEER_NAME",
    "ATTR_SERVICE_VERSION",
    "ATTR_SESSION_ID",
    "ATTR_TURN_CHANNEL_SENT",
    "ATTR_TURN_PROACTIVE",
    "CONVERSATION_ATTRIBUTES",
    "CUSTOM_EVENT_NAME",
    "CUSTOM_MEASUREMENTS",
    "DISTRO_NAME",
    "EVENT_NAME",
    "PEER_ATTRIBUTES",
    "PROACTIVE_EVENT_NAMES",
    "PROMOTED_SPAN_ATTRIBUTES",
    "RESOURCE_DISTRO_NAME",
    "RESOURCE_POSTHOG_FORWARDED",
    "SESSION_ATTRIBUTES",
    "TURN_SPAN_NAME",
    "USER_ATTRIBUTES",
]
