"""The dependency wrappers for a bot on the Microsoft 365 Agents SDK.

    from bot_telemetry.dependencies.agents import (
        TelemetryQnA, TelemetryRecognizer, TelemetryStorage, TimedMiddleware,
    )
    app = AgentApplication[TurnState](storage=TelemetryStorage(MemoryStorage()), ...)
    adapter.use(TimedMiddleware(TranscriptLoggerMiddleware(store), name="Transcript"))

The same spans, events, app-map nodes and trace activities as botbuilder's wrappers (they
share ``stores.py``, ``timed.py``, ``recognition.py`` and ``qna.py``); only the Agents
SDK's signatures differ, and this module has them without importing the SDK (the SDK takes
any object with those methods: its ``Storage`` is an ABC no one checks, its ``Middleware``
a protocol):

- ``TelemetryStorage.read(keys, *, target_cls)``: the item class is a keyword, forwarded;
- ``TimedMiddleware.on_turn(context, logic)``: the rest of the pipeline is called with the
  turn context, passed through;
- ``TelemetryRecognizer``: the SDK has no recognizer type; anything with
  ``recognize(turn_context)`` whose result has LUIS's shape.

The SDK's own ``agents.storage.*`` spans (``BlobStorage`` only) are switched off by
``configure()``, so each storage operation is one span (docs/agents.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .qna import TelemetryQnA
from .recognition import RecognizerTelemetry
from .stores import StorageTelemetry, succeeded
from .timed import Downstream, MiddlewareTelemetry

__all__ = ["TelemetryQnA", "TelemetryRecognizer", "TelemetryStorage", "TimedMiddleware"]

ItemT = TypeVar("ItemT")


class TelemetryStorage(StorageTelemetry):
    """Wraps an Agents SDK ``Storage`` and is one; results pass through as is."""

    _wraps = "an Agents SDK Storage"

    async def read(
        self, keys: list[str], *, target_cls: type[ItemT], **kwargs: Any
    ) -> dict[str, ItemT]:
        async with self._call("Read", keys) as call:
            items: dict[str, ItemT] = await self.inner.read(keys, target_cls=target_cls, **kwargs)
            succeeded(call, items)
        return items

    async def write(self, changes: dict[str, Any]) -> None:
        async with self._call("Write", changes) as call:
            await self.inner.write(changes)
            succeeded(call)

    async def delete(self, keys: list[str]) -> None:
        async with self._call("Delete", keys) as call:
            await self.inner.delete(keys)
            succeeded(call)


class TimedMiddleware(MiddlewareTelemetry):
    """Wraps an Agents SDK middleware (any object with ``on_turn(context, logic)``) and is
    one. ``name`` (default: the middleware's class name) names the span and the app-map node.
    """

    _wraps = "an Agents SDK middleware"

    async def on_turn(self, context: Any, logic: Callable[[Any], Awaitable[Any]]) -> Any:
        return await self._timed(context, Downstream(logic))


class TelemetryRecognizer(RecognizerTelemetry):
    """Wraps a recognizer (``recognize(turn_context)``); returns exactly what it returns.

    ``name`` names the app-map node (default: the recognizer's class name); ``endpoint``
    (a URL) adds ``server.address``/``server.port``. ``luis_result_event=True`` names the
    event ``LuisResult``.
    """
