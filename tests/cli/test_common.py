"""What ``bot-telemetry --help`` prints: plain text, with the examples of the command's docs."""

from __future__ import annotations

import argparse
import importlib.metadata
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


def _options_without_help(parser: argparse.ArgumentParser, path: str = "") -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{path} {name}".strip())
        elif action.help is None:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_and_argument_says_what_it_takes() -> None:
    """``funnel --order``, ``--count-by``, ``--slow-reply``, ``trace TRACE_ID``, ``exhaust
    submit --dataset``, ... printed their name and nothing else: no meaning, no default."""
    parser, _ = build_parser()
    assert _options_without_help(parser) == []


@pytest.mark.parametrize("command", ["funnel", "paths", "retention"])
def test_the_journeys_commands_help_shows_the_step_syntax_and_examples(command: str) -> None:
    parser, _ = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    shown = commands.choices[command].format_help()
    assert "A step is EVENT or EVENT:key=value,key=a|b" in " ".join(shown.split())
    assert "examples:\n    bot-telemetry funnel LuisIntent.BookTable" in shown


def test_version() -> None:
    """``bot-telemetry --version`` said "the following arguments are required: COMMAND"."""
    shown = subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout == f"bot-telemetry {importlib.metadata.version('bot-telemetry')}\n"


def _commands(parser: argparse.ArgumentParser, path: str = "") -> dict[str, str]:
    """Every command that runs (not a group of them): its words and its --help."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_commands(sub, f"{path} {name}".strip()))
    if not found and path:
        found[path] = parser.format_help()
    return found


def test_every_commands_help_shows_examples() -> None:
    """appmap, events, trace, conversations, metrics, measures, client-events, serve and the
    exhaust actions showed none (and clickhouse-schema's were not indented, so not shown)."""
    parser, _ = build_parser()
    shown = _commands(parser)
    assert len(shown) > 15
    missing = [path for path, text in shown.items() if "\nexamples:\n    " not in text]
    assert missing == ["demo"]


def test_the_top_level_examples_name_every_action_of_a_command_group() -> None:
    # `exhaust retry` and `exhaust audit` were missing from `bot-telemetry --help`.
    parser, _ = build_parser()
    epilog = parser.epilog or ""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for group in ("exhaust", "posthog"):
        actions = next(
            a for a in commands.choices[group]._actions if isinstance(a, argparse._SubParsersAction)
        )
        line = next(line for line in epilog.splitlines() if f"bot-telemetry {group} " in line)
        named = line.split(f"bot-telemetry {group} ", 1)[1].split()[0].split("|")
        assert sorted(named) == sorted(actions.choices), group
