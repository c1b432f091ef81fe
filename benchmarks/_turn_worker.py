"""One benchmark variant in its own process, running rounds of turns on command.

``python -m benchmarks._turn_worker --variant NAME --sink URL [--adapter test]`` builds the
variant, runs a few warm-up turns and prints ``{"ready": ..., "sink": {...}}``. Then each line
``{"turns": N}`` on stdin runs N turns one after another, drains the variant's telemetry
to the sink and prints one JSON line: the round's wall and CPU time (turns and drain), the
median single-turn latency and what the sink has received. An empty line or end of input stops it.

A process per variant keeps them apart: the baseline never has an OpenTelemetry SDK or
botbuilder's telemetry client loaded, and one variant's export threads cannot run during
another's round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from types import ModuleType
from typing import Any

from . import _agents_variants
from ._counts import sink_counts

WARM_UP_TURNS = 20


def _runtime(variant: str) -> ModuleType:
    """The variant's module, imported only for it: an Agents SDK worker never loads
    botbuilder, a botbuilder worker never loads the Agents SDK."""
    if variant in _agents_variants.AGENTS_VARIANTS:
        return _agents_variants
    from . import _variants

    return _variants


async def _turns(runtime: ModuleType, variant: Any, sink_url: str, count: int) -> list[int]:
    latencies = []
    for _ in range(count):
        activity = runtime.message(sink_url, variant.name)
        start = time.perf_counter_ns()
        await runtime.run_turn(variant, activity)
        latencies.append(time.perf_counter_ns() - start)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--sink", required=True, help="the sink's base URL")
    parser.add_argument("--adapter", default="cloud", choices=("cloud", "test"))
    args = parser.parse_args(argv)
    tenant = f"{args.sink}/{args.variant}"
    runtime = _runtime(args.variant)
    with asyncio.Runner() as runner:
        variant = runtime.build(args.variant, args.sink, args.adapter)
        runner.run(_turns(runtime, variant, args.sink, WARM_UP_TURNS))
        variant.drain()
        ready = {"ready": args.variant, "sink": sink_counts(tenant)}
        print(json.dumps(ready), flush=True)
        for line in sys.stdin:
            if not line.strip():
                break
            count = int(json.loads(line)["turns"])
            start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
            latencies = runner.run(_turns(runtime, variant, args.sink, count))
            variant.drain()
            elapsed = time.perf_counter_ns() - start
            result = {
                "elapsed_ns": elapsed,
                # every thread of this process: the export threads' work counts too
                "cpu_ns": time.process_time_ns() - cpu_start,
                "turns": count,
                "turn_median_ns": statistics.median(latencies),
                "sink": sink_counts(tenant),
            }
            print(json.dumps(result), flush=True)
        variant.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
