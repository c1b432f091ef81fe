"""Where a variant's telemetry time goes, per turn: py-spy on one turn_overhead worker.

    python -m benchmarks.profile_turn --variant echo_bot_telemetry [--adapter test] [--json]

Runs the variant's worker (see ``_turn_worker``) under ``py-spy record --gil --threads``,
so only samples holding the GIL count, the export threads' included. A sample counts as
telemetry when its innermost telemetry frame (bot_telemetry, opentelemetry,
applicationinsights, botbuilder's TelemetryLoggerMiddleware) is not calling back into the
bot; it is charged to the entry point, where the bot (or the thread) last called into
telemetry. Prints microseconds per turn by entry point and thread. Sampling has overhead:
compare variants with each other, not with ``turn_overhead``'s figures. Needs ``py-spy``
(pip install py-spy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import REPO, running

from ._variants import ADAPTERS, VARIANTS
from .turn_overhead import PSEUDONYM_KEY

TELEMETRY = re.compile(
    r"bot_telemetry/|opentelemetry/|applicationinsights/|telemetry_logger_middleware"
)
#: Frames of the bot itself: time below them is the bot's, even when telemetry called it.
BOT = re.compile(r"botbuilder/|botframework/|msrest/|aiohttp/|benchmarks/|sample_bot/")
#: Export threads, by name where py-spy has it, else by their loop.
EXPORT_THREAD = re.compile(
    r"bot-telemetry-export|Thread-\d+ \(_run\)|BatchQueue\._run|AsynchronousSender\._run"
)
PACKAGE = re.compile(r"(bot_telemetry|opentelemetry|botbuilder|applicationinsights|benchmarks)/.*$")
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?):(?P<line>\d+)\)$")
RATE = 500


def _short(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    package = PACKAGE.search(match["file"])
    path = package.group(0) if package else match["file"]
    return f"{match['function']} ({path})"


def attribute(raw: str, turns: int, rate: int = RATE, depth: int = 2) -> dict[str, Any]:
    """Charge py-spy's collapsed stacks (``raw``, one ``frames count`` per line) to entry points.

    An entry point is where the bot (or a thread) called into telemetry code last on the
    stack, named by up to ``depth`` telemetry frames from there on.
    """
    per_thread: Counter[str] = Counter()
    entries: Counter[tuple[str, str]] = Counter()
    for line in raw.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        marked = [i for i, frame in enumerate(frames) if TELEMETRY.search(frame)]
        if not marked:
            continue
        bot = [i for i, f in enumerate(frames) if BOT.search(f) and not TELEMETRY.search(f)]
        if bot and bot[-1] > marked[-1]:
            continue  # the bot's own work, called from a telemetry hook
        if any("<module>" in frames[i] for i in marked):
            continue  # importing, not running
        entry = [i for i in marked if not bot or i > bot[-1]]
        thread = "export" if EXPORT_THREAD.search(stack) else "turn"
        count = int(count_text)
        per_thread[thread] += count
        entries[(thread, " > ".join(_short(frames[i]) for i in entry[:depth]))] += count

    def us(samples: int) -> float:
        return round(samples / rate / turns * 1e6, 1)

    return {
        "us_per_turn": {thread: us(n) for thread, n in sorted(per_thread.items())},
        "by_entry_point": [
            {"thread": thread, "entry": entry, "us_per_turn": us(n)}
            for (thread, entry), n in entries.most_common(20)
        ],
    }


def profile(variant: str, turns: int, depth: int = 2, adapter: str = "cloud") -> dict[str, Any]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    port = free_port()
    sink_url = f"http://127.0.0.1:{port}"
    output = Path(tempfile.mkstemp(prefix=f"profile-{variant}-", suffix=".txt")[1])
    rounds = "".join(json.dumps({"turns": 500}) + "\n" for _ in range(max(1, turns // 500)))
    measured = 500 * max(1, turns // 500) + 20  # the worker's warm-up turns are sampled too
    with running(["-m", "benchmarks._sink", "--port", str(port)], ready_url=f"{sink_url}/health"):
        subprocess.run(
            [
                py_spy,
                "record",
                "--gil",
                "--threads",
                "-r",
                str(RATE),
                "-f",
                "raw",
                "-o",
                str(output),
                "--",
                sys.executable,
                "-m",
                "benchmarks._turn_worker",
                "--variant",
                variant,
                "--sink",
                sink_url,
                "--adapter",
                adapter,
            ],
            input=rounds + "\n",
            text=True,
            cwd=REPO,
            check=True,
            capture_output=True,
            env={**os.environ, "BOT_TELEMETRY_PSEUDONYM_KEY": PSEUDONYM_KEY},
            timeout=600,
        )
    report = attribute(output.read_text(), measured, depth=depth)
    return {"variant": variant, "adapter": adapter, "turns": measured, **report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True, choices=VARIANTS)
    parser.add_argument("--turns", type=int, default=1500, help="turns sampled (default 1500)")
    parser.add_argument("--depth", type=int, default=2, help="telemetry frames per entry")
    parser.add_argument("--adapter", default="cloud", choices=ADAPTERS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = profile(args.variant, args.turns, args.depth, args.adapter)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.variant}: telemetry time per turn (GIL held), by thread: {report['us_per_turn']}")
    for row in report["by_entry_point"]:
        print(f"  {row['us_per_turn']:8.1f} us  {row['thread']:<6}  {row['entry']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
