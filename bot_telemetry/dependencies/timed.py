"""A middleware timed as its own span, for any runtime.

``MiddlewareTelemetry`` is what botbuilder's ``TimedMiddleware`` (``middleware.py``) and
the Agents SDK's (``agents.py``) share; they differ only in how the rest of the
pipeline is called (``logic()`` in botbuilder, ``logic(context)`` in the Agents SDK).

    adapter.use(TimedMiddleware(TranslationMiddleware(...), name="Translator"))

The middleware's ``on_turn`` becomes an INTERNAL span ``Middleware <name>``. A middleware
runs the rest of the pipeline from inside itself (its ``next``), so its span covers the
whole remaining turn and the bot's own spans are its children. How much of that time is
the middleware's own work is recorded separately:

- ``bot.middleware.self_time_ms``: time spent in the middleware itself,
- ``bot.middleware.downstream_time_ms``: time spent in the rest of the pipeline,
- ``bot.middleware.called_next``: whether it let the turn continue at all.

The turn is marked with ``turn_context_scope`` so storage calls further down can send
their trace activities to it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from opentelemetry.trace import SpanKind

from .._deprecated import renamed
from ..privacy import PrivacyPolicy
from ..signals.turn_context import turn_context_scope
from .call import Target, dependency_call
from .trace_activities import TraceActivities

COMPONENT: Final = "Middleware"
ATTR_SELF_TIME: Final = "bot.middleware.self_time_ms"
ATTR_DOWNSTREAM_TIME: Final = "bot.middleware.downstream_time_ms"
ATTR_CALLED_NEXT: Final = "bot.middleware.called_next"


class MiddlewareTelemetry:
    """Wraps ``middleware``; each runtime's subclass calls ``_timed`` from its ``on_turn``.

    ``name`` (default: the middleware's class name) names the span and the app-map node.
    """

    _wraps = "a middleware"

    def __init__(
        self,
        middleware: Any,
        name: str | None = None,
        *,
        trace_activities: TraceActivities | str | None = None,
        privacy: PrivacyPolicy | None = None,
        policy: PrivacyPolicy | None = None,
    ) -> None:
        privacy = renamed(type(self).__name__, "policy", "privacy", policy, privacy)
        if not callable(getattr(middleware, "on_turn", None)):
            raise TypeError(
                f"{type(self).__name__} wraps {self._wraps} (an object with an async "
                f"on_turn(context, logic)), got {type(middleware).__name__}"
            )
        self.inner = middleware
        self.name = name or type(middleware).__name__
        self._target = Target(self.name)
        self._trace_activities = TraceActivities.resolve(trace_activities)
        self._privacy = privacy

    async def _timed(self, context: Any, downstream: Downstream) -> Any:
        """Run the wrapped middleware as one call, handing it ``downstream.run``."""
        with turn_context_scope(context):
            async with dependency_call(
                f"{COMPONENT} {self.name}",
                self._target,
                component=COMPONENT,
                turn_context=context,
                kind=SpanKind.INTERNAL,
                trace_activities=self._trace_activities,
                privacy=self._privacy,
            ) as call:
                started = time.perf_counter_ns()
                try:
                    return await self.inner.on_turn(context, downstream.run)
                finally:
                    total = time.perf_counter_ns() - started
                    call.set_attribute(ATTR_SELF_TIME, (total - downstream.elapsed) / 1e6)
                    call.set_attribute(ATTR_DOWNSTREAM_TIME, downstream.elapsed / 1e6)
                    call.set_attribute(ATTR_CALLED_NEXT, downstream.calls > 0)


class Downstream:
    """The rest of the pipeline, timed each time the middleware runs it."""

    def __init__(self, logic: Callable[..., Awaitable[Any]]) -> None:
        self._logic = logic
        self.elapsed = 0
        self.calls = 0

    async def run(self, *context: Any) -> Any:
        """Run the rest of the pipeline with what the middleware passes on (nothing in
        botbuilder, the turn context in the Agents SDK)."""
        self.calls += 1
        started = time.perf_counter_ns()
        try:
            return await self._logic(*context)
        finally:
            self.elapsed += time.perf_counter_ns() - started
