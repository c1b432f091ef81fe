"""Prompt answers from the Agents SDK's dialog prompts (microsoft-agents-hosting-dialogs):
the same as ``bot_telemetry.bot.prompts`` for botbuilder, with the same events.

    record_prompt_answers(main_dialog)      # like set_telemetry_client; nested dialogs too
"""

from __future__ import annotations

from microsoft_agents.hosting.dialogs.prompts import (
    AttachmentPrompt,
    ChoicePrompt,
    ConfirmPrompt,
    DateTimePrompt,
    NumberPrompt,
    TextPrompt,
)

from ..privacy import PrivacyPolicy
from ..signals.prompt_wiring import PromptKinds, wire_prompts
from .dialogs import DialogTree, dialogs_in

#: The question type of each prompt class (subclasses take their base's).
QUESTION_TYPES: PromptKinds = (
    (ChoicePrompt, "choice"),
    (ConfirmPrompt, "confirm"),
    (NumberPrompt, "number"),
    (DateTimePrompt, "datetime"),
    (AttachmentPrompt, "attachment"),
    (TextPrompt, "text"),
)


def record_prompt_answers(root: DialogTree, *, privacy: PrivacyPolicy | None = None) -> int:
    """Record an event per answer for every prompt in the tree below ``root`` (each prompt
    wired once); how many were wired."""
    return wire_prompts(dialogs_in(root), QUESTION_TYPES, privacy)


__all__ = ["QUESTION_TYPES", "record_prompt_answers"]
