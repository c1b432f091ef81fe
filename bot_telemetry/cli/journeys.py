"""``funnel``, ``paths`` and ``retention``: the journeys API from the command line
(docs/journeys.md). A step is ``EVENT`` or ``EVENT:key=value,key=a|b`` (a value, or
alternatives); ``EVENT`` may be a pattern like ``LuisIntent.*``. Output: a table,
``--format json`` (the API's answer) or ``--format csv``.

    bot-telemetry funnel LuisIntent.BookTable "WaterfallStart:DialogId=booking" \\
        WaterfallComplete --window 30m --since 7d
    bot-telemetry funnel --dialogs                   # every dialog's funnel, ready to run
    bot-telemetry funnel --dialog booking --format json
    bot-telemetry funnel --request funnel.json       # the body of POST /analytics/funnel
    bot-telemetry paths --start LuisIntent.BookTable --group "LuisIntent.*" --format csv
    bot-telemetry retention --period week --intervals 8
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import layout
from .common import (
    CommandError,
    Handler,
    UsageError,
    described,
    duration_argument,
    format_option,
    open_for,
    store_options,
    time_window,
)

COUNT_BY = ("conversation", "user", "session")
COUNT_BY_HELP = "what one entity is: a conversation (default), a user, or a user's session"


def register(commands: Any) -> dict[str, Handler]:
    funnel = commands.add_parser(
        "funnel",
        help="a funnel: entities per step, time to convert, why they dropped off",
        **described(__doc__),
    )
    store_options(funnel)
    funnel.add_argument("steps", nargs="*", metavar="STEP", help="EVENT or EVENT:key=value,...")
    funnel.add_argument(
        "--order",
        choices=("ordered", "strict", "unordered"),
        help="ordered: steps in order, other events between (default); strict: each step the "
        "very next event; unordered: any order",
    )
    funnel.add_argument(
        "--window",
        type=duration_argument,
        help="first to last step at most this long (default 14d)",
    )
    funnel.add_argument("--count-by", choices=COUNT_BY, help=COUNT_BY_HELP)
    funnel.add_argument("--breakdown", help="a property or dimension (channelId, ...)")
    funnel.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="EVENT:FROM:TO",
        help="not counted when EVENT comes between steps FROM and TO (from 0)",
    )
    funnel.add_argument(
        "--slow-reply",
        type=float,
        metavar="SECONDS",
        help="a turn longer than this is a slow reply, a drop-off cause (default 3)",
    )
    funnel.add_argument("--dialogs", action="store_true", help="list every dialog's funnel")
    funnel.add_argument("--dialog", metavar="DIALOG_ID", help="run this dialog's funnel")
    _common(funnel)

    paths = commands.add_parser(
        "paths", help="user flows: where entities go from an event", **described(__doc__)
    )
    store_options(paths)
    anchor = paths.add_mutually_exclusive_group()
    anchor.add_argument("--start", metavar="STEP", help="paths from this event")
    anchor.add_argument("--end", metavar="STEP", help="paths into this event")
    paths.add_argument("--steps", type=int, help="nodes per path (default 5)")
    paths.add_argument("--edges", type=int, help="the most taken edges shown (default 50)")
    paths.add_argument("--count-by", choices=COUNT_BY, help=COUNT_BY_HELP)
    paths.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="EVENT",
        help="only these events take part (a name or a pattern; repeat for more)",
    )
    paths.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="EVENT",
        help="these events do not take part (a name or a pattern; repeat for more)",
    )
    paths.add_argument(
        "--group", action="append", default=[], metavar="PATTERN", help="e.g. 'LuisIntent.*'"
    )
    _common(paths)

    retention = commands.add_parser(
        "retention", help="cohorts of users and who came back", **described(__doc__)
    )
    store_options(retention)
    retention.add_argument(
        "--period", choices=("day", "week", "month"), help="a cohort's length (default week)"
    )
    retention.add_argument("--intervals", type=int, help="periods (default 8)")
    retention.add_argument("--cohort-event", metavar="STEP", help="default: first conversation")
    retention.add_argument("--returning-event", metavar="STEP", help="default: any conversation")
    _common(retention)
    return {"funnel": _funnel, "paths": _paths, "retention": _retention}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--request", type=Path, metavar="FILE", help="the JSON body to send ('-': stdin)"
    )
    format_option(parser, ("table", "json", "csv"))


def parse_step(text: str) -> Any:
    """``EVENT`` or ``EVENT:key=value,key=a|b`` as a step of the API."""
    event, _, conditions = text.partition(":")
    if not conditions:
        return event
    where: dict[str, Any] = {}
    for condition in conditions.split(","):
        key, equals, value = condition.partition("=")
        if not equals or not key:
            raise UsageError(f"step {text!r}: expected key=value after the ':'")
        alternatives = value.split("|")
        where[key] = alternatives if len(alternatives) > 1 else value
    return {"event": event, "where": where}


def _body(options: argparse.Namespace, fields: dict[str, Any]) -> dict[str, Any]:
    if options.request is not None:
        try:
            text = sys.stdin.read() if str(options.request) == "-" else options.request.read_text()
        except OSError as error:
            raise UsageError(f"--request {options.request}: {error.strerror or error}") from None
        try:
            body = json.loads(text)
        except ValueError as error:
            raise UsageError(f"--request: not JSON: {error}") from error
        if not isinstance(body, dict):
            raise UsageError("--request: expected a JSON object")
    else:
        body = {}
    if options.since or options.until:
        _check_window(options)
    if options.since:
        body["startTime"] = options.since
    if options.until:
        body["endTime"] = options.until
    body.update({key: value for key, value in fields.items() if value not in (None, [], "")})
    return body


def _check_window(options: argparse.Namespace) -> None:
    # Said in the options' words, as the other commands say it, before the API would say it
    # in its fields' (startTime, endTime) and epoch milliseconds.
    window = time_window(options)
    if not options.until and window.start_ns >= time.time_ns():
        raise UsageError(
            f"the time window is empty: --since {options.since} is after now "
            "(the end when --until is left out)"
        )


def _ask(options: argparse.Namespace, kind: str, body: dict[str, Any]) -> Any:
    with open_for(options) as source:
        return source.journey(kind, body)


def _write(options: argparse.Namespace, result: Any, table: str, rows: list[list[Any]]) -> None:
    if options.format == "json":
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif options.format == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        sys.stdout.write(table)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _check_funnel_choice(options: argparse.Namespace) -> None:
    """One funnel to run: the steps, a --request, or a dialog's. The steps beside --dialogs
    were ignored without a word; none at all was the API's "steps: expected a list of 1 to 20
    steps, got none", which does not say how to name them here."""
    chosen = [
        name
        for name, given in (
            ("STEP", options.steps),
            ("--dialogs", options.dialogs),
            ("--dialog", options.dialog),
        )
        if given
    ]
    if len(chosen) > 1:
        raise UsageError(f"funnel: {' and '.join(chosen)} do not go together: give one of them")
    if not chosen and options.request is None:
        raise UsageError(
            "funnel: name its steps (bot-telemetry funnel LuisIntent.BookTable "
            "WaterfallComplete), give --request FILE, or list the dialogs' funnels with --dialogs"
        )


