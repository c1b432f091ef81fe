"""``TelemetryMiddleware``: the turn span and the BotMessage* events, for any botbuilder adapter.

A drop-in for botbuilder-core's ``TelemetryLoggerMiddleware`` (same ``fill_*`` and
``on_*_activity`` hooks to override), with what that one lacks: a turn span in the
request's trace, activityId/activityType/channelId/conversationId on every event, one
privacy policy instead of a flag, and ``additional_properties`` that work.

    adapter.use(TelemetryMiddleware())

The recording itself is runtime-neutral (``bot_telemetry.signals.turns.TurnTelemetry``,
shared with the Agents SDK's middleware); what is botbuilder's is here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from botbuilder.core import Middleware, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference
from opentelemetry import trace

from ..privacy import PrivacyPolicy, current_policy
from ..signals.turns import TurnTelemetry


class TelemetryMiddleware(TurnTelemetry, Middleware):  # type: ignore[misc]
    """Records each turn as a ``bot.turn`` span and its activities as custom events.

    ``privacy`` defaults to the policy of the current ``configure()`` call. Activities
    whose type is in ``skip_send_types`` (trace and typing by default) get no
    BotMessageSend. Subclasses change what an event carries by overriding
    ``fill_receive_event_properties`` (and the send/update/delete ones) or
    ``turn_span_attributes`` (inherited from ``TurnTelemetry``, called with botbuilder
    ``Activity`` objects). Nothing here raises into the turn.
    """

    _tracer = trace.get_tracer("bot_telemetry.bot")

    def __init__(
        self,
        privacy: PrivacyPolicy | None = None,
        *,
        skip_send_types: Collection[str] = (ActivityTypes.trace, ActivityTypes.typing),
    ) -> None:
        self._privacy = privacy
        self.skip_send_types = self.send_types(skip_send_types)

    @property
    def privacy(self) -> PrivacyPolicy:
        return self._privacy or current_policy()

    @property
    def log_personal_information(self) -> bool:
        """botbuilder's flag, answered by the policy."""
        return self.privacy.log_personal_information

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[Any]]) -> None:
        await self._run_turn(context, logic)

    def _deleted_activity(self, reference: ConversationReference) -> Activity:
        deleted: Activity = TurnContext.apply_conversation_reference(
            Activity(type=ActivityTypes.message_delete, id=reference.activity_id),
            reference,
            False,
        )
        return deleted
