"""The queries over a store: ``appmap``, ``events``, ``trace``, ``conversations``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from . import layout
from .common import (
    SERVE_LIMIT,
    CommandError,
    Handler,
    described,
    format_option,
    limit_option,
    open_for,
    remote_options,
    store_options,
    time_window,
    write_json,
)

APPMAP = """Print the app map: each service and dependency, the calls between them, their
failures and latency (p50, p95), over the window.

    bot-telemetry appmap --since 1h
    bot-telemetry appmap --format mermaid > appmap.mmd
    bot-telemetry appmap --format svg --since 7d > appmap.svg
"""

EVENTS = """List custom events (BotMessageReceived, LuisIntent.Greeting, QnAMessage, ...),
newest first, with their conversation and trace.

    bot-telemetry events --since 15m
    bot-telemetry events --name QnAMessage --limit 20 --format jsonl | jq .properties
    bot-telemetry events --name 'LuisIntent.*'      # every LuisIntent event
"""

TRACE = """Print one trace as a span tree: each span's start, duration, service and error,
and the events recorded in it.

    bot-telemetry trace 4bf92f3577b34da6a3ce929d0e0e4736
    bot-telemetry trace 4bf92f3577b34da6a3ce929d0e0e4736 --format json
"""

CONVERSATIONS = """List conversations (newest first), or show one as a transcript: each turn's
messages, intent, answer, calls and failures.

    bot-telemetry conversations --since 1d
    bot-telemetry conversations 19:meeting_abc@thread.v2 --format json
"""


def register(commands: Any) -> dict[str, Handler]:
    appmap = commands.add_parser("appmap", help="print the app map", **described(APPMAP))
    store_options(appmap)
    format_option(appmap, ("text", "json", "mermaid", "svg"))

    events = commands.add_parser(
        "events", help="list custom events, newest first", **described(EVENTS)
    )
    store_options(events)
    events.add_argument(
        "--name",
        help="only events of this name (QnAMessage), or, ending in *, of every name it starts "
        "(LuisIntent.*), as a funnel's steps take them",
    )
    limit_option(events, 50, "events")
    format_option(events, ("table", "jsonl", "json"))

    trace = commands.add_parser("trace", help="print one trace as a span tree", **described(TRACE))
    store_options(trace, window=False)
    remote_options(trace)
    trace.add_argument("trace_id", metavar="TRACE_ID", help="32 hex digits, as events print it")
    format_option(trace, ("text", "json"))

    talks = commands.add_parser(
        "conversations", help="list conversations, or show one", **described(CONVERSATIONS)
    )
    store_options(talks)
    talks.add_argument(
        "conversation_id",
        nargs="?",
        metavar="CONVERSATION_ID",
        help="show this conversation's turns, as a transcript (without it: list them)",
    )
    limit_option(talks, 50, "conversations")
    format_option(talks, ("text", "json"))
    return {"appmap": _appmap, "events": _events, "trace": _trace, "conversations": _conversations}


def _appmap(options: argparse.Namespace) -> int:
    from ..web import render

    window = time_window(options)
    with open_for(options) as source:
        built = source.app_map(window)
    formats: dict[str, Callable[[Any], str]] = {
        "text": lambda built: layout.fit_text(render.as_text(built)),
        "json": render.as_json,
        "mermaid": render.as_mermaid,
        "svg": render.as_standalone_svg,
    }
    sys.stdout.write(formats[options.format](built).rstrip("\n") + "\n")
    return 0


def _events(options: argparse.Namespace) -> int:
    from ..analytics.journeys.requests import EventMatch

    window = time_window(options)
    if options.name:
        EventMatch.parse(options.name, "--name")  # a bad pattern named as the option is
    with open_for(options) as source:
        found = source.events(window, options.name, options.limit)
    if options.format != "table":
        write_json(found, lines=options.format == "jsonl")
        return 0

    rows = [
        (e["time"], e["service"], e["name"], e["conversation_id"] or "-", e["trace_id"] or "-")
        for e in found
    ]
    headings = ("TIME", "SERVICE", "EVENT", "CONVERSATION", "TRACE")
    sys.stdout.write(layout.table(headings, rows))
    sys.stdout.write(layout.limit_note(len(rows), options.limit, "events", SERVE_LIMIT))
    return 0


def _trace(options: argparse.Namespace) -> int:
    from ..analytics.traces import valid_trace_id
    from ..web import render

    trace_id = valid_trace_id(options.trace_id)
    with open_for(options) as source:
        found = source.trace(trace_id)
    if found is None:
        raise CommandError(f"no trace {trace_id} in {options.url or options.store}")
    if options.format == "json":
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(layout.fit_text(render.trace_as_text(found)))
    return 0


def _conversations(options: argparse.Namespace) -> int:
    from ..web import render

    window = time_window(options)
    with open_for(options) as source:
        if options.conversation_id:
            found = source.conversation(options.conversation_id)
            if found is None:
                raise CommandError(f"no conversation {options.conversation_id!r} in the store")
            shown: Any = found
        else:
            shown = source.conversations(window, options.limit)
    if options.format == "json":
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    elif options.conversation_id:
        sys.stdout.write(layout.fit_text(render.conversation_as_text(shown)))
    else:
        sys.stdout.write(
            layout.table(
                ("CONVERSATION", "CHANNEL", "TURNS", "WITH A FAILURE", "FIRST", "LAST"),
                [
                    (
                        c["conversation_id"],
                        c["channel_id"] or "-",
                        str(c["turns"]),
                        str(c["failed_turns"]),
                        c["first"],
                        c["last"],
                    )
                    for c in shown
                ],
            )
        )
        sys.stdout.write(layout.limit_note(len(shown), options.limit, "conversations", SERVE_LIMIT))
    return 0
