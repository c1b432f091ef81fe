"""``bot-telemetry metrics``: the metrics in the store, and one metric's series.

    bot-telemetry metrics                          # names, kinds, units, series, points
    bot-telemetry metrics http.server.duration     # per series: percentiles and buckets
    bot-telemetry metrics queue.depth --since 1h   # per series: latest value and a sparkline

How a metric's series are read: docs/collector.md ("How a metric's series are read").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from . import layout
from .common import (
    CommandError,
    Handler,
    described,
    format_option,
    open_for,
    store_options,
    time_window,
)

_BARS = "▁▂▃▄▅▆▇█"
SPARKLINE_WIDTH = 40


def register(commands: Any) -> dict[str, Handler]:
    metrics = commands.add_parser(
        "metrics", help="list metrics, or show one metric's series", **described(__doc__)
    )
    store_options(metrics)
    metrics.add_argument("name", nargs="?", metavar="METRIC", help="a metric's name")
    format_option(metrics, ("text", "json"))
    return {"metrics": _metrics}


def _metrics(options: argparse.Namespace) -> int:

    window = time_window(options)
    with open_for(options) as source:
        found: Any = source.metric(options.name, window) if options.name else source.metrics(window)
    if options.name and found is None:
        raise CommandError(f"no points of metric {options.name!r} in this time window")
    if options.format == "json":
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    elif options.name:
        sys.stdout.write(metric_as_text(found))
    else:
        rows = [
            (m["name"], m["kind"], m["unit"] or "-", str(m["series"]), str(m["points"]), m["last"])
            for m in found
        ]
        headings = ("METRIC", "KIND", "UNIT", "SERIES", "POINTS", "LAST")
        sys.stdout.write(layout.table(headings, rows))
    return 0


def sparkline(values: list[Any], width: int = SPARKLINE_WIDTH) -> str:
    """The last ``width`` values as block characters; a gap for NaN or a missing value."""
    shown = values[-width:]
    finite = [v for v in shown if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(
        _BARS[round((v - low) / span * (len(_BARS) - 1))]
        if isinstance(v, int | float) and math.isfinite(v)
        else " "
        for v in shown
    )


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _labels(attributes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(attributes.items())) or "-"


def _service(series: Any) -> str:
    """The service, and what tells this series' resource from the service's others."""
    resource = series.get("resource") or {}
    return str(series["service"]) + (f" ({_labels(resource)})" if resource else "")


def metric_as_text(metric: Any) -> str:

    unit = f", {metric['unit']}" if metric["unit"] else ""
    lines = [layout.wrap(f"{metric['name']} ({metric['kind']}{unit})").rstrip("\n")]
    if metric["description"]:
        lines.append(layout.wrap(metric["description"]).rstrip("\n"))
    series = metric["series"]
    rows: list[tuple[str, ...]]
    if metric["kind"] in ("gauge", "sum"):
        rows = [
            (
                _service(s),
                _labels(s["attributes"]),
                _number(s["latest"]),
                str(s["points"]),
                s["last"],
                sparkline([v["value"] for v in s["values"]]),
            )
            for s in series
        ]
        headings: tuple[str, ...] = (
            "SERVICE",
            "ATTRIBUTES",
            "LATEST",
            "POINTS",
            "LAST",
            "OVER TIME",
        )
        return "\n".join(lines) + "\n" + layout.table(headings, rows)
    rows = []
    for s in series:
        d = s["distribution"] or {}
        p = d.get("percentiles", {})
        rows.append(
            (
                _service(s),
                _labels(s["attributes"]),
                str(d.get("count", 0)),
                _number(d.get("sum")),
                _number(d.get("min")),
                *(_number(p.get(q)) for q in ("p50", "p90", "p95", "p99")),
                _number(d.get("max")),
            )
        )
    headings = ("SERVICE", "ATTRIBUTES", "COUNT", "SUM", "MIN", "P50", "P90", "P95", "P99", "MAX")
    text = "\n".join(lines) + "\n" + layout.table(headings, rows)
    for s in series:
        buckets = (s["distribution"] or {}).get("buckets") or []
        if buckets:
            # A bucket a line would be hundreds of lines; all on one, hundreds of columns.
            shown = [
                f"({_bound(b['low'], '-inf')}, {_bound(b['high'], '+inf')}] {b['count']}"
                for b in buckets
            ]
            text += layout.wrap_items(f"buckets {_service(s)} {_labels(s['attributes'])}:", shown)
    return text


def _bound(value: Any, infinite: str) -> str:
    return infinite if value is None else _number(value)
