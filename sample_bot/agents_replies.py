"""The richer replies of ``replies.py``, as the Agents SDK's activities: suggested actions
under the welcome, thumbs up/down under answers (a schema.org ``Message`` entity with a
``LikeAction`` and a ``DislikeAction``, which Bot Framework Web Chat draws)."""

from __future__ import annotations

import uuid
from typing import Any

from microsoft_agents.activity import Activity, CardAction, Entity, SuggestedActions

from .conversation import SUGGESTIONS


def with_suggestions(text: str) -> Activity:
    return Activity(
        type="message",
        text=text,
        suggested_actions=SuggestedActions(
            actions=[CardAction(type="imBack", title=title, value=title) for title in SUGGESTIONS]
        ),
    )


def with_feedback(text: str) -> Activity:
    """``text`` with thumbs up/down; each action's ``@id`` is unique, so the page can tell which
    reply a vote is for."""
    vote = uuid.uuid4().hex[:12]
    entity = MessageEntity(
        type="https://schema.org/Message",
        potential_action=[
            {"@type": "LikeAction", "@id": f"urn:vote:like:{vote}", "name": "Like"},
            {"@type": "DislikeAction", "@id": f"urn:vote:dislike:{vote}", "name": "Dislike"},
        ],
    )
    return Activity(type="message", text=text, entities=[entity])


class MessageEntity(Entity):
    """A schema.org ``Message`` entity: the SDK writes ``@type``, ``@context`` and ``@id``
    only for the fields a model declares."""

    at_type: str = "Message"
    at_context: str = "https://schema.org"
    at_id: str = ""
    potential_action: list[dict[str, Any]]
