"""What the bot's own metrics cost a turn, measured alone: the calls TelemetryMiddleware and
the wrappers make for an echo turn (a turn, one reply) and a full turn (the same plus four
dependency calls: storage read, recognizer, Q&A, storage write), through the real SDK with a
metric reader, and with metrics off (no reader: ``configure()`` installs no-op meters).

    python -m benchmarks._metrics_cost      # one JSON object; turn_overhead runs it

The turn-level variants of ``turn_overhead`` (``*_bot_telemetry_metrics``) measure the same
inside whole turns; on a shared machine their rounds swing by far more than these few
microseconds, so this one takes the best of several repeats of many calls (CPU time): what
the calls cost when nothing else gets in the way. Inside a turn a span is current, as here.
"""

from __future__ import annotations

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


def best_us(run: Callable[[], None], calls: int = 20_000, repeats: int = 7) -> float:
    """The fastest of ``repeats`` runs, in CPU microseconds per call."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            run()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return round(best, 2)


def measure() -> dict[str, float]:
    found: dict[str, float] = {}
    for state, readers in (("off", []), ("on", [InMemoryMetricReader()])):
        handle = bot_telemetry.configure(
            "bench-bot",
            span_exporters=[InMemorySpanExporter()],
            log_exporters=[],
            metric_readers=readers,
        )
        tracer = handle.tracer_provider.get_tracer("benchmark")
        with tracer.start_as_current_span("bot.turn"):
            found[f"echo_{state}_us"] = best_us(echo_turn)
            found[f"full_{state}_us"] = best_us(full_turn)
        handle.shutdown()
    for kind in ("echo", "full"):
        found[f"{kind}_added_us"] = round(found[f"{kind}_on_us"] - found[f"{kind}_off_us"], 2)
    return found


if __name__ == "__main__":
    print(json.dumps(measure()))
    sys.exit(0)
