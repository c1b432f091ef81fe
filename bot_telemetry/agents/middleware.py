"""``TelemetryMiddleware`` for the Microsoft 365 Agents SDK: the ``bot.turn`` span and the
BotMessage* events, exactly as botbuilder's ``TelemetryMiddleware`` records them.

    adapter = CloudAdapter(connection_manager=connections)
    adapter.use(TelemetryMiddleware())
    record_application_errors(app)   # turns an @app.error handler swallowed still fail

The recording is shared with botbuilder's middleware (``signals.turns.TurnTelemetry``):
same span name, attributes, event names and property keys, same ``fill_*`` and
``on_*_activity`` hooks to override. What differs is the Agents SDK's pipeline: the rest
of it is called with the context (``await logic(context)``).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Never

from microsoft_agents.activity import Activity, ActivityTypes, ConversationReference
from microsoft_agents.hosting.core import AgentApplication, TurnContext
from opentelemetry import trace

from .._private import application_error_dispatch, replace_application_error_dispatch
from ..privacy import PrivacyPolicy, current_policy
from ..signals.turns import DEFAULT_SKIP_SEND_TYPES, TurnTelemetry, fail_current_turn

__all__ = ["TelemetryMiddleware", "record_application_errors"]


class TelemetryMiddleware(TurnTelemetry):
    """Records each turn as a ``bot.turn`` span and its activities as custom events.

    Register it on the adapter (``adapter.use``): it then wraps the whole turn, the
    ``AgentApplication`` included. ``privacy`` defaults to the policy of the current
    ``configure()`` call. Activities whose type is in ``skip_send_types`` (trace and
    typing by default) get no BotMessageSend. Nothing here raises into the turn.
    """

    _tracer = trace.get_tracer("bot_telemetry.agents")

    def __init__(
        self,
        privacy: PrivacyPolicy | None = None,
        *refused: Never,
        skip_send_types: Collection[str] = DEFAULT_SKIP_SEND_TYPES,
    ) -> None:
        # ``refused`` is never valid: it is there so that botbuilder's two-argument line,
        # TelemetryMiddleware(telemetry_client, True), is told what to write here rather
        # than Python's "takes from 1 to 2 positional arguments".
        if refused:
            raise TypeError(
                f"TelemetryMiddleware takes one positional argument, a PrivacyPolicy, got "
                f"{1 + len(refused)} (botbuilder's TelemetryMiddleware(telemetry_client, "
                "log_personal_information)?). On the Agents SDK the middleware takes no "
                "telemetry client (events go through configure()): write "
                "TelemetryMiddleware(PrivacyPolicy(log_personal_information=True)) for "
                "botbuilder's True, TelemetryMiddleware() for False; skip_send_types= by keyword"
            )
        if privacy is not None and not isinstance(privacy, PrivacyPolicy):
            # botbuilder's TelemetryMiddleware(telemetry_client, flag) moved here as is
            # would otherwise make every turn record nothing, silently.
            raise TypeError(
                "TelemetryMiddleware(privacy=...) takes a PrivacyPolicy or None, got "
                f"{type(privacy).__name__}. On the Agents SDK the middleware takes no "
                "telemetry client (events go through configure()): write "
                "TelemetryMiddleware(), or TelemetryMiddleware(PrivacyPolicy("
                "log_personal_information=True)) for botbuilder's flag"
            )
        self._privacy = privacy
        self.skip_send_types = self.send_types(skip_send_types)

    @property
    def privacy(self) -> PrivacyPolicy:
        return self._privacy or current_policy()

    @property
    def log_personal_information(self) -> bool:
        """botbuilder's flag, answered by the policy."""
        return self.privacy.log_personal_information

    async def on_turn(
        self, context: TurnContext, logic: Callable[[TurnContext], Awaitable[Any]]
    ) -> None:
        await self._run_turn(context, functools.partial(logic, context))

    def _deleted_activity(self, reference: ConversationReference) -> Activity:
        return TurnContext.apply_conversation_reference(
            Activity(type=ActivityTypes.message_delete, id=reference.activity_id),
            reference,
            False,
        )


def record_application_errors(app: AgentApplication[Any]) -> AgentApplication[Any]:
    """Mark the turn failed when ``app``'s error handling runs; returns ``app``.

    An ``AgentApplication`` with an ``@app.error`` handler hands route errors to it and
    never re-raises, so the turn middleware sees a turn that went well. This wraps the
    application's error dispatch (all handlers, present and future): the ``bot.turn``
    span gets the exception (as the privacy policy allows) and an ERROR status first, then
    the handlers run as before; without handlers the error still propagates to the
    middleware as usual. ``privacy`` is the policy of the current ``configure()`` call.
    """
    if not isinstance(app, AgentApplication):
        raise TypeError(
            "record_application_errors() takes an AgentApplication (microsoft-agents-hosting-"
            f"core 1.9), got {type(app).__name__}"
        )
    dispatch = application_error_dispatch(app)
    if not callable(dispatch):
        return app  # the SDK changed: _private logged it; failed turns stay unmarked
    if dispatch in _WRAPPED:
        return app

    async def on_error(context: TurnContext, error: Exception) -> None:
        fail_current_turn(error, current_policy())
        await dispatch(context, error)

    _WRAPPED.add(on_error)
    replace_application_error_dispatch(app, on_error)
    return app


#: The dispatches put in place, so a second call does not wrap one twice.
_WRAPPED: weakref.WeakSet[Any] = weakref.WeakSet()
