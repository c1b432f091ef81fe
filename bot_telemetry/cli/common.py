"""What every command shares: the store and time-window options, errors, where to read from."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..analytics.window import TimeWindow, duration_ago, parse_duration, parse_instant
from ..store.location import DEFAULT_STORE, ClickHouseLocation, parse_store

PROG = "bot-telemetry"
TOKEN_VARIABLE = "BOT_TELEMETRY_TOKEN"

if TYPE_CHECKING:
    from ..privacy import PrivacyPolicy

#: A command's handler: parsed options in, exit status out.
Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """The operation failed (nothing found, a server down or refusing): one line on stderr
    and exit status 1."""


class UsageError(CommandError):
    """The command as given cannot run (a malformed value, options that do not go together):
    one line on stderr and exit status 2, as argparse's own usage errors."""


def described(doc: str | None) -> dict[str, Any]:
    """``ArgumentParser`` keywords from a module docstring: its first paragraph as the
    description and its indented examples as the epilog, both without reST's double
    backquotes, which ``--help`` would print as they are."""
    paragraphs = inspect.cleandoc(doc or "").replace("``", "").split("\n\n")
    examples = [part for part in paragraphs[1:] if part.startswith("    ")]
    return {
        "description": paragraphs[0],
        "epilog": "examples:\n" + "\n".join(examples) if examples else None,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def store_options(parser: argparse.ArgumentParser, window: bool = True) -> None:
    """--store, and (for queries over a time window) --since/--until/--url/--token."""
    parser.add_argument(
        "--store",
        type=store_argument,
        default=DEFAULT_STORE,
        help=f"the store file, or a folder holding telemetry.duckdb (default {DEFAULT_STORE}), "
        "or a ClickHouse database holding the OpenTelemetry Collector's tables: "
        "clickhouse://user:password@host:8123/otel",
    )
    if window:
        parser.add_argument(
            "--since",
            type=instant_argument,
            help="start of the window: a duration ago (15m, 2h, 7d; -15m too) or an ISO time",
        )
        parser.add_argument(
            "--until",
            type=instant_argument,
            help="end of the window: a duration ago (30m; -30m too) or an ISO time",
        )
        remote_options(parser)


def instant_argument(text: str) -> str:
    """``--since``/``--until``: a duration ago (``15m``, ``-15m``, ``15 minutes ago``) or an
    ISO time, checked here so a bad one is a usage error naming the option."""
    try:
        parse_instant(text, time.time_ns())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if text.strip().startswith("-"):  # given on as 15m, which a collector of any version reads
        return text.strip()[1:].strip()
    return text


def duration_argument(text: str) -> str:
    """An option holding a length of time (``30m``, ``7d``): checked here, given on as it is."""
    if text.strip().startswith("-") and duration_ago(text) is not None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is a length of time, not a time ago: leave out the '-'"
        )
    try:
        parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


_DASHED_VALUE = re.compile(r"^\s*-\s*\d")

#: The value types of options that take a time or a duration (see ``attach_dashed_values``).
TIME_TYPES: tuple[Callable[[str], str], ...] = (instant_argument, duration_argument)


def attach_dashed_values(arguments: Sequence[str]) -> list[str]:
    """``--since -5m`` as ``--since=-5m``: a word of a minus and a digit after a long option
    is that option's value, whichever option it is (those whose type is in ``TIME_TYPES``
    take ``-5m`` or refuse it with the reason; a number's type takes ``-5`` as before).

    argparse takes a word starting with '-' for an option unless it is a plain negative
    number, so ``--since -5m`` said "expected one argument"; only ``--since=-5m`` reached the
    option. No option of ours starts with a minus and a digit, so after an option such a word
    can only be a value."""
    joined: list[str] = []
    for index, word in enumerate(arguments):
        if word == "--":
            return joined + list(arguments[index:])
        previous = joined[-1] if joined else ""
        if _DASHED_VALUE.match(word) and previous.startswith("--") and "=" not in previous:
            joined[-1] = f"{previous}={word}"
        else:
            joined.append(word)
    return joined


def store_argument(text: str) -> Path | ClickHouseLocation:
    """``--store``: a store file, or a clickhouse:// URL (a malformed one is a usage error)."""
    try:
        return parse_store(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def limit_option(parser: argparse.ArgumentParser, default: int, rows: str) -> None:
    """``--limit``: how many rows at most, a whole number from 1 (0 or less is a usage error:
    the store and a running serve would answer it differently, nothing and one row)."""
    parser.add_argument(
        "--limit",
        type=limit_argument,
        default=default,
        help=f"at most this many {rows} (default {default}; a running serve answers at most "
        f"{SERVE_LIMIT})",
    )


#: Names one output format goes by across commands: a command that writes ``text`` takes
#: ``table`` for it, and one that writes ``table`` takes ``text``.
_FORMAT_ALIASES = {"text": "table", "table": "text"}


def format_option(parser: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    """``--format``, the first of ``formats`` by default; ``text`` and ``table`` are one
    format, whichever name the command prints it under, so one habit works everywhere."""

    def parse(text: str) -> str:
        name = text.strip().lower()
        alias = _FORMAT_ALIASES.get(name)
        return alias if name not in formats and alias in formats else name

    parser.add_argument(
        "--format",
        type=parse,
        choices=formats,
        default=formats[0],
        help=f"how to write the answer: {', '.join(formats)} (default {formats[0]}; text and "
        "table are the same)",
    )


def write_json(items: list[Any], *, lines: bool) -> None:
    """``items`` on stdout: a JSON document a line (``jsonl``) or one JSON array (``json``)."""
    if lines:
        for item in items:
            print(json.dumps(item, ensure_ascii=False))
    else:
        print(json.dumps(items, ensure_ascii=False, indent=2))


#: The most rows serve's list routes answer (``?limit=`` beyond it is cut to it).
SERVE_LIMIT = 1000


def limit_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        type=url_argument,
        help="ask this running collector (http://HOST:PORT, as serve prints it) instead of the "
        "store file",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE),
        help=f"token of a remote collector (default ${TOKEN_VARIABLE})",
    )


def url_argument(text: str) -> str:
    """``--url``: a collector's http(s):// address. Without a scheme (``127.0.0.1:4318``)
    urllib said "unknown url type: 127.0.0.1"."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"expected the collector's address, http://HOST:PORT as serve prints it, got {text!r}"
        )
    return text


def time_window(options: argparse.Namespace) -> TimeWindow:
    try:
        return TimeWindow.parse(options.since, options.until)
    except ValueError as error:  # an empty window: --until before --since
        raise UsageError(str(error)) from None


def open_for(options: argparse.Namespace) -> Any:
    """The running collector (``--url``), else the store file or the server holding it."""
    from .access import open_source

    return open_source(
        options.store, getattr(options, "url", None), getattr(options, "token", None)
    )


def privacy_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--privacy FILE``: a privacy policy document (``privacy/document.py``); read with
    ``privacy_file`` so that serve and the PostHog backfill read it alike."""
    parser.add_argument("--privacy", default=None, metavar="FILE", help=help)


def privacy_file(given: str | None) -> PrivacyPolicy | None:
    """The policy ``--privacy FILE`` gives, None without one; a bad file is a usage error
    naming the file and the field."""
    if given is None:
        return None
    from ..privacy.document import PolicyDocumentError, load_policy

    try:
        return load_policy(given)
    except PolicyDocumentError as error:
        raise UsageError(f"--privacy {error}") from None
