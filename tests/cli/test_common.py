"""What ``bot-telemetry --help`` prints: plain text, with the examples of the command's docs."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from bot_telemetry.cli import build_parser
from bot_telemetry.cli.common import described
from tests.support.processes import REPO


def test_a_docstring_becomes_a_plain_description_and_its_examples() -> None:
    keywords = described(
        """The ``tool``: what it does,
    over two lines.

        tool run --fast    # an example
        tool stop

    Prose after the examples is for the reader of the code.
    """
    )
    assert keywords["description"] == "The tool: what it does,\nover two lines."
    assert keywords["epilog"] == "examples:\n    tool run --fast    # an example\n    tool stop"
    assert described("One line, no examples.")["epilog"] is None


@pytest.mark.parametrize("command", [[], ["posthog", "backfill"]])
def test_help_has_no_markup_and_shows_the_examples(command: list[str]) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", *command, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "``" not in shown
    assert "examples:\n" in shown
    assert "bot-telemetry posthog backfill --since 30d" in shown


def test_every_commands_help_is_free_of_markup() -> None:
    parser, handlers = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    texts = [parser.format_help()] + [sub.format_help() for sub in commands.choices.values()]
    assert len(texts) > len(handlers) // 2
    assert [text.splitlines()[0] for text in texts if "``" in text] == []
