"""``bot-telemetry client-events``: the page's own events (Sunbird v3), and the failed set.

    bot-telemetry client-events --since 1h         # stored client events, newest first
    bot-telemetry client-events --eid FEEDBACK --format jsonl
    bot-telemetry client-events --failed           # invalid events, with the reason

Client telemetry, its checks and the failed set: docs/client-telemetry.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import layout
from .common import (
    SERVE_LIMIT,
    Handler,
    described,
    format_option,
    limit_option,
    open_for,
    store_options,
    time_window,
    write_json,
)


def register(commands: Any) -> dict[str, Handler]:
    parser = commands.add_parser(
        "client-events",
        help="list client (Sunbird) events, or the failed set with --failed",
        **described(__doc__),
    )
    store_options(parser)
    parser.add_argument(
        "--failed", action="store_true", help="list invalid events and why they failed"
    )
    parser.add_argument("--eid", help="only events of this eid (START, INTERACT, ...)")
    parser.add_argument("--conversation", help="only events linked to this conversation")
    limit_option(parser, 50, "events")
    format_option(parser, ("table", "jsonl", "json"))
    return {"client-events": _client_events}


def _client_events(options: argparse.Namespace) -> int:

    window = time_window(options)
    with open_for(options) as source:
        if options.failed:
            found: list[Any] = source.failed_client_events(window, options.limit)
        else:
            found = source.client_events(window, options.eid, options.conversation, options.limit)
    if options.format != "table":
        write_json(found, lines=options.format == "jsonl")
        return 0
    if options.failed:
        headings = ("RECEIVED", "SERVICE", "EID", "MID", "REASON")
        rows = [
            (f["received"], f["service"], f["eid"] or "-", f["mid"] or "-", f["reason"] or "-")
            for f in found
        ]
    else:
        headings = ("TIME", "SERVICE", "EVENT", "CONVERSATION", "TRACE")
        rows = [
            (
                e["time"],
                e["service"],
                e["label"],
                e["conversation_id"] or "-",
                e["trace_id"] or "-",
            )
            for e in found
        ]
    sys.stdout.write(layout.table(headings, rows))
    sys.stdout.write(layout.limit_note(len(rows), options.limit, "events", SERVE_LIMIT))
    return 0
