"""Prompt answers from botbuilder's dialog prompts: one call wires a whole dialog tree.

    record_prompt_answers(main_dialog)      # like set_telemetry_client; nested dialogs too

Every text, choice, number, confirm, date-time and attachment prompt below the root then
records a ``PromptAnswered`` event for each answer it is given: the question (asking dialog
and step, type, the prompt's and retry prompt's text, a choice prompt's choices), the answer
as recognised, how long the user took since the prompt (or its last retry) was sent, whether
it was valid (score 1/1, else 0/1), the dialog path and whether the asking dialog ended with
it (its last question). How: ``bot_telemetry.signals.prompt_wiring``. OAuth and activity
prompts are left alone (their answers are tokens and events, not answers to a question).
"""

from __future__ import annotations

from botbuilder.dialogs.prompts import (
    AttachmentPrompt,
    ChoicePrompt,
    ConfirmPrompt,
    DateTimePrompt,
    NumberPrompt,
    TextPrompt,
)

from ..privacy import PrivacyPolicy
from ..signals.prompt_wiring import PROMPTED_AT, PromptKinds, wire_prompts
from .dialogs import DialogTree, walk_dialogs

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
    """Record an event per answer for every prompt in the tree below ``root``.

    Returns how many prompts were wired (each only once, however often this is called).
    Prompts added later need another call. ``privacy`` defaults to ``configure()``'s policy.
    """
    return wire_prompts(walk_dialogs(root, "record_prompt_answers"), QUESTION_TYPES, privacy)


__all__ = ["PROMPTED_AT", "QUESTION_TYPES", "record_prompt_answers"]
