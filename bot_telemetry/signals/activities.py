"""What a BotMessage* event and the turn span say about an activity, for any runtime.

botbuilder's ``Activity`` (msrest) and the Agents SDK's (pydantic) have the same field
names (``from_property``, ``recipient``, ``conversation``, ``reply_to_id``, ...), so one
reading serves both; the few differences are handled here and nowhere else:

- activity types are ``ActivityTypes`` members in botbuilder (a str Enum whose ``str()``
  is ``"ActivityTypes.trace"``) and plain strings in the Agents SDK;
- the Agents SDK's ``channel_id`` is a ``ChannelId`` (a ``str`` subclass that may carry a
  sub-channel, ``"msteams:COPILOT"``): recorded as a plain ``str``;
- attachments serialize with ``serialize()`` (msrest) or ``model_dump()`` (pydantic).

Personal properties (text, names, attachments) are put in; the privacy policy takes them
out when the event is recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from .. import contract
from ..privacy import PrivacyPolicy

Properties = dict[str, Any]

#: The channel id Microsoft Teams uses (botframework-connector's ``Channels.ms_teams``).
TEAMS_CHANNEL = "msteams"
#: The activity type of an invoke's answer: botbuilder and the Agents SDK send it through
#: the turn's send pipeline, its ``value`` the ``InvokeResponse``.
INVOKE_RESPONSE = contract.INVOKE_RESPONSE_ACTIVITY_TYPE


def type_name(kind: object) -> str:
    """An activity type as a plain string, whichever runtime's type it is.

    >>> type_name("message")
    'message'
    """
    return str(getattr(kind, "value", kind) or "")


def channel_name(channel_id: object) -> str | None:
    """The channel id as a plain string: botbuilder's ``TestAdapter`` and Teams activities
    carry ``Channels`` members (a str Enum whose ``str()`` is "Channels.ms_teams"), the
    Agents SDK a ``ChannelId`` (a str subclass).

    >>> channel_name("msteams:COPILOT")
    'msteams:COPILOT'
    """
    if isinstance(channel_id, Enum):
        channel_id = channel_id.value
    return str.__str__(channel_id) if isinstance(channel_id, str) else None


def is_proactive(activity: Any) -> bool:
    """Whether the activity is one both runtimes make up for ``continue_conversation`` or
    ``create_conversation``: the turn is the bot's own (a proactive message, a reminder);
    nobody sent it anything."""
    return (
        activity is not None
        and type_name(activity.type) == "event"
        and type_name(getattr(activity, "name", None)) in contract.PROACTIVE_EVENT_NAMES
    )


def is_channel_sent(activity: Any) -> bool:
    """Whether the channel, or its page, sent the activity on its own, nobody having done
    anything: a conversationUpdate, typing, ... (``CHANNEL_ACTIVITY_TYPES``) or an event a
    page sends when it opens (``CLIENT_HOUSEKEEPING_EVENTS``: Web Chat's ``webchat/join``).
    The collector's ``turns.by_user`` holds the same rule (store.vocabulary)."""
    if activity is None:
        return False
    kind = type_name(activity.type)
    if kind in contract.CHANNEL_ACTIVITY_TYPES:
        return True
    return kind == "event" and (
        type_name(getattr(activity, "name", None)) in contract.CLIENT_HOUSEKEEPING_EVENTS
    )


def invoke_status(activity: Any) -> int | None:
    """The HTTP status an ``invokeResponse`` activity answers its invoke with, or None:
    its ``value`` is botbuilder's ``InvokeResponse``, the Agents SDK's, or a dict."""
    value = getattr(activity, "value", None)
    status = value.get("status") if isinstance(value, Mapping) else getattr(value, "status", None)
    if isinstance(status, bool) or not isinstance(status, int):
        return None
    return status


def as_sent(activity: Any, responses: Any, index: int) -> Any:
    """The sent ``activity`` with the id the channel gave it (the ``ResourceResponse`` at
    ``index``), which is the id ``update_activity`` and ``delete_activity`` name it by.

    Both runtimes clear an outgoing activity's id and return the channel's id apart;
    recorded as it was, a reply would have no id of its own and take the turn's (the
    incoming activity's). A copy: the activity is the bot's.
    """
    if getattr(activity, "id", None) or not isinstance(responses, Sequence):
        return activity
    if index >= len(responses):
        return activity
    given = getattr(responses[index], "id", None)
    if not isinstance(given, str) or not given:
        return activity
    sent = copy.copy(activity)
    sent.id = given
    return sent


def activity_properties(activity: Any) -> Properties:
    """``activityId``, ``activityType``, ``channelId`` and ``conversationId``: every
    BotMessage* event carries them, and so does every other event of the turn."""
    conversation = activity.conversation
    return {
        contract.ACTIVITY_ID: activity.id,
        contract.ACTIVITY_TYPE: type_name(activity.type),
        contract.CHANNEL_ID: channel_name(activity.channel_id),
        contract.CONVERSATION_ID: conversation.id if conversation else None,
    }


def received_properties(activity: Any) -> Properties:
    """BotMessageReceived's properties."""
    sender = activity.from_property
    recipient = activity.recipient
    conversation = activity.conversation
    return {
        **activity_properties(activity),
        contract.CONVERSATION_NAME: conversation.name if conversation else None,
        contract.FROM_ID: sender.id if sender else None,
        contract.FROM_NAME: non_blank(sender.name if sender else None),
        contract.RECIPIENT_ID: recipient.id if recipient else None,
        contract.RECIPIENT_NAME: recipient.name if recipient else None,
        contract.LOCALE: activity.locale,
        contract.ACTIVITY_NAME: activity_name(activity),
        contract.TEXT: non_blank(activity.text),
        contract.SPEAK: non_blank(activity.speak),
        **reaction_properties(activity),
        **teams_properties(activity),
    }


def sent_properties(activity: Any, *, with_attachments: bool = False) -> Properties:
    """BotMessageSend's properties; attachments only when asked (serializing cards is not
    free, so only when the policy would keep them)."""
    sender = activity.from_property
    properties = {
        **activity_properties(activity),
        contract.REPLY_ACTIVITY_ID: activity.reply_to_id,
        contract.RECIPIENT_ID: _recipient_id(activity),
        contract.CONVERSATION_NAME: _conversation_name(activity),
        contract.LOCALE: activity.locale,
        contract.FROM_NAME: non_blank(sender.name if sender else None),
        contract.TEXT: non_blank(activity.text),
        contract.SPEAK: non_blank(activity.speak),
    }
    if with_attachments and activity.attachments:
        properties[contract.ATTACHMENTS] = [_serialized(a) for a in activity.attachments]
    return properties


def updated_properties(activity: Any) -> Properties:
    """BotMessageUpdate's properties."""
    return {
        **activity_properties(activity),
        contract.RECIPIENT_ID: _recipient_id(activity),
        contract.CONVERSATION_NAME: _conversation_name(activity),
        contract.LOCALE: activity.locale,
        contract.TEXT: non_blank(activity.text),
    }


def deleted_properties(activity: Any) -> Properties:
    """BotMessageDelete's properties."""
    return {
        **activity_properties(activity),
        contract.RECIPIENT_ID: _recipient_id(activity),
        contract.CONVERSATION_NAME: _conversation_name(activity),
    }


def turn_span_attributes(activity: Any, policy: PrivacyPolicy) -> Properties:
    """The turn span's attributes. User and session ids are pseudonymized."""
    raw_conversation = activity.conversation.id if activity.conversation else None
    conversation_id = policy.conversation_id(raw_conversation) if raw_conversation else None
    session_id = policy.pseudonymize(raw_conversation) if raw_conversation else None
    user_id = activity.from_property.id if activity.from_property else None
    attributes: Properties = {
        contract.ATTR_ACTIVITY_ID: activity.id,
        contract.ATTR_ACTIVITY_TYPE: type_name(activity.type),
        contract.ATTR_CHANNEL_ID: channel_name(activity.channel_id),
        # The analytics model's turns.locale (measures narrowed by locale read it).
        contract.ATTR_LOCALE: activity.locale or None,
        # Which invoke (a card action, a task module) or event: the client chose the name,
        # so it is judged as a value the policy does not know (a single token is kept).
        contract.ATTR_ACTIVITY_NAME: _judged(policy, contract.ATTR_ACTIVITY_NAME, name)
        if (name := activity_name(activity))
        else None,
        contract.ATTR_CONVERSATION_ID: conversation_id,
        contract.ATTR_GEN_AI_CONVERSATION_ID: conversation_id,
        contract.ATTR_SESSION_ID: session_id,
        contract.ATTR_ENDUSER_PSEUDO_ID: policy.pseudonymize(user_id) if user_id else None,
        # The user is the one the bot writes to; analytics leave such turns out of user
        # activity (activeUsers, sessions) and the conversation view shows no user line.
        contract.ATTR_TURN_PROACTIVE: True if is_proactive(activity) else None,
        # Nor a turn the channel or the page sent on its own (Web Chat opening, typing).
        contract.ATTR_TURN_CHANNEL_SENT: True if is_channel_sent(activity) else None,
    }
    return {key: value for key, value in attributes.items() if value is not None}


def activity_name(activity: Any) -> str | None:
    """An invoke's or event's name (``adaptiveCard/action``), or None: the made-up events of
    a proactive turn keep theirs off (``bot.turn.proactive`` says what they are)."""
    if is_proactive(activity):
        return None
    name = type_name(getattr(activity, "name", None))
    return name or None


def reaction_properties(activity: Any) -> Properties:
    """A ``messageReaction``'s reaction types and the message they are about (a reply of
    the bot's: Teams users' feedback on it)."""
    if type_name(activity.type) != "messageReaction":
        return {}
    return {
        contract.REACTIONS_ADDED: _reaction_types(getattr(activity, "reactions_added", None)),
        contract.REACTIONS_REMOVED: _reaction_types(getattr(activity, "reactions_removed", None)),
        contract.REPLY_ACTIVITY_ID: getattr(activity, "reply_to_id", None),
    }


def _reaction_types(reactions: Any) -> str | None:
    if not isinstance(reactions, list):
        return None
    kinds = [type_name(getattr(each, "type", None)) for each in reactions]
    return ",".join(kind for kind in kinds if kind) or None


def _judged(policy: PrivacyPolicy, key: str, value: str) -> str | None:
    found = policy.apply({key: value}).get(key)
    return found if isinstance(found, str) else None


def merged(properties: Properties, additional: Mapping[str, Any] | None) -> Properties:
    """``properties`` with ``additional`` on top.

    botbuilder iterates the dict and reads ``prop.key`` (AttributeError on a str key);
    here additional properties really do override the stock ones.
    """
    return {**properties, **(additional or {})}


def non_blank(text: str | None) -> str | None:
    return text if text and text.strip() else None


def teams_properties(activity: Any) -> Properties:
    """botbuilder's Teams extras on BotMessageReceived: tenant, user's AAD object, team."""
    channel = channel_name(activity.channel_id) or ""
    if channel.split(":", 1)[0] != TEAMS_CHANNEL or not isinstance(activity.channel_data, dict):
        return {}
    tenant = activity.channel_data.get("tenant") or {}
    team = activity.channel_data.get("team")
    properties: Properties = {
        contract.TEAMS_TENANT_ID: tenant.get("id") if isinstance(tenant, dict) else None,
        contract.TEAMS_USER_AAD_OBJECT_ID: activity.from_property.aad_object_id
        if activity.from_property
        else None,
    }
    if isinstance(team, dict):
        properties[contract.TEAMS_TEAM_INFO] = team
    return properties


def _recipient_id(activity: Any) -> str | None:
    return activity.recipient.id if activity.recipient else None


def _conversation_name(activity: Any) -> str | None:
    return activity.conversation.name if activity.conversation else None


def _serialized(attachment: Any) -> Any:
    serialize = getattr(attachment, "serialize", None)  # botbuilder (msrest)
    if callable(serialize):
        return serialize()
    dump = getattr(attachment, "model_dump", None)  # the Agents SDK (pydantic)
    if callable(dump):
        return dump(by_alias=True, exclude_none=True, mode="json")
    return attachment
