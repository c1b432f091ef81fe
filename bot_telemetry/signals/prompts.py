"""Prompt answers, for any runtime: one ``PromptAnswered`` event per answer a user gives a
question the bot asked, valid or not — what a data exhaust's response file is made of.

The runtime's adapter (``bot_telemetry.bot.prompts`` for botbuilder's dialog prompts) fills a
``PromptAnswer``; this module decides what of it may be recorded:

* the answer is personal data (``promptResponse``): recorded only when the policy allows it
  for this user (``log_personal_information``, or ``consent_mode`` and the user's consent);
* the question's texts are bot-authored, so they are kept, but a prompt may quote the user
  ("a table under the name Ana?"): unless personal data is allowed, the personal values it
  may quote (the user's name and id, and ``quotable``: what the user had said when the
  prompt was sent, their earlier answers in the dialog) and the redaction patterns are
  replaced in them. Not the answer (``answer_text``): the question was written before it,
  and replacing it in a choice's options would show which option was chosen. Under
  ``consent_mode`` the texts are made safe whatever the user's consent, so a later
  withdrawal leaves nothing personal in them;
* the rest (ids, type, scores, duration, dialog path) holds no personal data.

    track_prompt_answer(PromptAnswer(question_id="booking.steps#1", question_type="number",
                                     title="How many people?", response=4, valid=True, ...))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import contract
from ..privacy import PrivacyPolicy, current_policy
from .custom_events import MIN_PERSONAL_VALUE_LENGTH, track_custom_event, turn_personal_values
from .turn_consent import turn_consent_granted

#: The texts made safe here, which the policy then only bounds.
_MADE_SAFE = (contract.QUESTION_TITLE, contract.QUESTION_DESCRIPTION, contract.QUESTION_OPTIONS)


@dataclass(frozen=True)
class PromptAnswer:
    """One answer to one question. ``response`` is the recognised value (JSON-able) or, when
    nothing was recognised, what the user sent."""

    question_id: str
    question_type: str
    response: Any
    valid: bool
    title: str | None = None
    description: str | None = None
    options: Sequence[str] | None = None
    duration_ms: int | None = None
    x_path: str | None = None
    eof: bool = False
    prompt_id: str | None = None
    dialog_id: str | None = None
    step_index: int | None = None
    step_name: str | None = None
    #: Personal values the question's texts may quote besides the current turn's: what the
    #: user said when the prompt was sent, their earlier answers in the dialog.
    quotable: Sequence[str] = ()
    #: What the user sent in answer (the turn's message): not looked for in the question.
    answer_text: str | None = None

    @property
    def score(self) -> int:
        return 1 if self.valid else 0


def prompt_answer_properties(
    answer: PromptAnswer, policy: PrivacyPolicy, *, texts: PrivacyPolicy | None = None
) -> dict[str, Any]:
    """The event's properties before the policy filters them (texts already made safe, by
    ``texts``, else ``policy``)."""
    turn = [value for value in turn_personal_values() if value != answer.answer_text]
    known = _longest_first([*turn, *answer.quotable])
    texts = texts or policy
    properties: dict[str, Any] = {
        contract.QUESTION_ID: answer.question_id,
        contract.QUESTION_TYPE: answer.question_type,
        contract.QUESTION_SCORE: answer.score,
        contract.QUESTION_MAX_SCORE: 1,
        contract.EOF: answer.eof,
        contract.X_PATH: answer.x_path,
        contract.PROMPT_ID: answer.prompt_id,
        contract.DIALOG_ID: answer.dialog_id,
        contract.STEP_INDEX: answer.step_index,
        contract.STEP_NAME: answer.step_name,
        contract.QUESTION_DURATION_MS: answer.duration_ms,
    }
    if answer.title:
        properties[contract.QUESTION_TITLE] = texts.free_text(answer.title, known)
    if answer.description:
        properties[contract.QUESTION_DESCRIPTION] = texts.free_text(answer.description, known)
    if answer.options:
        safe = [texts.free_text(str(option), known) for option in answer.options]
        properties[contract.QUESTION_OPTIONS] = json.dumps(safe, ensure_ascii=False)
    if answer.response is not None and policy.allows(contract.PROMPT_RESPONSE):
        properties[contract.PROMPT_RESPONSE] = json.dumps(
            answer.response, ensure_ascii=False, default=str, separators=(",", ":")
        )
    return properties


def _longest_first(values: Sequence[str]) -> list[str]:
    # A name inside a longer message goes with the message (as with_turn_personal_values).
    found = {v for v in values if isinstance(v, str) and len(v) >= MIN_PERSONAL_VALUE_LENGTH}
    return sorted(found, key=len, reverse=True)


def track_prompt_answer(answer: PromptAnswer, *, privacy: PrivacyPolicy | None = None) -> None:
    """Record ``answer`` as a ``PromptAnswered`` event in the current turn."""
    base = privacy or current_policy()
    policy = base.for_consent(turn_consent_granted())
    track_custom_event(
        contract.PROMPT_ANSWERED,
        prompt_answer_properties(answer, policy, texts=base),
        privacy=policy,
        known_safe=_MADE_SAFE,
    )


__all__ = ["PromptAnswer", "prompt_answer_properties", "track_prompt_answer"]
