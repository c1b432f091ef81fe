"""``TimedMiddleware``: any botbuilder ``Middleware`` timed as its own span.

    adapter.use(TimedMiddleware(TranslationMiddleware(...), name="Translator"))

What the span carries (self and downstream time, whether the turn went on): ``timed.py``.
The Agents SDK's middleware (``logic(context)``) has its own wrapper,
in ``agents.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import Middleware, TurnContext

from .timed import (
    ATTR_CALLED_NEXT,
    ATTR_DOWNSTREAM_TIME,
    ATTR_SELF_TIME,
    COMPONENT,
    Downstream,
    MiddlewareTelemetry,
)

__all__ = [
    "ATTR_CALLED_NEXT",
    "ATTR_DOWNSTREAM_TIME",
    "ATTR_SELF_TIME",
    "COMPONENT",
    "TimedMiddleware",
]


class TimedMiddleware(MiddlewareTelemetry, Middleware):  # type: ignore[misc]
    """Wraps ``middleware`` and is itself a botbuilder ``Middleware``.

    ``name`` (default: the middleware's class name) names the span and the app-map node.
    """

    _wraps = "a botbuilder Middleware"

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[Any]]) -> Any:
        return await self._timed(context, Downstream(logic))
