"""What the bot's own metrics cost a turn, measured alone: the calls TelemetryMiddleware and
the wrappers make for an echo turn (a turn, one reply) and a full turn (the same plus four
dependency calls: storage read, recognizer, Q&A, storage write), through the real SDK with a
metric reader, and with metrics off (no reader: ``configure()`` installs no-op meters).

    python -m benchmarks._metrics_cost [--calls 20000] [--repeats 7]   # one JSON object

``turn_overhead`` runs it with its ``--isolated-calls`` (its tests with a few hundred: they
check the report, not the figures).

Three states: ``off`` (no reader), ``on`` (a reader; the durations wait for the collection,
as ``configure()`` sets it) and ``sync`` (a reader, the durations recorded into the SDK's
histograms on the turn's path, as before). A collection follows every 5,000 turns, as a
periodic reader's would (more often than its 60 s: the same work in more pieces).
``*_us`` is the CPU per turn of the turns alone (the turn's path); ``*_all_us`` adds the
collections' (the reader's thread: recording the waiting durations, reading the storages);
``*_added_us`` is ``on`` minus ``off`` on the turn's path (``*_sync_added_us`` the same for
``sync``), ``*_moved_us`` what the collections do more with ``on`` than with ``sync``.

The turn-level variants of ``turn_overhead`` (``*_bot_telemetry_metrics``) measure the same
inside whole turns; on a shared machine their rounds swing by far more than these few
microseconds, so this one takes the best of several repeats of many calls (CPU time): what
the calls cost when nothing else gets in the way. Inside a turn a span is current, as here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import bot_telemetry
from bot_telemetry.signals import metrics

CHANNEL = "directline"
DEPENDENCIES = (
    ("MemoryStorage", "Storage"),
    ("nlu", "Recognizer"),
    ("qna", "QnA"),
    ("MemoryStorage", "Storage"),
)


def echo_turn() -> None:
    token = metrics.turn_started(CHANNEL, "message")
    metrics.message_sent(CHANNEL, "message")
    metrics.turn_ended(token, None)


def full_turn() -> None:
    token = metrics.turn_started(CHANNEL, "message")
    for peer, component in DEPENDENCIES:
        metrics.dependency_call_ended(peer, component, 0.004, None)
    metrics.message_sent(CHANNEL, "message")
    metrics.turn_ended(token, None)


def best_us(
    run: Callable[[], None],
    reader: InMemoryMetricReader | None,
    calls: int = 20_000,
    repeats: int = 7,
    collect_every: int = 5_000,
) -> tuple[float, float]:
    """The fastest of ``repeats`` runs, in CPU microseconds per call: the turns' alone (the
    turn's path) and with the collections made every ``collect_every`` turns (what a
    reader's thread does, here in the same thread so that the scheduling of a loaded
    machine does not decide how much waits)."""
    best_turns = best_all = float("inf")
    collect_every = min(collect_every, calls)
    calls -= calls % collect_every
    for _ in range(repeats):
        turns = collecting = 0.0
        for _ in range(calls // collect_every):
            started = time.process_time()
            for _ in range(collect_every):
                run()
            collected = time.process_time()
            if reader is not None:
                reader.collect()
            turns += collected - started
            collecting += time.process_time() - collected
        best_turns = min(best_turns, turns / calls * 1e6)
        best_all = min(best_all, (turns + collecting) / calls * 1e6)
    return round(best_turns, 2), round(best_all, 2)


def measure(calls: int = 20_000, repeats: int = 7) -> dict[str, float]:
    if calls < 1 or repeats < 1:
        raise ValueError("calls and repeats must be at least 1")
    found: dict[str, float] = {}
    for state in ("off", "sync", "on"):
        reader = None if state == "off" else InMemoryMetricReader()
        handle = bot_telemetry.configure(
            "bench-bot",
            span_exporters=[InMemorySpanExporter()],
            log_exporters=[],
            metric_readers=[reader] if reader is not None else [],
        )
        if state == "sync":
            metrics.record_durations(metrics.AT_ONCE)
        tracer = handle.tracer_provider.get_tracer("benchmark")
        with tracer.start_as_current_span("bot.turn"):
            for kind, run in (("echo", echo_turn), ("full", full_turn)):
                turn, every = best_us(run, reader, calls, repeats)
                found[f"{kind}_{state}_us"] = turn
                found[f"{kind}_{state}_all_us"] = every
        handle.shutdown()
    for kind in ("echo", "full"):
        for state in ("on", "sync"):
            added = found[f"{kind}_{state}_us"] - found[f"{kind}_off_us"]
            found[f"{kind}_{state}_added_us" if state == "sync" else f"{kind}_added_us"] = round(
                added, 2
            )
        moved = (found[f"{kind}_on_all_us"] - found[f"{kind}_on_us"]) - (
            found[f"{kind}_sync_all_us"] - found[f"{kind}_sync_us"]
        )
        found[f"{kind}_moved_us"] = round(moved, 2)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What the bot's own metrics cost a turn.")
    parser.add_argument("--calls", type=int, default=20_000, help="turns a repeat (20,000)")
    parser.add_argument("--repeats", type=int, default=7, help="repeats; the best counts (7)")
    args = parser.parse_args(argv)
    try:
        found = measure(args.calls, args.repeats)
    except ValueError as error:
        parser.error(str(error))
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
