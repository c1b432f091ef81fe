"""Replies a web chat can do more with: suggested actions under the welcome, and thumbs up/down
under answers (Bot Framework Web Chat 4.18 draws them from a schema.org ``Message`` entity
whose ``potentialAction`` holds a ``LikeAction`` and a ``DislikeAction``). Other channels show
the text and ignore the rest.
"""

from __future__ import annotations

import uuid
from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.schema import Activity, CardAction, Entity, SuggestedActions

from .conversation import SUGGESTIONS

__all__ = ["SUGGESTIONS", "MessageEntity", "with_feedback", "with_suggestions"]


def with_suggestions(text: str) -> Activity:
    activity: Activity = MessageFactory.text(text)
    activity.suggested_actions = SuggestedActions(
        actions=[CardAction(type="imBack", title=title, value=title) for title in SUGGESTIONS]
    )
    return activity


def with_feedback(text: str) -> Activity:
    """``text`` with thumbs up/down; each action's ``@id`` is unique, so the page can tell which
    reply a vote is for."""
    activity: Activity = MessageFactory.text(text)
    vote = uuid.uuid4().hex[:12]
    activity.entities = [
        MessageEntity(
            potential_action=[
                {"@type": "LikeAction", "@id": f"urn:vote:like:{vote}", "name": "Like"},
                {"@type": "DislikeAction", "@id": f"urn:vote:dislike:{vote}", "name": "Dislike"},
            ]
        )
    ]
    return activity


class MessageEntity(Entity):  # type: ignore[misc]
    """A schema.org ``Message`` entity; msrest serializes only the keys its map names."""

    _attribute_map = {
        "type": {"key": "type", "type": "str"},
        "context": {"key": "@context", "type": "str"},
        "id": {"key": "@id", "type": "str"},
        "schema_type": {"key": "@type", "type": "str"},
        "potential_action": {"key": "potentialAction", "type": "[object]"},
    }

    def __init__(self, potential_action: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(type="https://schema.org/Message", **kwargs)
        self.context = "https://schema.org"
        self.id = ""
        self.schema_type = "Message"
        self.potential_action = potential_action
