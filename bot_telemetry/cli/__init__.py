"""The ``bot-telemetry`` command: the embedded collector and queries over its store.

    bot-telemetry serve                      # OTLP/HTTP + web UI on http://127.0.0.1:4318
    bot-telemetry appmap --format mermaid --since 1h
    bot-telemetry events --name QnAMessage --limit 20 --format jsonl
    bot-telemetry trace 4bf92f3577b34da6a3ce929d0e0e4736
    bot-telemetry conversations [CONVERSATION_ID]
    bot-telemetry metrics [METRIC]
    bot-telemetry measures activeUsers intents --since 7d --granularity day --channel msteams
    bot-telemetry funnel LuisIntent.BookTable WaterfallComplete --window 30m
    bot-telemetry paths --start LuisIntent.BookTable;  bot-telemetry retention --period week
    bot-telemetry client-events [--failed]
    bot-telemetry posthog backfill --since 30d   # stored history to PostHog (POSTHOG_API_KEY)
    bot-telemetry exhaust submit|status|list|run|retry|audit|vault-key   # data exhaust jobs

Errors are one line on stderr, exit status 2 for bad input and 1 for an operation that
failed (docs/cli.md). Output cut short by a closed pipe
(``bot-telemetry events | head -1``) ends quietly with status 141, as a command killed by
SIGPIPE does. Each command group is a module with a ``register(subparsers)`` returning its
handlers.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import (
    clickhouse,
    client_events,
    exhaust,
    journeys,
    measures,
    metrics,
    posthog,
    queries,
    serve,
)
from .common import PROG, CommandError, Handler, UsageError, attach_dashed_values, described

#: The command groups, in the order ``--help`` lists them.
COMMAND_GROUPS = (
    serve,
    queries,
    metrics,
    measures,
    journeys,
    client_events,
    posthog,
    exhaust,
    clickhouse,
)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog=PROG, **described(__doc__))
    parser.add_argument("--version", action=_Version, help="print the version")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}
    for group in COMMAND_GROUPS:
        handlers.update(group.register(commands))
    commands.add_parser("demo", help="deprecated: run `make demo` in a clone", add_help=False)
    return parser, handlers


class _Version(argparse.Action):
    """``--version``, as argparse's own, but the version is looked up only when asked:
    importlib.metadata took a tenth of the time every command spent importing."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None):
        super().__init__(
            option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS, help=help
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"{PROG} {_version()}")
        parser.exit()


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("bot-telemetry")
    except importlib.metadata.PackageNotFoundError:  # run from a clone, not installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C while the command line is read or a command's modules load, too: a
        # traceback from argparse's innards said nothing the user did not know.
        return 130


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["demo"]:
        # Everything after "demo" is the demo's own to parse.
        return _demo(arguments[1:])
    parser, handlers = build_parser()
    options = parser.parse_args(attach_dashed_values(arguments))
    # clickhouse-connect logs a warning of its own before raising; the error line says it all.
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
    try:
        return handlers[options.command](options)
    except BrokenPipeError:
        return _pipe_closed()
    except Exception as error:
        if not isinstance(error, _reported()):
            raise
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return exit_status(error)


#: Errors said in one line, beside CommandError, ValueError and OSError: (module, class).
_REPORTED = (
    ("bot_telemetry.store.database", "StoreError"),
    ("bot_telemetry.store.engine", "EngineError"),
    ("bot_telemetry.receive.journal", "JournalError"),
    ("bot_telemetry.cli.access", "RemoteError"),
    ("bot_telemetry.exhaust.jobs", "JobsFileError"),
)


def _reported() -> tuple[type[Exception], ...]:
    return (CommandError, ValueError, OSError, *_loaded(_REPORTED))


def _loaded(classes: Sequence[tuple[str, str]]) -> list[type[Exception]]:
    """Those of ``classes`` whose modules are imported. An error of a module the command never
    imported cannot have been raised, and importing those modules only to name their errors
    cost a command that reads no store DuckDB, sqlglot and the analytics (a fifth of a second).
    """
    return [getattr(sys.modules[module], name) for module, name in classes if module in sys.modules]


#: Exit statuses: the command as given cannot run (argparse's own usage errors too), and the
#: operation was tried and failed.
USAGE_STATUS = 2
FAILURE_STATUS = 1


def exit_status(error: Exception) -> int:
    """The one rule: bad input is 2, whichever layer found it (an option's value, a request
    the analytics refused here or through a running serve, a ClickHouse URL naming a database
    that is not usable); a failure of the operation itself is 1 (nothing found, a server down
    or refusing the token, a store busy or unreadable)."""
    unreachable = _loaded([("bot_telemetry.store.clickhouse", "ClickHouseUnreachable")])
    refused = _loaded([("bot_telemetry.store.clickhouse", "ClickHouseError")])
    remote = _loaded([("bot_telemetry.cli.access", "RemoteError")])
    if isinstance(error, tuple(unreachable)):
        return FAILURE_STATUS
    if isinstance(error, (UsageError, ValueError, *refused)):
        return USAGE_STATUS
    if isinstance(error, tuple(remote)) and getattr(error, "status", None) == 400:
        return USAGE_STATUS
    return FAILURE_STATUS


#: The status of a command killed by SIGPIPE in a shell (128 + 13).
PIPE_CLOSED_STATUS = 141


def _pipe_closed() -> int:
    """The reader of our output went away (``| head``): stop quietly."""
    # Python flushes stdout again at exit and would report the broken pipe there; point the
    # descriptor at /dev/null so that flush goes nowhere.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return PIPE_CLOSED_STATUS


def _demo(arguments: list[str]) -> int:
    """Deprecated: the demo is the repository's sample, not part of the library."""
    print(
        f"{PROG}: 'demo' is deprecated: run `make demo` (or `python -m sample_bot.demo`) "
        "in a clone of the repository",
        file=sys.stderr,
    )
    # ``python -m`` (the exec below) looks in the working directory first; the console
    # script's own path starts at the virtualenv's bin/, so look there too.
    import importlib.machinery
    import importlib.util

    here = importlib.machinery.PathFinder.find_spec("sample_bot", [os.getcwd()])
    if here is None and importlib.util.find_spec("sample_bot") is None:
        print(
            f"{PROG}: error: the sample bot is not on the path; the demo lives in the "
            "repository's sample_bot/ folder",
            file=sys.stderr,
        )
        return 2
    # exec, not a child: Ctrl-C and SIGTERM reach the demo itself.
    os.execv(sys.executable, [sys.executable, "-m", "sample_bot.demo", *arguments])


__all__ = ["CommandError", "UsageError", "build_parser", "exit_status", "main"]
