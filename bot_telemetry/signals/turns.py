"""The turn span and the BotMessage* events, for any runtime's turn context.

botbuilder's ``TurnContext`` and the Agents SDK's register send, update and delete
handlers the same way (``on_send_activities``, ``on_update_activity``,
``on_delete_activity``, each handler called with the context, what is sent and ``next``),
so ``TurnTelemetry`` does all the recording; a runtime's middleware only says how to run
the rest of its pipeline and how to build the deleted activity from a conversation
reference:

    class TelemetryMiddleware(TurnTelemetry):
        async def on_turn(self, context, logic):
            await self._run_turn(context, lambda: logic(context))
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import contract
from ..correlation.outgoing import channel_peer_scope, name_channel_requests
from ..privacy import PrivacyPolicy
from ..privacy.exceptions import mark_recorded
from . import activities, metrics
from .activities import Properties
from .consent import lookup_consent
from .custom_events import (
    track_custom_event,
    turn_span,
    with_turn_personal_values,
    with_turn_properties,
)
from .setup_check import warn_if_not_recording
from .turn_consent import TurnConsent, with_turn_consent
from .turn_context import turn_context_scope

_log = logging.getLogger(__name__)
_ESCAPED = "exception.escaped"

#: The errors already recorded on the turn in progress (by ``fail_current_turn``), so the
#: same error reaching the turn's middleware afterwards is not recorded twice. A list set
#: when the turn starts: tasks the turn spawns share it.
_recorded_errors: ContextVar[list[BaseException] | None] = ContextVar(
    "bot_telemetry_turn_errors", default=None
)

#: Activity types that get no BotMessageSend unless asked (as in botbuilder).
DEFAULT_SKIP_SEND_TYPES = ("trace", "typing")


class TurnTelemetry(ABC):
    """Records each turn as a ``bot.turn`` span and its activities as custom events.

    Subclasses set ``_tracer`` and ``skip_send_types``, give ``privacy``, implement
    ``_deleted_activity`` and call ``_run_turn`` from their middleware hook. They change
    what an event carries by overriding ``fill_receive_event_properties`` (and the
    send/update/delete ones) or ``turn_span_attributes``. Nothing here raises into the turn.
    """

    _tracer: trace.Tracer = trace.get_tracer("bot_telemetry.signals")
    skip_send_types: frozenset[str] = frozenset(DEFAULT_SKIP_SEND_TYPES)

    @property
    @abstractmethod
    def privacy(self) -> PrivacyPolicy:
        """The policy events and the turn span are filtered by."""

    @staticmethod
    def send_types(kinds: Collection[object]) -> frozenset[str]:
        """``skip_send_types`` from activity types of either runtime."""
        if isinstance(kinds, str):
            # ("typing") without its comma: a set of letters would skip nothing, silently.
            name = activities.type_name(kinds)
            raise TypeError(
                "skip_send_types takes a collection of activity types, such as "
                f"({name!r},) or ('trace', 'typing'), got the string {name!r}"
            )
        return frozenset(activities.type_name(kind) for kind in kinds)

    # --- the turn -----------------------------------------------------------------------

    async def _run_turn(self, context: Any, logic: Callable[[], Awaitable[Any]]) -> None:
        """Run the rest of the pipeline (``logic``) as one turn."""
        if context.turn_state.get(_RECORDED_BY) is not None:
            # Ours again on the same adapter (a set-up run twice): the first one records the
            # turn; this one would make a second bot.turn span and record every event twice.
            await logic()
            return
        context.turn_state[_RECORDED_BY] = self
        consent = await self._turn_consent(context)
        span, token = self._start_turn(context, consent)
        measured = _measure_turn(context.activity)
        recorded: list[BaseException] = []
        errors = _recorded_errors.set(recorded)
        failure: BaseException | None = None
        try:
            try:
                # A proactive turn's activity is made up by continue_conversation: nobody
                # sent it, so it is no BotMessageReceived (the turn span says proactive).
                if not activities.is_proactive(context.activity):
                    await self.on_receive_activity(context.activity)
            except Exception:  # an overridden hook that fails must not fail the turn
                _log.exception("could not record %s", contract.BOT_MESSAGE_RECEIVED)
            # Storage is not handed the turn; its trace activities find the turn through this.
            with turn_context_scope(context), _channel_scope(context):
                await logic()
        except BaseException as error:
            failure = error
            already = any(each is error for each in recorded)
            if span is not None and span.is_recording() and not already:
                self._record_error(span, error)
            raise
        finally:
            _recorded_errors.reset(errors)
            if measured is not None:
                metrics.turn_ended(measured, failure)
            if token is not None:
                otel_context.detach(token)
            if span is not None:
                span.end()

    @abstractmethod
    def _deleted_activity(self, reference: Any) -> Any:
        """The runtime's ``messageDelete`` activity for a deleted conversation reference."""

    # --- botbuilder's hooks --------------------------------------------------------------

    async def on_receive_activity(self, activity: Any) -> None:
        fill = self.fill_receive_event_properties
        await self._track(contract.BOT_MESSAGE_RECEIVED, activity, fill)

    async def on_send_activity(self, activity: Any) -> None:
        if activities.type_name(activity.type) in self.skip_send_types:
            return
        await self._track(contract.BOT_MESSAGE_SEND, activity, self.fill_send_event_properties)

    async def on_update_activity(self, activity: Any) -> None:
        await self._track(contract.BOT_MESSAGE_UPDATE, activity, self.fill_update_event_properties)

    async def on_delete_activity(self, activity: Any) -> None:
        await self._track(contract.BOT_MESSAGE_DELETE, activity, self.fill_delete_event_properties)

    async def fill_receive_event_properties(
        self, activity: Any, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageReceived's properties. Personal ones are filtered later, by the policy."""
        return activities.merged(activities.received_properties(activity), additional_properties)

    async def fill_send_event_properties(
        self, activity: Any, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageSend's properties."""
        properties = activities.sent_properties(
            activity, with_attachments=self.privacy.allows(contract.ATTACHMENTS)
        )
        return activities.merged(properties, additional_properties)

    async def fill_update_event_properties(
        self, activity: Any, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageUpdate's properties."""
        return activities.merged(activities.updated_properties(activity), additional_properties)

    async def fill_delete_event_properties(
        self, activity: Any, additional_properties: Properties | None = None
    ) -> Properties:
        """BotMessageDelete's properties."""
        return activities.merged(activities.deleted_properties(activity), additional_properties)

    def turn_span_attributes(self, activity: Any) -> Properties:
        """The turn span's attributes. User and session ids are pseudonymized."""
        return activities.turn_span_attributes(activity, self.privacy)

    # --- internals -----------------------------------------------------------------------

    def _record_error(self, span: trace.Span, error: BaseException) -> None:
        record_error(span, error, self.privacy)

    async def _turn_consent(self, context: Any) -> TurnConsent | None:
        """Under ``consent_mode``, whether this turn's user consented (one registry lookup)."""
        try:
            policy = self.privacy
            if not policy.consent_mode:
                return None
            sender = context.activity.from_property if context.activity else None
            user_key = policy.pseudonymize(sender.id) if sender and sender.id else None
            return await lookup_consent(user_key, policy)
        except Exception:
            _log.exception("could not look up the user's consent")
            return None

    def _start_turn(
        self, context: Any, consent: TurnConsent | None = None
    ) -> tuple[trace.Span | None, Token[otel_context.Context] | None]:
        try:
            activity = context.activity
            attributes = self.turn_span_attributes(activity)
            span = self._tracer.start_span(
                contract.TURN_SPAN_NAME, kind=SpanKind.INTERNAL, attributes=attributes
            )
            warn_if_not_recording(span)
            turn = self._activity_properties(activity)
            # Every event of the turn says whose it is (pseudonymously), so analytics can count
            # users and sessions from events alone.
            for key in contract.TURN_IDENTITY_KEYS:
                turn[key] = attributes.get(key)
            # And whether the bot wrote unasked, so a backend that reads events alone
            # (customEvents, PostHog) can keep reminders out of its user activity.
            turn[contract.ATTR_TURN_PROACTIVE] = attributes.get(contract.ATTR_TURN_PROACTIVE)
            # Or whether the channel sent the turn's activity on its own (a welcome's
            # BotMessageSend is a message: its activityType cannot tell).
            turn[contract.ATTR_TURN_CHANNEL_SENT] = attributes.get(contract.ATTR_TURN_CHANNEL_SENT)
            scope = with_turn_properties(
                {key: value for key, value in turn.items() if value is not None},
                trace.set_span_in_context(span),
                span=span,
            )
            # record_consent() changes it for the rest of the turn.
            user_key = attributes.get(contract.ATTR_ENDUSER_PSEUDO_ID)
            scope = with_turn_consent(consent or TurnConsent(user_key), scope)
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

    def _hook_pipeline(self, context: Any, scope: otel_context.Context) -> None:
        # botbuilder sends once every handler has returned, so a handler cannot wrap the send;
        # it names the turn's channel for what follows in this task instead. Within the turn
        # that is already so (and undone when the turn ends); it matters for the replies the
        # adapter's on_turn_error sends after the turn span ended.
        async def record_sent(sent: list[Any], responses: Any) -> None:
            with _within(scope):
                for index, activity in enumerate(sent):
                    kind = activities.type_name(activity.type)
                    if kind not in self.skip_send_types:
                        metrics.message_sent(activities.channel_name(activity.channel_id), kind)
                    if kind == activities.INVOKE_RESPONSE:
                        _note_invoke_answer(activity)
                    await self.on_send_activity(activities.as_sent(activity, responses, index))

        async def on_send(
            turn: Any, sent: list[Any], next_send: Callable[[], Awaitable[Any]]
        ) -> Any:
            _name_channel(turn)
            responses = await next_send()
            waiting = _sends_waiting.get()
            if responses is None and waiting is not None:
                waiting.append(sent)  # botbuilder: sent after this returns (send_activities)
            else:
                await record_sent(sent, responses)
            return responses

        _record_after_sending(context, record_sent)

        async def on_update(
            turn: Any, activity: Any, next_update: Callable[[], Awaitable[Any]]
        ) -> Any:
            _name_channel(turn)
            response = await next_update()
            with _within(scope):
                await self.on_update_activity(activity)
            return response

        async def on_delete(
            turn: Any, reference: Any, next_delete: Callable[[], Awaitable[Any]]
        ) -> None:
            _name_channel(turn)
            await next_delete()
            with _within(scope):
                await self.on_delete_activity(self._deleted_activity(reference))

        context.on_send_activities(on_send)
        context.on_update_activity(on_update)
        context.on_delete_activity(on_delete)

    async def _track(
        self,
        name: str,
        activity: Any,
        fill: Callable[[Any], Awaitable[Properties]],
    ) -> None:
        try:
            if activity is None:
                return
            properties = await fill(activity)
            track_custom_event(
                name, properties, privacy=self.privacy, span=trace.get_current_span()
            )
        except Exception:  # a subclass hook that fails must not fail the turn
            _log.exception("could not record %s", name)

    def _activity_properties(self, activity: Any) -> Properties:
        return activities.activity_properties(activity)


def fail_current_turn(error: BaseException, policy: PrivacyPolicy) -> bool:
    """Mark the turn this code runs in as failed with ``error``; False outside a turn.

    For runtimes whose error handlers swallow the exception before the turn middleware
    sees it (the Agents SDK's ``@app.error``). The same error reaching the turn's middleware
    afterwards (no handler took it) is not recorded again.
    """
    span = turn_span()
    if not span.is_recording():
        return False
    recorded = _recorded_errors.get()
    if recorded is not None:
        if any(each is error for each in recorded):
            return True
        recorded.append(error)
    record_error(span, error, policy)
    metrics.note_turn_failed(error)
    return True


def record_error(span: trace.Span, error: BaseException, policy: PrivacyPolicy) -> None:
    """The turn's exception on its span, as the policy allows, and the span failed."""
    try:
        # Not span.record_exception: it would record the raw message and stack trace.
        span.add_event("exception", {**policy.exception_attributes(error), _ESCAPED: True})
        span.set_status(Status(StatusCode.ERROR, policy.error_description(error)))
        mark_recorded(error)
    except Exception:
        _log.exception("could not record the turn's exception")


#: The activities a ``send_activities`` call in progress is sending, for it to record once
#: the channel has given their ids (set by ``_record_after_sending``'s wrapper).
_sends_waiting: ContextVar[list[list[Any]] | None] = ContextVar(
    "bot_telemetry_sends_waiting", default=None
)


def _record_after_sending(
    context: Any, record_sent: Callable[[list[Any], Any], Awaitable[None]]
) -> None:
    """Make the turn's ``send_activities`` record what it sent once it was sent.

    botbuilder runs the send handlers before it sends (``TurnContext._emit`` awaits the
    send after every handler has returned), so a handler never sees the ids the channel
    gives the replies, the ids ``update_activity`` and ``delete_activity`` name them by. The
    context's own ``send_activities`` (``send_activity`` calls it too) returns them: this
    turn's context gets a wrapper that collects what the handler saw and records it then.
    The Agents SDK's handlers get the ids themselves; the wrapper finds nothing waiting.
    """
    original = getattr(context, "send_activities", None)
    if not callable(original):
        return

    async def send_activities(*args: Any, **kwargs: Any) -> Any:
        waiting: list[list[Any]] = []
        token = _sends_waiting.set(waiting)
        responses: Any = None
        try:
            responses = await original(*args, **kwargs)
            return responses
        finally:
            _sends_waiting.reset(token)
            for sent in waiting:  # a send that failed is recorded without ids, as before
                await record_sent(sent, responses)

    try:
        context.send_activities = send_activities
    except Exception:  # a context that takes no attribute: replies keep the turn's id
        _log.debug("could not wrap the turn's send_activities", exc_info=True)


def _note_invoke_answer(activity: Any) -> None:
    """An invoke the bot answered with a server error (its own 500, botbuilder's 501 for an
    invoke no handler took) failed in Teams as surely as one that raised, though no
    exception reached the turn: the turn span (in whose scope this runs) says so."""
    status = activities.invoke_status(activity)
    if status is None or status < 500:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(contract.ATTR_ERROR_TYPE, str(status))
    span.set_status(Status(StatusCode.ERROR, f"invoke answered {status}"))
    metrics.note_turn_error_type(str(status))


#: The turn_state key of the middleware recording the turn.
_RECORDED_BY = "bot_telemetry.turn_recorded_by"


def _measure_turn(activity: Any) -> Token[metrics.TurnMarks | None] | None:
    try:
        if activity is None:
            return None
        channel = activities.channel_name(activity.channel_id)
        kind = activities.type_name(activity.type)
        return metrics.turn_started(channel, kind, received=not activities.is_proactive(activity))
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


def _channel_of(context: Any) -> tuple[object, str | None]:
    """The turn's channel: its ``service_url`` and its name."""
    activity = getattr(context, "activity", None)
    return (
        getattr(activity, "service_url", None),
        activities.channel_name(getattr(activity, "channel_id", None)),
    )


def _channel_scope(context: Any) -> AbstractContextManager[None]:
    """Within, requests to the turn's channel are named after the channel."""
    return channel_peer_scope(*_channel_of(context))


def _name_channel(context: Any) -> None:
    try:
        name_channel_requests(*_channel_of(context))
    except Exception:  # naming a peer must never fail a send
        _log.debug("could not name the turn's channel", exc_info=True)
