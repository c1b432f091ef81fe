"""What an exception may say about itself: type and frames, or the redacted whole."""

from __future__ import annotations

import traceback

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.privacy.exceptions import MAX_STACK_LENGTH, frames_only

SECRET = "grace.hopper@navy.example.mil"


class LookupFailed(Exception):
    pass


def _inner() -> None:
    raise KeyError(SECRET)


def _outer() -> None:
    try:
        _inner()
    except KeyError as error:
        raise LookupFailed(f"no profile for Grace Hopper ({SECRET})") from error


def _caught() -> BaseException:
    try:
        _outer()
    except LookupFailed as error:
        return error
    raise AssertionError("not raised")


def test_the_default_policy_records_types_and_frames_only() -> None:
    error = _caught()
    got = PrivacyPolicy().exception_attributes(error)
    assert got["exception.type"] == "tests.privacy.test_exceptions.LookupFailed"
    assert "exception.message" not in got
    stack = got["exception.stacktrace"]
    assert SECRET not in stack and "Grace Hopper" not in stack
    # Python's layout: the cause first, each exception's frames then its type
    assert stack.index("in _inner") < stack.index("KeyError\n")
    assert stack.index("direct cause") < stack.index("in _caught")
    assert stack.endswith("tests.privacy.test_exceptions.LookupFailed\n")
    # no source lines: they can hold literals
    assert "raise" not in stack
    assert PrivacyPolicy().error_description(error) == "LookupFailed"


def test_an_opened_policy_records_the_message_and_stack_redacted() -> None:
    error = _caught()
    policy = PrivacyPolicy(log_personal_information=True)
    got = policy.exception_attributes(error)
    assert got["exception.message"] == "no profile for Grace Hopper ([REDACTED])"
    assert SECRET not in got["exception.stacktrace"]
    assert "raise LookupFailed" in got["exception.stacktrace"]
    assert policy.error_description(error) == (
        "LookupFailed: no profile for Grace Hopper ([REDACTED])"
    )


def test_the_frames_are_the_ones_python_prints() -> None:
    error = _caught()
    printed = "".join(traceback.format_exception(error))
    for line in frames_only(error).splitlines():
        if line.startswith("  File "):
            assert line in printed


def test_an_implicit_chain_and_a_cycle_end() -> None:
    try:
        try:
            raise ValueError(SECRET)
        except ValueError:
            raise RuntimeError(SECRET) from None
    except RuntimeError as error:
        suppressed = error
    assert "ValueError" not in frames_only(suppressed)

    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert frames_only(first).count("ValueError") == 2


def test_an_exception_that_cannot_be_printed_is_still_described() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    policy = PrivacyPolicy(log_personal_information=True)
    assert policy.error_description(Unprintable()) == "Unprintable"
    assert "exception.message" not in policy.exception_attributes(Unprintable())


def test_long_stacks_keep_their_end() -> None:
    def deep(n: int) -> None:
        if n == 0:
            raise ValueError("bottom")
        deep(n - 1)

    try:
        deep(300)
    except ValueError as error:
        stack = PrivacyPolicy().exception_attributes(error)["exception.stacktrace"]
    assert len(stack) == MAX_STACK_LENGTH
    assert stack.startswith("…") and stack.endswith("ValueError\n")
