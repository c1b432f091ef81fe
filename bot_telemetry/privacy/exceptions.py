"""What an exception may say about itself in telemetry.

An exception's message quotes whatever it was handed: ``KeyError`` shows the missing key
(a user id, say), ``ValueError`` the text that did not parse, an HTTP error the URL with
its query string. So unless the policy allows personal data, an exception leaves the bot
as its type and where it was raised (each frame's file, line number and function; no
source lines, which can hold literals, and never locals), and the same for every exception
chained to it, without any message. When
personal data may be logged, the message and the full stack trace are recorded with the
redaction patterns applied.

    span.add_event("exception", policy.exception_attributes(error))
    span.set_status(Status(StatusCode.ERROR, policy.error_description(error)))
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .policy import PrivacyPolicy

EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
#: Longest message and stack trace recorded (Azure Monitor keeps 32768 characters).
MAX_MESSAGE_LENGTH: Final = 1024
MAX_STACK_LENGTH: Final = 8192
_CAUSE: Final = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT: Final = "\nDuring handling of the above exception, another exception occurred:\n\n"
# Chained exceptions followed, as the traceback module does (it also stops at cycles).
_MAX_CHAIN: Final = 16


_RECORDED: Final = "_bot_telemetry_recorded"


def mark_recorded(error: BaseException) -> None:
    """Remember that ``error`` is recorded where it was raised (a failed turn's ``exception``
    event): a request span it escapes through, or ``track_exception`` in an error handler,
    then does not record it a second time (one error, one ``exceptions`` row and count)."""
    try:
        setattr(error, _RECORDED, True)
    except (AttributeError, TypeError):  # an exception type without a __dict__
        pass


def already_recorded(error: BaseException | None) -> bool:
    """Whether ``mark_recorded`` was called on ``error``."""
    return getattr(error, _RECORDED, False) is True


def type_name(kind: type[BaseException]) -> str:
    """``ValueError`` for built-ins, ``package.module.Name`` for the rest."""
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def exception_attributes(error: BaseException, policy: PrivacyPolicy) -> dict[str, str]:
    """The semantic-convention ``exception.*`` attributes for ``error`` under ``policy``."""
    attributes = {EXCEPTION_TYPE: type_name(type(error))}
    if policy.log_personal_information:
        message = _message(error)
        if message:
            attributes[EXCEPTION_MESSAGE] = policy.redact_text(message)[:MAX_MESSAGE_LENGTH]
        stack = "".join(traceback.format_exception(error))
        attributes[EXCEPTION_STACKTRACE] = _tail(policy.redact_text(stack))
    else:
        attributes[EXCEPTION_STACKTRACE] = _tail(frames_only(error))
    return attributes


def error_description(error: BaseException, policy: PrivacyPolicy) -> str:
    """A span status description: the type, and with personal data allowed its message."""
    kind = type(error).__name__
    if not policy.log_personal_information:
        return kind
    message = _message(error)
    return f"{kind}: {policy.redact_text(message)}"[:512] if message else kind


def frames_only(error: BaseException) -> str:
    """A stack trace in Python's own layout with every message left out: each exception
    (the chain included) is its frames and its type.

    >>> try:
    ...     raise ValueError("grace@example.org is not a date")
    ... except ValueError as caught:
    ...     print(frames_only(caught).splitlines()[-1])
    ValueError
    """
    blocks: list[str] = []
    links: list[str] = []  # links[i] joins blocks[i + 1] (older) to blocks[i]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        block = ["Traceback (most recent call last):\n"] if current.__traceback__ else []
        block += [
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
            for frame in traceback.extract_tb(current.__traceback__)
        ]
        block.append(f"{type_name(type(current))}\n")
        blocks.append("".join(block))
        if current.__cause__ is not None:
            links.append(_CAUSE)
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            links.append(_CONTEXT)
            current = current.__context__
        else:
            current = None
    # Collected newest first; Python prints the oldest (the cause) first.
    ordered = [blocks[-1]]
    for index in range(len(blocks) - 2, -1, -1):
        ordered += [links[index], blocks[index]]
    return "".join(ordered)


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # an exception whose __str__ fails must not replace the real one
        return ""


def _tail(stack: str) -> str:
    # The end of a stack trace says where it was raised: keep that when cutting.
    return stack if len(stack) <= MAX_STACK_LENGTH else "…" + stack[-(MAX_STACK_LENGTH - 1) :]
