"""``TelemetryMiddleware``: the turn span and the BotMessage* events, for any botbuilder adapter.

A drop-in for botbuilder-core's ``TelemetryLoggerMiddleware``: the same constructor
``(telemetry_client, log_personal_information)`` and the same ``fill_*`` and
``on_*_activity`` hooks to override, with what that one lacks: a turn span in the
request's trace, activityId/activityType/channelId/conversationId on every event, one
privacy policy behind the flag, and ``additional_properties`` that work.

    adapter.use(TelemetryMiddleware())
    adapter.use(TelemetryMiddleware(telemetry_client, True))   # as TelemetryLoggerMiddleware
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import Token
from enum import Enum
from typing import Any

from botbuilder.core import BotTelemetryClient, Middleware, NullTelemetryClient, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, ResourceResponse
from botframework.connector import Channels
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import contract
from ..privacy import PrivacyPolicy, current_policy
from ..signals import metrics
from ..signals.custom_events import (
    track_custom_event,
    with_turn_personal_values,
    with_turn_properties,
)
from ..signals.setup_check import warn_if_not_recording
from ..signals.turn_context import turn_context_scope
from .telemetry_client import OpenTelemetryBotTelemetryClient

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer("bot_telemetry.bot")
_ESCAPED = "exception.escaped"

Properties = dict[str, Any]


class TelemetryMiddleware(Middleware):  # type: ignore[misc]
    """Records each turn as a ``bot.turn`` span and its activities as custom events.

    Constructed like botbuilder's ``TelemetryLoggerMiddleware``: ``telemetry_client`` and
    ``log_personal_information``, by position or keyword. Everything is recorded through
    OpenTelemetry (``configure()``); the client only lends its privacy policy when it is an
    ``OpenTelemetryBotTelemetryClient``. Any other client is not called, so that a bot
    moving from Application Insights' client to ``configure()`` does not record each event
    twice.

    The policy is ``privacy`` if given, else the client's, else the one of the current
    ``configure()`` call; ``log_personal_information``, when given, replaces that policy's
    flag (its redaction patterns and keys stay). Activities whose type is in
    ``skip_send_types`` (trace and typing by default) get no BotMessageSend. Subclasses
    change what an event carries by overriding ``fill_receive_event_properties`` (and the
    send/update/delete ones) or ``turn_span_attributes``. Nothing here raises into the turn.
    """

    def __init__(
        self,
        telemetry_client: BotTelemetryClient | None = None,
        log_personal_information: bool | None = None,
        *,
        privacy: PrivacyPolicy | None = None,
        skip_send_types: Collection[str] = (ActivityTypes.trace, ActivityTypes.typing),
    ) -> None:
        if isinstance(telemetry_client, PrivacyPolicy):
            raise TypeError(
                "TelemetryMiddleware's first argument is botbuilder's telemetry_client; pass "
                "the policy by keyword: TelemetryMiddleware(privacy=PrivacyPolicy(...))"
            )
        if telemetry_client is not None and not isinstance(telemetry_client, BotTelemetryClient):
            raise TypeError(
                "TelemetryMiddleware(telemetry_client, log_personal_information): "
                "telemetry_client must be a botbuilder BotTelemetryClient (such as "
                "OpenTelemetryBotTelemetryClient()) or None, got "
                f"{type(telemetry_client).__name__}"
            )
        if log_personal_information is not None and not isinstance(log_personal_information, bool):
            raise TypeError(
                "TelemetryMiddleware(telemetry_client, log_personal_information): "
                "log_personal_information must be True, False or None (the policy decides), "
                f"got {type(log_personal_information).__name__}"
            )
        if privacy is not None and not isinstance(privacy, PrivacyPolicy):
            raise TypeError(
                f"TelemetryMiddleware(privacy=...) takes a PrivacyPolicy, got "
                f"{type(privacy).__name__}"
            )
        # botbuilder's null client is how its own code says "no client": nothing to tell.
        quiet = telemetry_client is None or type(telemetry_client) is NullTelemetryClient
        if not quiet and not isinstance(telemetry_client, OpenTelemetryBotTelemetryClient):
            _log.warning(
                "TelemetryMiddleware records through OpenTelemetry (configure()); the %s "
                "passed to it is not called, so no event is recorded twice",
                type(telemetry_client).__name__,
            )
        self._telemetry_client = telemetry_client
        self._flag = log_personal_information
        self._privacy = privacy
        self._derived: tuple[PrivacyPolicy, PrivacyPolicy] | None = None
        self.skip_send_types = frozenset(_type_name(kind) for kind in skip_send_types)

    @property
    def privacy(self) -> PrivacyPolicy:
        """The policy in force: ``privacy``, the client's, or ``configure()``'s, with
        ``log_personal_information`` applied when it was given."""
        base = self._privacy
        if base is None and isinstance(self._telemetry_client, OpenTelemetryBotTelemetryClient):
            base = self._telemetry_client.privacy
        if base is None:
            base = current_policy()
        if self._flag is None or base.log_personal_information == self._flag:
            return base
        derived = self._derived
        if derived is None or derived[0] is not base:
            # Built once per base policy: a policy caches its decisions and pseudonyms.
            derived = (base, dataclasses.replace(base, log_personal_information=self._flag))
            self._derived = derived
        return derived[1]

    @property
    def log_personal_information(self) -> bool:
        """botbuilder's flag, answered by the policy."""
        return self.privacy.log_personal_information

    @property
    def telemetry_client(self) -> BotTelemetryClient:
        """The client given, or an ``OpenTelemetryBotTelemetryClient`` with this middleware's
        policy (botbuilder's middleware has this property too)."""
        if self._telemetry_client is None:
            # Without a policy or flag of its own it follows configure(), as this does.
            own = self._privacy is not None or self._flag is not None
            self._telemetry_client = OpenTelemetryBotTelemetryClient(self.privacy if own else None)
        return self._telemetry_client

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[Any]]) -> None:
        span, token = self._start_turn(context)
        measured = _measure_turn(context.activity)
        failure: BaseException | None = None
        try:
            try:
                await self.on_receive_activity(context.activity)
            except Exception:  # an overridden hook that fails must not fail the turn
                _log.exception("could not record %s", contract.BOT_MESSAGE_RECEIVED)
            # Storage is not handed the turn; its trace activities find the turn through this.
            with turn_context_scope(context):
                await logic()
        except BaseException as error:
            failure = error
            if span is not None and span.is_recording():
                self._record_error(span, error)
            raise
        finally:
            if measured is not None:
                metrics.turn_ended(measured, failure)
            if token is not None:
                otel_context.detach(token)
            if span is not None:
                span.end()

    # --- botbuilder's hooks ------------------------------------------------------------

    async def on_receive_activity(self, activity: Activity) -> None:
        fill = self.fill_receive_event_properties
        await self._track(contract.BOT_MESSAGE_RECEIVED, activity, fill)

    async def on_send_activity(self, activity: Activity) -> None:
        if _type_name(activity.type) in self.skip_send_types:
            return
        await self._track(contract.BOT_MESSAGE_SEND, activity, self.fill_send_event_properties)

    async def on_update_activity(self, activity: Activity) -> None:
        await self._track(contract.BOT_MESSAGE_UPDATE, activity, self.fill_update_event_properties)

    async def on_delete_activity(self, activity: Activity) -> None:
        await self._track(contract.BOT_MESSAGE_DELETE, activity, self.fill_delete_event_properties)

    async def fill_receive_event_properties(
        self, activity: Activity, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageReceived's properties. Personal ones are filtered later, by the policy."""
        sender = activity.from_property
        recipient = activity.recipient
        conversation = activity.conversation
        properties = {
            **self._activity_properties(activity),
            contract.CONVERSATION_NAME: conversation.name if conversation else None,
            contract.FROM_ID: sender.id if sender else None,
            contract.FROM_NAME: _non_blank(sender.name if sender else None),
            contract.RECIPIENT_ID: recipient.id if recipient else None,
            contract.RECIPIENT_NAME: recipient.name if recipient else None,
            contract.LOCALE: activity.locale,
            contract.TEXT: _non_blank(activity.text),
            contract.SPEAK: _non_blank(activity.speak),
            **_teams_properties(activity),
        }
        return _merged(properties, additional_properties)

    async def fill_send_event_properties(
        self, activity: Activity, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageSend's properties."""
        sender = activity.from_property
        properties = {
            **self._activity_properties(activity),
            contract.REPLY_ACTIVITY_ID: activity.reply_to_id,
            contract.RECIPIENT_ID: _recipient_id(activity),
            contract.CONVERSATION_NAME: _conversation_name(activity),
            contract.LOCALE: activity.locale,
            contract.FROM_NAME: _non_blank(sender.name if sender else None),
            contract.TEXT: _non_blank(activity.text),
            contract.SPEAK: _non_blank(activity.speak),
        }
        # Serializing cards is not free: only when the policy would keep them.
        if activity.attachments and self.privacy.allows(contract.ATTACHMENTS):
            properties[contract.ATTACHMENTS] = [
                attachment.serialize() for attachment in activity.attachments
            ]
        return _merged(properties, additional_properties)

    async def fill_update_event_properties(
        self, activity: Activity, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageUpdate's properties."""
        properties = {
            **self._activity_properties(activity),
            contract.RECIPIENT_ID: _recipient_id(activity),
            contract.CONVERSATION_NAME: _conversation_name(activity),
            contract.LOCALE: activity.locale,
            contract.TEXT: _non_blank(activity.text),
        }
        return _merged(properties, additional_properties)

    async def fill_delete_event_properties(
        self, activity: Activity, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageDelete's properties."""
        properties = {
            **self._activity_properties(activity),
            contract.RECIPIENT_ID: _recipient_id(activity),
            contract.CONVERSATION_NAME: _conversation_name(activity),
        }
        return _merged(properties, additional_properties)

    def turn_span_attributes(self, activity: Activity) -> Properties:
        """The turn span's attributes. User and session ids are pseudonymized."""
        policy = self.privacy
        conversation_id = activity.conversation.id if activity.conversation else None
        user_id = activity.from_property.id if activity.from_property else None
        attributes: Properties = {
            contract.ATTR_ACTIVITY_ID: activity.id,
            contract.ATTR_ACTIVITY_TYPE: _type_name(activity.type),
            contract.ATTR_CHANNEL_ID: _plain(activity.channel_id),
            contract.ATTR_CONVERSATION_ID: conversation_id,
            contract.ATTR_GEN_AI_CONVERSATION_ID: conversation_id,
            contract.ATTR_SESSION_ID: policy.pseudonymize(conversation_id)
            if conversation_id
            else None,
            contract.ATTR_ENDUSER_PSEUDO_ID: policy.pseudonymize(user_id) if user_id else None,
        }
        return {key: value for key, value in attributes.items() if value is not None}

    # --- internals ---------------------------------------------------------------------

    def _record_error(self, span: trace.Span, error: BaseException) -> None:
        try:
            policy = self.privacy
            # Not span.record_exception: it would record the raw message and stack trace.
            span.add_event("exception", {**policy.exception_attributes(error), _ESCAPED: True})
            span.set_status(Status(StatusCode.ERROR, policy.error_description(error)))
        except Exception:
            _log.exception("could not record the turn's exception")

    def _start_turn(
        self, context: TurnContext
    ) -> tuple[trace.Span | None, Token[otel_context.Context] | None]:
        try:
            activity: Activity = context.activity
            attributes = self.turn_span_attributes(activity)
            span = _tracer.start_span(
                contract.TURN_SPAN_NAME, kind=SpanKind.INTERNAL, attributes=attributes
            )
            warn_if_not_recording(span)
            turn = self._activity_properties(activity)
            # Every event of the turn says whose it is (pseudonymously), so analytics can count
            # users and sessions from events alone.
            for key in contract.TURN_IDENTITY_KEYS:
                turn[key] = attributes.get(key)
            scope = with_turn_properties(
                {key: value for key, value in turn.items() if value is not None},
                trace.set_span_in_context(span),
            )
            sender = activity.from_property
            scope = with_turn_personal_values(
                (
                    activity.text,
                    activity.speak,
                    sender.name if sender else None,
                    sender.id if sender else None,
                ),
                scope,
            )
            token = otel_context.attach(scope)
            self._hook_pipeline(context, scope)
            return span, token
        except Exception:
            _log.exception("could not start the turn span")
            return None, None

    def _hook_pipeline(self, context: TurnContext, scope: otel_context.Context) -> None:
        async def on_send(
            _: TurnContext, activities: list[Activity], next_send: Callable[[], Awaitable[Any]]
        ) -> list[ResourceResponse] | None:
            responses: list[ResourceResponse] | None = await next_send()
            with _within(scope):
                for activity in activities:
                    kind = _type_name(activity.type)
                    if kind not in self.skip_send_types:
                        metrics.message_sent(_plain(activity.channel_id), kind)
                    await self.on_send_activity(activity)
            return responses

        async def on_update(
            _: TurnContext, activity: Activity, next_update: Callable[[], Awaitable[Any]]
        ) -> Any:
            response = await next_update()
            with _within(scope):
                await self.on_update_activity(activity)
            return response

        async def on_delete(
            _: TurnContext,
            reference: ConversationReference,
            next_delete: Callable[[], Awaitable[Any]],
        ) -> None:
            await next_delete()
            with _within(scope):
                deleted = TurnContext.apply_conversation_reference(
                    Activity(type=ActivityTypes.message_delete, id=reference.activity_id),
                    reference,
                    False,
                )
                await self.on_delete_activity(deleted)

        context.on_send_activities(on_send)
        context.on_update_activity(on_update)
        context.on_delete_activity(on_delete)

    async def _track(
        self,
        name: str,
        activity: Activity | None,
        fill: Callable[[Activity], Awaitable[Properties]],
    ) -> None:
        try:
            if activity is None:
                return
            properties = await fill(activity)
            turn_span = trace.get_current_span()
            track_custom_event(name, properties, privacy=self.privacy, span=turn_span)
        except Exception:  # a subclass hook that fails must not fail the turn
            _log.exception("could not record %s", name)

    def _activity_properties(self, activity: Activity) -> Properties:
        return {
            contract.ACTIVITY_ID: activity.id,
            contract.ACTIVITY_TYPE: _type_name(activity.type),
            contract.CHANNEL_ID: _plain(activity.channel_id),
            contract.CONVERSATION_ID: activity.conversation.id if activity.conversation else None,
        }


def _measure_turn(activity: Activity | None) -> Token[metrics.TurnMarks | None] | None:
    try:
        if activity is None:
            return None
        return metrics.turn_started(_plain(activity.channel_id), _type_name(activity.type))
    except Exception:
        _log.warning("could not start the turn's metrics", exc_info=True)
        return None


@contextmanager
def _within(scope: otel_context.Context) -> Iterator[None]:
    """Run in the turn's context even when a send happens from another task (proactive
    replies, ``asyncio.create_task``), so the event still lands in the turn's trace."""
    token = otel_context.attach(scope)
    try:
        yield
    except Exception:
        _log.exception("could not record an outgoing activity")
    finally:
        otel_context.detach(token)


def _merged(properties: Properties, additional: Properties | None) -> Properties:
    # botbuilder iterates the dict and reads ``prop.key`` (AttributeError on a str key);
    # here additional properties really do override the stock ones.
    return {**properties, **(additional or {})}


def _plain(value: Any) -> Any:
    # botbuilder's TestAdapter and Teams activities carry Channels members (a str Enum whose
    # str() is "Channels.ms_teams"): record the value, "msteams", as botbuilder's JSON does.
    return value.value if isinstance(value, Enum) else value


def _type_name(kind: object) -> str:
    # botbuilder uses both plain strings and ``ActivityTypes`` members (a str Enum whose
    # str() is "ActivityTypes.trace").
    return str(getattr(kind, "value", kind) or "")


def _recipient_id(activity: Activity) -> str | None:
    return activity.recipient.id if activity.recipient else None


def _conversation_name(activity: Activity) -> str | None:
    return activity.conversation.name if activity.conversation else None


def _non_blank(text: str | None) -> str | None:
    return text if text and text.strip() else None


def _teams_properties(activity: Activity) -> Properties:
    if activity.channel_id != Channels.ms_teams or not isinstance(activity.channel_data, dict):
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
