"""``NormalizeTextMiddleware``: the sample's own middleware, timed by ``TimedMiddleware``.

It tidies what users type before anything else reads it: surrounding and repeated
whitespace goes, and very long messages are cut to what the recognizer accepts (LUIS
rejects queries over 500 characters), so one pasted essay cannot fail the turn.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from botbuilder.core import Middleware, TurnContext
from botbuilder.schema import ActivityTypes

MAX_TEXT_LENGTH = 500
_SPACES = re.compile(r"\s+")


class NormalizeTextMiddleware(Middleware):  # type: ignore[misc]
    def __init__(self, max_length: int = MAX_TEXT_LENGTH) -> None:
        self.max_length = max_length

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        activity = context.activity
        if activity.type == ActivityTypes.message and activity.text:
            activity.text = _SPACES.sub(" ", activity.text).strip()[: self.max_length]
        await logic()
