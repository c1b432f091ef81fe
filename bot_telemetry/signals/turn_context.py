"""The turn a task is working on, for dependencies that are not handed a turn context.

botbuilder's ``Storage`` API takes keys, not a turn, yet a storage call is part of a
turn and its trace activity belongs in that turn's conversation. Middleware that sees
the turn (``TimedMiddleware``, and ``TelemetryMiddleware`` when it enters this scope)
marks it here; ``TelemetryStorage`` reads it.

    with turn_context_scope(turn_context):
        await logic()
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class TurnContextLike(Protocol):
    """What this package needs of a turn context; botbuilder's and the Agents SDK's both
    have it, so the dependency layer types against this and imports neither."""

    @property
    def activity(self) -> Any: ...

    async def send_trace_activity(
        self,
        name: str,
        value: Any = None,
        value_type: str | None = None,
        label: str | None = None,
    ) -> Any: ...


# Any runtime's turn context (botbuilder's or the Agents SDK's): this layer imports neither.
_turn: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "bot_telemetry_turn_context", default=None
)


@contextmanager
def turn_context_scope(turn_context: Any) -> Iterator[None]:
    """Within this block (and tasks started in it) ``current_turn_context()`` is this turn."""
    token = _turn.set(turn_context)
    try:
        yield
    finally:
        _turn.reset(token)


def current_turn_context() -> Any:
    """The turn marked by the innermost ``turn_context_scope``, if any."""
    return _turn.get()
