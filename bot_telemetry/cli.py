"""The ``bot-telemetry`` command: the embedded collector and queries over its store.

    bot-telemetry serve                      # OTLP/HTTP + web UI on http://127.0.0.1:4318
    bot-telemetry appmap --format mermaid --since 1h
    bot-telemetry events --name QnAMessage --limit 20 --format jsonl
    bot-telemetry trace 4bf92f3577b34da6a3ce929d0e0e4736
    bot-telemetry conversations [CONVERSATION_ID]
    bot-telemetry demo                       # the sample bot, its services and the collector

Errors are one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .collector.window import TimeWindow, parse_duration

PROG = "bot-telemetry"
TOKEN_VARIABLE = "BOT_TELEMETRY_TOKEN"


class CommandError(Exception):
    """A failure to report as one line and exit status 1."""


def _store_options(parser: argparse.ArgumentParser, window: bool = True) -> None:
    from .collector.store import DEFAULT_STORE

    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help=f"the store file (default {DEFAULT_STORE})")
    if window:
        parser.add_argument("--since", help="start of the window: 15m, 2h, 7d or an ISO time")
        parser.add_argument("--until", help="end of the window: a duration ago or an ISO time")
        parser.add_argument("--url", help="ask this running collector instead of the store file")
        parser.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE),
                            help=f"token of a remote collector (default ${TOKEN_VARIABLE})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the OTLP/HTTP receiver and the web UI")
    _store_options(serve, window=False)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=4318, help="port (default 4318; 0 picks one)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow binding to an address other than loopback (needs --token)")
    serve.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE),
                       help=f"token every client must send (default ${TOKEN_VARIABLE})")
    serve.add_argument("--max-body-mb", type=float, default=16.0,
                       help="largest export accepted, in MiB, compressed or not (default 16)")
    serve.add_argument("--retention", default=None,
                       help="drop telemetry older than this (e.g. 7d); default keep everything")

    appmap = commands.add_parser("appmap", help="print the app map")
    _store_options(appmap)
    appmap.add_argument("--format", choices=("text", "json", "mermaid", "svg"), default="text")

    events = commands.add_parser("events", help="list custom events, newest first")
    _store_options(events)
    events.add_argument("--name", help="only events of this name")
    events.add_argument("--limit", type=int, default=50)
    events.add_argument("--format", choices=("table", "jsonl"), default="table")

    trace = commands.add_parser("trace", help="print one trace as a span tree")
    _store_options(trace, window=False)
    trace.add_argument("--url")
    trace.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE))
    trace.add_argument("trace_id", metavar="TRACE_ID")
    trace.add_argument("--format", choices=("text", "json"), default="text")

    talks = commands.add_parser("conversations", help="list conversations, or show one")
    _store_options(talks)
    talks.add_argument("conversation_id", nargs="?", metavar="CONVERSATION_ID")
    talks.add_argument("--limit", type=int, default=50)
    talks.add_argument("--format", choices=("text", "json"), default="text")

    commands.add_parser("demo", help="run the sample bot, its services and the collector",
                        add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["demo"]:
        # Everything after "demo" is the demo's own to parse.
        from sample_bot.demo import main as demo_main

        return demo_main(arguments[1:])
    options = build_parser().parse_args(arguments)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": _serve, "appmap": _appmap, "events": _events, "trace": _trace,
        "conversations": _conversations,
    }
    from .collector.access import RemoteError
    from .collector.server import ConfigError
    from .collector.store import StoreError

    try:
        return commands[options.command](options)
    except (CommandError, StoreError, RemoteError, ConfigError, ValueError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _window(options: argparse.Namespace) -> TimeWindow:
    return TimeWindow.parse(options.since, options.until)


def _source(options: argparse.Namespace) -> Any:
    from .collector.access import open_source

    return open_source(options.store, getattr(options, "url", None),
                       getattr(options, "token", None))


def _serve(options: argparse.Namespace) -> int:
    from .collector.server import Running, ServerConfig, serve

    config = ServerConfig(
        store=options.store, host=options.host, port=options.port,
        allow_remote=options.allow_remote, token=options.token or None,
        max_body=int(options.max_body_mb * 1024 * 1024),
        retention_seconds=parse_duration(options.retention) if options.retention else 0,
    )

    def ready(running: Running) -> None:
        print(f"{PROG} collector on {running.url}  (OTLP/HTTP /v1/traces /v1/logs /v1/metrics; "
              f"web UI {running.url}/)  store {config.store}", flush=True)

    asyncio.run(serve(config, ready))
    return 0


def _appmap(options: argparse.Namespace) -> int:
    from .collector import render

    window = _window(options)
    with _source(options) as source:
        built = source.app_map(window)
    formats: dict[str, Callable[[Any], str]] = {
        "text": render.as_text, "json": render.as_json, "mermaid": render.as_mermaid,
        "svg": render.as_standalone_svg,
    }
    sys.stdout.write(formats[options.format](built).rstrip("\n") + "\n")
    return 0


def _events(options: argparse.Namespace) -> int:
    window = _window(options)
    with _source(options) as source:
        found = source.events(window, options.name, options.limit)
    if options.format == "jsonl":
        for event in found:
            print(json.dumps(event, ensure_ascii=False))
        return 0
    rows = [(e["time"], e["service"], e["name"], e["conversation_id"] or "-", e["trace_id"] or "-")
            for e in found]
    _table(("TIME", "SERVICE", "EVENT", "CONVERSATION", "TRACE"), rows)
    return 0


def _trace(options: argparse.Namespace) -> int:
    from .collector.traces import valid_trace_id

    trace_id = valid_trace_id(options.trace_id)
    with _source(options) as source:
        found = source.trace(trace_id)
    if found is None:
        raise CommandError(f"no trace {trace_id} in {options.url or options.store}")
    if options.format == "json":
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    print(f"trace {found['trace_id']}  {found['start']}  {found['duration_ms']:.1f} ms  "
          f"{len(found['spans'])} spans  {found['errors']} errors  "
          f"services: {', '.join(found['services'])}")
    for span in found["spans"]:
        indent = "  " * span["depth"]
        mark = "  ERROR" + (f": {span['status_message']}" if span["status_message"] else "") \
            if span["status"] == "error" else ""
        print(f"{span['offset_ms']:>9.1f} ms {span['duration_ms']:>9.1f} ms  {indent}"
              f"[{span['service']}] {span['name']} ({span['kind']}){mark}")
        for event in span["events"]:
            print(f"{'':>24}  {indent}  · {event['name']} at +{event['offset_ms']:.1f} ms")
    if found["logs"]:
        print("log records:")
        for log in found["logs"]:
            label = log["event_name"] or log["severity"] or "log"
            body = f" {log['body']}" if log["body"] and log["body"] != log["event_name"] else ""
            print(f"{log['offset_ms']:>9.1f} ms  [{log['service']}] {label}{body}")
    return 0


def _conversations(options: argparse.Namespace) -> int:
    window = _window(options)
    with _source(options) as source:
        if options.conversation_id:
            found = source.conversation(options.conversation_id)
            if found is None:
                raise CommandError(f"no conversation {options.conversation_id!r} in the store")
        else:
            listed = source.conversations(window, options.limit)
    if options.format == "json":
        print(json.dumps(found if options.conversation_id else listed, indent=2,
                         ensure_ascii=False))
        return 0
    if not options.conversation_id:
        _table(("CONVERSATION", "CHANNEL", "TURNS", "FAILED", "FIRST", "LAST"),
               [(c["conversation_id"], c["channel_id"] or "-", str(c["turns"]),
                 str(c["failed_turns"]), c["first"], c["last"]) for c in listed])
        return 0
    print(f"conversation {found['conversation_id']}: {len(found['turns'])} turns")
    for number, turn in enumerate(found["turns"], 1):
        text = turn["text"]
        if text is None:
            kind = turn["activity_type"]
            text = f"({kind} activity)" if kind and kind != "message" else "(text not recorded)"
        print(f"\n#{number} {turn['start']}  {turn['activity_type'] or '?'}  "
              f"{turn['duration_ms']:.1f} ms  trace {turn['trace_id']}")
        print(f"  user: {text}")
        for intent in turn["intents"]:
            print(f"  intent: {intent['intent']} ({_score(intent['score'])})")
        for answer in turn["answers"]:
            shown = answer["answer"] if answer["answer"] is not None else "(not recorded)"
            print(f"  answer: {shown} ({_score(answer['score'])})")
        for reply in turn["replies"]:
            print(f"  bot: {reply if reply is not None else '(text not recorded)'}")
        for dependency in turn["dependencies"]:
            failed = "  FAILED" if dependency["failed"] else ""
            print(f"  call: {dependency['source']} -> {dependency['target']} "
                  f"{dependency['name']} {dependency['duration_ms']:.1f} ms{failed}")
        for failure in turn["failures"]:
            print(f"  failure: [{failure['service']}] {failure['name']}"
                  + (f": {failure['message']}" if failure["message"] else ""))
    return 0


def _score(score: float | None) -> str:
    return "score ?" if score is None else f"score {score:.2f}"


def _table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headings)]
    print("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(none in this time window)")


if __name__ == "__main__":
    sys.exit(main())
