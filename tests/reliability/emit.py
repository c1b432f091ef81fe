"""An exporting process for the tests: the real SDK through ``configure()``, emitting
``--spans`` spans (each with a custom event) at a steady pace, then flushing; it prints what
its accounting says was dropped, as JSON.

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python -m tests.reliability.emit --spans 500
"""

from __future__ import annotations

import argparse
import json
import time

from opentelemetry import trace

import bot_telemetry
from bot_telemetry.signals.custom_events import track_custom_event


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, required=True)
    parser.add_argument("--per-second", type=float, default=500)
    args = parser.parse_args()
    telemetry = bot_telemetry.configure(service_name="emitter")
    tracer = trace.get_tracer("tests.reliability.emit")
    started = time.monotonic()
    for index in range(args.spans):
        with tracer.start_as_current_span("emitted", attributes={"index": index}):
            track_custom_event("Emitted", {"index": str(index)})
        # A steady pace, so the export spans the collector's crash and restart.
        pause = started + (index + 1) / args.per_second - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    flushed = telemetry.force_flush(60_000)
    dropped = telemetry.dropped()
    telemetry.shutdown()
    print(json.dumps({"flushed": flushed, "dropped": dropped}), flush=True)


if __name__ == "__main__":
    main()
