"""``NormalizeTextMiddleware``: the sample's own middleware, timed by ``TimedMiddleware``.

It tidies what users type before anything else reads it: surrounding and repeated
whitespace goes, and very long messages are cut to what the recognizer accepts (LUIS
rejects queries over 500 characters), so one pasted essay cannot fail the turn.
botbuilder calls the rest of the pipeline with no argument (``logic()``); the Agents SDK
variant, ``AgentsNormalizeTextMiddleware``, passes the turn context on.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

MAX_TEXT_LENGTH = 500
_SPACES = re.compile(r"\s+")


class NormalizeTextMiddleware:
    def __init__(self, max_length: int = MAX_TEXT_LENGTH) -> None:
        self.max_length = max_length

    def normalize(self, activity: Any) -> None:
        if activity.type == "message" and activity.text:
            activity.text = _SPACES.sub(" ", activity.text).strip()[: self.max_length]

    async def on_turn(self, context: Any, logic: Callable[[], Awaitable[None]]) -> None:
        self.normalize(context.activity)
        await logic()


class AgentsNormalizeTextMiddleware(NormalizeTextMiddleware):
    async def on_turn(self, context: Any, logic: Callable[[Any], Awaitable[None]]) -> None:  # type: ignore[override]
        self.normalize(context.activity)
        await logic(context)
