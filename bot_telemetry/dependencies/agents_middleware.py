"""``TimedMiddleware`` for the Microsoft 365 Agents SDK: any adapter middleware timed as
its own span.

    from bot_telemetry.agents import TimedMiddleware
    adapter.use(TimedMiddleware(TranscriptLoggerMiddleware(store), name="Transcript"))

The same span as botbuilder's (``timed.py``); the Agents SDK hands the rest of the
pipeline the turn context (``await logic(context)``), which is passed through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.hosting.core import TurnContext

from .timed import Downstream, MiddlewareTelemetry

__all__ = ["TimedMiddleware"]


class TimedMiddleware(MiddlewareTelemetry):
    """Wraps ``middleware`` and is itself an Agents SDK middleware (its ``Middleware`` is
    a protocol: any object with ``on_turn(context, logic)``).

    ``name`` (default: the middleware's class name) names the span and the app-map node.
    """

    _wraps = "an Agents SDK middleware"

    async def on_turn(
        self, context: TurnContext, logic: Callable[[TurnContext], Awaitable[Any]]
    ) -> Any:
        return await self._timed(context, Downstream(logic))
