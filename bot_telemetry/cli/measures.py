"""``bot-telemetry measures``: the bot's KPIs over time, as ``POST /analytics/query`` answers
(docs/measures.md). Without a measure, list them. The window is the last 7 days by default.

    bot-telemetry measures activeUsers intents --since 7d --granularity day --channel msteams
    bot-telemetry measures turnLatency --granularity hour --format csv > latency.csv
    bot-telemetry measures intents --param minScore=0.5 --page-size 20 --sort descending
    bot-telemetry measures                 # list the measures, their values and dimensions

Each (measure, granularity) is one request, so a progress bar on stderr can say how far a
long run got; it appears once the run has taken more than a second (on a terminal redrawn in
place, elsewhere a line each time it moves).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from . import layout
from .common import (
    Handler,
    UsageError,
    described,
    format_option,
    open_for,
    store_options,
    time_window,
)

#: Context dimensions as options: (option, dimension).
DIMENSION_OPTIONS = (
    ("channel", "channelId"),
    ("conversation", "conversationId"),
    ("user", "userId"),
    ("service", "serviceName"),
    ("service-version", "serviceVersion"),
    ("dialog", "dialogId"),
    ("intent", "intent"),
    ("locale", "locale"),
    ("dependency", "dependency"),
)


def register(commands: Any) -> dict[str, Handler]:
    parser = commands.add_parser(
        "measures",
        help="measures over time: users, messages, intents, latency, dialogs, ...",
        **described(__doc__),
    )
    parser.add_argument("measure", nargs="*", metavar="MEASURE", help="activeUsers, intents, ...")
    store_options(parser)
    parser.set_defaults(since="7d")
    parser.add_argument(
        "--granularity",
        action="append",
        metavar="G",
        help="second, minute, hour, day, week or month; repeat or comma-separate (default hour)",
    )
    for option, dimension in DIMENSION_OPTIONS:
        parser.add_argument(
            f"--{option}",
            action="append",
            dest=f"context_{dimension}",
            metavar="VALUE",
            help=f"only this {dimension} (repeat for several)",
        )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=NUMBER", help="a measure parameter"
    )
    parser.add_argument("--page", type=int, help="which page of rows (from 0)")
    parser.add_argument("--page-size", type=int, help="rows per page")
    parser.add_argument("--sort", choices=("ascending", "descending"), help="by time")
    format_option(parser, ("table", "json", "csv"))
    parser.add_argument(
        "--progress-after",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help=argparse.SUPPRESS,  # when the progress bar appears (tests)
    )
    return {"measures": _measures}


def _params(options: argparse.Namespace) -> dict[str, float]:
    params = {}
    for item in options.param:
        name, equals, value = item.partition("=")
        try:
            if not equals or not name:
                raise ValueError
            params[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--param {item!r}: expected NAME=NUMBER, e.g. minScore=0.5") from None
    return params


def _requests(options: argparse.Namespace) -> list[dict[str, Any]]:
    """One request body per (measure, granularity), in order."""
    window = time_window(options)
    context = {
        dimension: values
        for _, dimension in DIMENSION_OPTIONS
        if (values := getattr(options, f"context_{dimension}"))
    }
    granularities = [
        part.strip() for given in options.granularity or ["hour"] for part in given.split(",")
    ]
    params = _params(options)
    # The same end for every request, even when it is "now".
    end_ms = window.end_ns // 1_000_000 if options.until else time.time_ns() // 1_000_000
    if end_ms <= window.start_ns // 1_000_000:
        # Said as the other commands say it, not as the API's "endTime ... found <epoch ms>".
        raise UsageError(
            f"the time window is empty: --since {options.since} is after now "
            "(the end when --until is left out)"
        )
    bodies = []
    for name in options.measure:
        for granularity in granularities:
            item: dict[str, Any] = {"measureType": name, "timeGranularity": [granularity]}
            if params:
                item["params"] = params
            for key, value in (
                ("page", options.page),
                ("pageSize", options.page_size),
                ("sortDirection", options.sort),
            ):
                if value is not None:
                    item[key] = value
            bodies.append(
                {
                    "startTime": window.start_ns // 1_000_000,
                    "endTime": end_ms,
                    "context": context,
                    "measures": [item],
                }
            )
    return bodies


class ProgressBar:
    """Draws ``measures [####......] 3/8`` on ``stream`` once ``after`` seconds have passed,
    until ``close()``: redrawn in place on a terminal, elsewhere (a log file, a pipe) a line
    each time the count moves, not a redraw every 0.2 s."""

    def __init__(self, total: int, after: float, stream: TextIO = sys.stderr):
        self.total = total
        self.done = 0
        self.stream = stream
        self.terminal = stream.isatty()
        self._drawn: int | None = None  # the count of the last line written elsewhere
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._draw, args=(after,), daemon=True)
        self._thread.start()

    def _draw(self, after: float) -> None:
        if self._stop.wait(after):
            return
        self._shown = True
        while True:
            self._line(final=False)
            if self._stop.wait(0.2):
                return

    def _line(self, final: bool) -> None:
        done = self.done
        width = 30
        filled = width * done // max(self.total, 1)
        bar = f"measures [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}"
        if self.terminal:
            self.stream.write(f"\r{bar}" + ("\n" if final else ""))
        elif done != self._drawn:
            self._drawn = done
            self.stream.write(bar + "\n")
        self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._shown:
            self._line(final=True)


def _measures(options: argparse.Namespace) -> int:
    if not options.measure:
        return _list()
    bodies = _requests(options)
    results: list[dict[str, Any]] = []
    bar = ProgressBar(len(bodies), options.progress_after)
    try:
        with open_for(options) as source:
            for body in bodies:
                results.extend(source.measures(body))
                bar.done += 1
    finally:
        bar.close()
    formats: dict[str, Callable[[list[dict[str, Any]]], str]] = {
        "json": lambda found: json.dumps(found, indent=2, ensure_ascii=False) + "\n",
        "csv": as_csv,
        "table": as_tables,
    }
    sys.stdout.write(formats[options.format](results))
    return 0


def _columns(result: dict[str, Any]) -> list[str]:
    columns: dict[str, None] = {}
    for row in result["response"]:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def as_tables(results: list[dict[str, Any]]) -> str:
    """Each result as a heading and a table."""

    parts = []
    for result in results:
        columns = _columns(result) or ["time"]
        rows = [[_text(row.get(c)) for c in columns] for row in result["response"]]
        heading = f"{result['measureType']} by {result['timeGranularity']}"
        parts.append(heading + "\n" + layout.table([c.upper() for c in columns], rows))
    return "\n".join(parts)


def as_csv(results: list[dict[str, Any]]) -> str:
    """One CSV: measureType, timeGranularity, then every result's columns (blank where a
    measure has no such column)."""
    columns: dict[str, None] = {}
    for result in results:
        columns.update(dict.fromkeys(_columns(result)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["measureType", "timeGranularity", *columns])
    for result in results:
        for row in result["response"]:
            cells = ["" if row.get(c) is None else row[c] for c in columns]
            writer.writerow([result["measureType"], result["timeGranularity"], *cells])
    return out.getvalue()


def _list() -> int:
    from ..analytics.measures import catalog

    rows = []
    for measure in catalog()["measures"]:
        values = ", ".join(value["name"] for value in measure["values"])
        keys = ", ".join(measure["keys"]) or "-"
        rows.append([measure["measureType"], keys, values])
    sys.stdout.write(layout.table(["MEASURE", "PER", "VALUES"], rows))
    sys.stdout.write("\n" + layout.wrap("Granularities: " + ", ".join(catalog()["granularities"])))
    return 0
