"""Wiring a runtime's dialog prompts so each answer records a ``PromptAnswered`` event.

botbuilder-dialogs and microsoft-agents-hosting-dialogs have the same prompt API (``Prompt``
with ``begin_dialog``, ``on_prompt``, ``on_recognize`` and ``continue_dialog``; a dialog
context's ``stack`` and ``parent``; a waterfall's ``stepIndex``), so the wiring is one piece of
code over duck-typed objects; each runtime's module (``bot.prompts``, ``agents.prompts``) says
which prompt classes are which question type and walks its dialog tree.

Each prompt object gets four wrapped methods of its own: ``begin_dialog`` notes the personal
values its text may quote, ``on_prompt`` stamps when it went out (in the prompt's persisted
state, so the duration survives across turns and bot instances), ``on_recognize`` keeps what
was recognised, ``continue_dialog`` records the event once the runtime has decided (valid:
the prompt left the stack; Eof: its parent did too). What the prompts do and return is
unchanged; a failure to record is logged, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from ..privacy import PrivacyPolicy
from .custom_events import turn_personal_values
from .prompts import PromptAnswer, track_prompt_answer

_log = logging.getLogger(__name__)
#: Where a prompt's state keeps when it was last sent (ns since the epoch).
PROMPTED_AT = "botTelemetry.promptedAt"
#: The prompt instance's personal values its text may quote, and the asking dialog's answers
#: so far (kept in the bot's own dialog state, never recorded as they are).
QUOTABLE = "botTelemetry.quotable"
ANSWERS = "botTelemetry.answers"
_KEPT_ANSWERS = 20
_MARK = "_bot_telemetry_prompt_answers"
_RECOGNIZED = "bot_telemetry.prompt_recognized"
#: Both runtimes' names for a prompt's persisted options and state, and a waterfall's step.
PERSISTED_OPTIONS = "options"
PERSISTED_STATE = "state"
STEP_INDEX = "stepIndex"
MESSAGE = "message"

#: (prompt class, question type), most specific first.
PromptKinds = Sequence[tuple[type, str]]


def question_type(prompt: object, kinds: PromptKinds) -> str | None:
    """The question type of a prompt we record, None for anything else."""
    for kind, name in kinds:
        if isinstance(prompt, kind):
            return name
    return None


def wire_prompts(nodes: Iterable[object], kinds: PromptKinds, privacy: PrivacyPolicy | None) -> int:
    """Wire every prompt among ``nodes`` that ``kinds`` names (each once); how many."""
    wired = 0
    for node in nodes:
        kind = question_type(node, kinds)
        if kind is not None and not node.__dict__.get(_MARK):
            _wire(node, kind, privacy)
            wired += 1
    return wired


def _wire(prompt: Any, kind: str, privacy: PrivacyPolicy | None) -> None:
    begin_dialog: Callable[..., Awaitable[Any]] = prompt.begin_dialog
    on_prompt: Callable[..., Awaitable[Any]] = prompt.on_prompt
    on_recognize: Callable[..., Awaitable[Any]] = prompt.on_recognize
    continue_dialog: Callable[[Any], Awaitable[Any]] = prompt.continue_dialog
    recognized_key = f"{_RECOGNIZED}.{id(prompt)}"

    async def begun(dialog_context: Any, options: Any = None) -> Any:
        # What the prompt may quote, kept while it waits for its answer (it is answered in a
        # later turn, whose message is not the one the prompt's text was built from).
        try:
            stack = dialog_context.stack
            if stack:
                earlier = stack[1].state.get(ANSWERS, []) if len(stack) > 1 else []
                quotable = [*turn_personal_values(), *earlier][-_KEPT_ANSWERS:]
                stack[0].state[QUOTABLE] = quotable
        except Exception:
            _log.exception("could not note what prompt %r may quote", prompt.id)
        return await begin_dialog(dialog_context, options)

    async def prompted(turn_context: Any, state: Any, options: Any, is_retry: bool) -> Any:
        result = await on_prompt(turn_context, state, options, is_retry)
        if isinstance(state, dict):
            state[PROMPTED_AT] = time.time_ns()
        return result

    async def recognized(turn_context: Any, state: Any, options: Any) -> Any:
        result = await on_recognize(turn_context, state, options)
        turn_context.turn_state[recognized_key] = result
        return result

    async def continued(dialog_context: Any) -> Any:
        activity = dialog_context.context.activity
        if activity is None or _text_of(activity.type) != MESSAGE:
            return await continue_dialog(dialog_context)
        received_ns = time.time_ns()
        asked = _Asked(prompt, kind, dialog_context)
        result = await continue_dialog(dialog_context)
        try:
            found = dialog_context.context.turn_state.pop(recognized_key, None)
            asked.record(dialog_context, found, activity.text, received_ns, privacy)
        except Exception:  # telemetry must never fail a turn
            _log.exception("could not record the answer to prompt %r", prompt.id)
        return result

    prompt.begin_dialog = begun
    prompt.on_prompt = prompted
    prompt.on_recognize = recognized
    prompt.continue_dialog = continued
    prompt.__dict__[_MARK] = True


class _Asked:
    """The question as it stood when the answer arrived (before botbuilder moved on)."""

    def __init__(self, prompt: Any, kind: str, dialog_context: Any):
        self.prompt = prompt
        self.kind = kind
        stack = list(dialog_context.stack)
        self.instance = stack[0] if stack else None
        self.parent = stack[1] if len(stack) > 1 else None
        state = self.instance.state if self.instance is not None else {}
        self.options = state.get(PERSISTED_OPTIONS)
        inner = state.get(PERSISTED_STATE)
        self.prompted_at = inner.get(PROMPTED_AT) if isinstance(inner, dict) else None
        quotable = state.get(QUOTABLE)
        self.quotable = (
            [v for v in quotable if isinstance(v, str)] if isinstance(quotable, list) else []
        )
        self.x_path = "/".join(_path(dialog_context))
        # Before botbuilder moves the waterfall on to its next step.
        self.step = self._step(dialog_context)

    def record(
        self,
        dialog_context: Any,
        recognized: Any,
        text: str | None,
        received_ns: int,
        privacy: PrivacyPolicy | None,
    ) -> None:
        stack = dialog_context.stack
        # Valid: botbuilder ended the prompt (it stays on the stack to ask again otherwise).
        valid = all(entry is not self.instance for entry in stack)
        eof = valid and self.parent is not None and all(entry is not self.parent for entry in stack)
        if valid and text and self.parent is not None and isinstance(self.parent.state, dict):
            kept = self.parent.state.setdefault(ANSWERS, [])
            if isinstance(kept, list):
                kept.append(text)
                del kept[:-_KEPT_ANSWERS]
        succeeded = bool(getattr(recognized, "succeeded", False))
        response = _plain(recognized.value) if succeeded else text
        dialog_id, step_index, step_name = self.step
        options = self.options if hasattr(self.options, "prompt") else None
        track_prompt_answer(
            PromptAnswer(
                question_id=f"{dialog_id}#{step_index}" if dialog_id else str(self.prompt.id),
                question_type=self.kind,
                response=response,
                valid=valid,
                title=_text(options.prompt) if options else None,
                description=_text(options.retry_prompt) if options else None,
                options=_choices(options) if options else None,
                duration_ms=(received_ns - self.prompted_at) // 1_000_000
                if isinstance(self.prompted_at, int)
                else None,
                x_path=self.x_path,
                eof=eof,
                prompt_id=str(self.prompt.id),
                dialog_id=dialog_id,
                step_index=step_index,
                step_name=step_name,
                quotable=self.quotable,
                answer_text=text,
            ),
            privacy=privacy,
        )

    def _step(self, dialog_context: Any) -> tuple[str | None, int | None, str | None]:
        parent = self.parent
        if parent is None:
            return None, None, None
        index = parent.state.get(STEP_INDEX) if parent.state else None
        name = None
        dialog = dialog_context.find_dialog_sync(parent.id)
        if callable(getattr(dialog, "get_step_name", None)) and isinstance(index, int):
            try:
                name = dialog.get_step_name(index)
            except (IndexError, AttributeError):
                name = None
        return str(parent.id), index if isinstance(index, int) else None, name


def _path(dialog_context: Any) -> list[str]:
    contexts = []
    current: Any | None = dialog_context
    while current is not None:
        contexts.append(current)
        current = current.parent
    path: list[str] = []
    for context in reversed(contexts):
        path += [str(entry.id) for entry in reversed(context.stack)]
    return path


def _text(activity: Any) -> str | None:
    text = getattr(activity, "text", None)
    return text if isinstance(text, str) and text.strip() else None


def _choices(options: Any) -> list[str] | None:
    found = []
    for choice in options.choices or []:
        value = choice if isinstance(choice, str) else getattr(choice, "value", None)
        if value is not None:
            found.append(str(value))
    return found or None


def _plain(value: Any) -> Any:
    """A recognised value as JSON-able data: a choice as its value, date-time resolutions
    and attachments as their fields."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):  # NumberPrompt's
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    found_value = getattr(value, "value", None)
    if hasattr(value, "synonym") and found_value is not None:  # FoundChoice
        return found_value
    if hasattr(value, "timex"):  # DateTimeResolution
        names = ("timex", "value", "start", "end")
        return {name: getattr(value, name) for name in names if getattr(value, name, None)}
    if hasattr(value, "content_type"):  # Attachment
        keys = (("contentType", "content_type"), ("name", "name"), ("contentUrl", "content_url"))
        return {key: getattr(value, name) for key, name in keys if getattr(value, name, None)}
    return str(value)


def _text_of(kind: object) -> str:
    # Both runtimes use plain strings and str Enum members for activity types.
    return str(getattr(kind, "value", kind) or "")


__all__ = ["PROMPTED_AT", "PromptKinds", "question_type", "wire_prompts"]