def _funnel(options: argparse.Namespace) -> int:
    _check_funnel_choice(options)
    if options.dialogs or options.dialog:
        dialogs = _ask(options, "funnel/dialogs", _body(options, {}))
        if options.dialogs:
            rows = [
                [d["dialogId"], d["starts"], d["completes"], d["cancels"], " > ".join(d["steps"])]
                for d in dialogs
            ]
            headings = ["DIALOG", "STARTS", "COMPLETES", "CANCELS", "STEPS"]
            text = layout.table(headings, [[str(c) for c in row] for row in rows])
            _write(options, dialogs, text, [[h.lower() for h in headings], *rows])
            return 0
        chosen = next((d for d in dialogs if d["dialogId"] == options.dialog), None)
        if chosen is None:
            known = ", ".join(d["dialogId"] for d in dialogs) or "none"
            raise CommandError(f"no dialog {options.dialog!r} in this time window ({known})")
        body = chosen["funnel"]
    else:
        exclusions = []
        for item in options.exclude:
            parts = item.rsplit(":", 2)
            if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
                raise UsageError(f"--exclude {item!r}: expected EVENT:FROM:TO, e.g. X:0:2")
            exclusions.append(
                {"event": parts[0], "fromStep": int(parts[1]), "toStep": int(parts[2])}
            )
        body = _body(
            options,
            {
                "steps": [parse_step(step) for step in options.steps],
                "order": options.order,
                "window": options.window,
                "countBy": options.count_by,
                "breakdown": options.breakdown,
                "exclusions": exclusions,
                "slowReplySeconds": options.slow_reply,
            },
        )
    result = _ask(options, "funnel", body)
    causes = list(result["steps"][0]["dropOffCauses"]) if result["steps"] else []
    headings = ["STEP", "COUNT", "FROM_FIRST", "FROM_PREVIOUS", "DROP_OFF", "MEDIAN_S", "P90_S"]
    groups = [(None, result["steps"])] + [
        (v["value"] if not v["other"] else "(other)", v["steps"]) for v in result["breakdownValues"]
    ]
    rows = []
    table = ""
    for value, steps in groups:
        lines = [
            [
                s["name"],
                s["count"],
                s["conversionFromFirst"],
                s["conversionFromPrevious"],
                s["dropOff"],
                s["medianSecondsToConvert"],
                s["p90SecondsToConvert"],
                *(s["dropOffCauses"].get(c, 0) for c in causes),
            ]
            for s in steps
        ]
        label = "all" if value is None else f"{result['breakdown']}={value}"
        rows += [[label, *line] for line in lines]
        table += (
            ("\n" if table else "")
            + f"{label}:\n"
            + layout.table(
                headings + [c.upper() for c in causes],
                [[_number(cell) for cell in line] for line in lines],
            )
        )
    if result["excluded"]:
        table += layout.wrap(
            f"excluded (an exclusion event came between the steps): {result['excluded']}"
        )
    # Why the counts are what they are, when they alone would mislead (a strict funnel).
    for note in result.get("notes", []):
        table += layout.wrap(f"note: {note}")
    if result["dropped"]:
        table += "\n" + dropped_table(result["dropped"], result["countBy"], result["steps"])
    header = ["group", *[h.lower() for h in headings], *causes]
    _write(options, result, table, [header, *rows])
    return 0


