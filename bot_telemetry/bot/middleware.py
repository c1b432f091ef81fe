"""``TelemetryMiddleware``: the turn span and the BotMessage* events, for any botbuilder adapter.

A drop-in for botbuilder-core's ``TelemetryLoggerMiddleware``: the same constructor
``(telemetry_client, log_personal_information)`` and the same ``fill_*`` and
``on_*_activity`` hooks to override, with what that one lacks: a turn span in the
request's trace, activityId/activityType/channelId/conversationId on every event, one
privacy policy behind the flag, and ``additional_properties`` that work.

    adapter.use(TelemetryMiddleware())
    adapter.use(TelemetryMiddleware(telemetry_client, True))   # as TelemetryLoggerMiddleware

The recording itself is runtime-neutral (``bot_telemetry.signals.turns.TurnTelemetry``,
shared with the Agents SDK's middleware); what is botbuilder's is here.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Never

from botbuilder.core import BotTelemetryClient, Middleware, NullTelemetryClient, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference
from opentelemetry import trace

from ..privacy import PrivacyPolicy, current_policy
from ..signals.turns import TurnTelemetry
from .telemetry_client import OpenTelemetryBotTelemetryClient

_log = logging.getLogger(__name__)


class TelemetryMiddleware(TurnTelemetry, Middleware):  # type: ignore[misc]
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
    send/update/delete ones) or ``turn_span_attributes`` (inherited from ``TurnTelemetry``,
    called with botbuilder ``Activity`` objects). Nothing here raises into the turn.
    """

    _tracer = trace.get_tracer("bot_telemetry.bot")

    def __init__(
        self,
        telemetry_client: BotTelemetryClient | None = None,
        log_personal_information: bool | None = None,
        *refused: Never,
        privacy: PrivacyPolicy | None = None,
        skip_send_types: Collection[str] = (ActivityTypes.trace, ActivityTypes.typing),
    ) -> None:
        # ``refused`` is never valid: it turns Python's "takes from 1 to 3 positional
        # arguments" into what to write (botbuilder's class takes exactly two).
        if refused:
            raise TypeError(
                "TelemetryMiddleware(telemetry_client, log_personal_information) takes two "
                f"positional arguments, as botbuilder's TelemetryLoggerMiddleware, got "
                f"{2 + len(refused)}: pass the others by keyword, privacy=PrivacyPolicy(...) "
                "or skip_send_types=(...)"
            )
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
        self.skip_send_types = self.send_types(skip_send_types)

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
        await self._run_turn(context, logic)

    def _deleted_activity(self, reference: ConversationReference) -> Activity:
        deleted: Activity = TurnContext.apply_conversation_reference(
            Activity(type=ActivityTypes.message_delete, id=reference.activity_id),
            reference,
            False,
        )
        return deleted