#: The drop-offs the table lists (JSON has them all).
DROPPED_SHOWN = 10


def dropped_table(dropped: list[dict[str, Any]], count_by: str, steps: list[dict[str, Any]]) -> str:
    """Who stopped after which step, and why. The conversation is one column: counted by
    conversation, the entity is the conversation, and a line said its id twice."""
    by_conversation = count_by == "conversation"
    headings = ["STOPPED AFTER", "WHY", *([] if by_conversation else [count_by.upper()])]
    headings += ["CONVERSATION", "TRACE"]
    rows = []
    for item in dropped[:DROPPED_SHOWN]:
        step = item["step"]
        name = steps[step]["name"] if 0 <= step < len(steps) else str(step)
        rows.append(
            [
                name,
                item["cause"],
                *([] if by_conversation else [item["entity"]]),
                (item["entity"] if by_conversation else item.get("conversationId")) or "-",
                item.get("traceId") or "-",
            ]
        )
    text = layout.table(headings, rows)
    if len(dropped) > len(rows):
        text += f"and {len(dropped) - len(rows)} more (--format json lists them all)\n"
    return text


def _paths(options: argparse.Namespace) -> int:

    body = _body(
        options,
        {
            "startEvent": parse_step(options.start) if options.start else None,
            "endEvent": parse_step(options.end) if options.end else None,
            "stepLimit": options.steps,
            "edgeLimit": options.edges,
            "countBy": options.count_by,
            "include": options.include,
            "exclude": options.exclude,
            "groupings": options.group,
        },
    )
    result = _ask(options, "paths", body)
    nodes = [[n["step"], n["event"], n["count"], n["dropOff"]] for n in result["nodes"]]
    edges = [[e["source"], e["target"], e["count"]] for e in result["edges"]]
    table = layout.table(
        ["STEP", "EVENT", "COUNT", "DROP_OFF"], [[str(c) for c in row] for row in nodes]
    ) + layout.table(["FROM", "TO", "COUNT"], [[str(c) for c in row] for row in edges])
    rows = [["kind", "step", "event", "source", "target", "count", "drop_off"]]
    rows += [["node", step, event, "", "", count, drop] for step, event, count, drop in nodes]
    rows += [["edge", "", "", source, target, count, ""] for source, target, count in edges]
    _write(options, result, table, rows)
    return 0


def _retention(options: argparse.Namespace) -> int:

    body = _body(
        options,
        {
            "period": options.period,
            "totalIntervals": options.intervals,
            "cohortEvent": parse_step(options.cohort_event) if options.cohort_event else None,
            "returningEvent": (
                parse_step(options.returning_event) if options.returning_event else None
            ),
        },
    )
    result = _ask(options, "retention", body)
    n = result["totalIntervals"]
    headings = ["COHORT", "SIZE", *(f"{result['period'].upper()}_{i}" for i in range(n))]
    lines = [
        [c["cohortStart"], c["size"], *c["values"], *([None] * (n - len(c["values"])))]
        for c in result["cohorts"]
    ]
    table = layout.table(headings, [[_number(cell) for cell in line] for line in lines])
    rows = [[h.lower() for h in headings], *lines]
    _write(options, result, table, [[("" if c is None else c) for c in row] for row in rows])
    return 0
