"""What telemetry adds to a bot turn: ours, botbuilder + Application Insights', and none.

    python -m benchmarks.turn_overhead                    # a table (botbuilder)
    python -m benchmarks.turn_overhead --json             # one JSON object
    python -m benchmarks.turn_overhead --runtime both     # botbuilder and the Agents SDK

``--runtime agents`` (or ``both``) also runs the same bots on the Microsoft 365 Agents SDK
(``_agents_variants``): its CloudAdapter and an AgentApplication, with its own
no-telemetry baseline in the same rounds, so each runtime's added cost and ratio is
against its own baseline.

Each variant (see ``_variants``) runs in its own worker process, driving botbuilder's
``CloudAdapter.process_activity`` with replies posted to a local connector sink (or, with
``--adapter test``, botbuilder's in-memory ``TestAdapter``: the same middleware pipeline
without the connector round trip and per-turn client set-up, so far less noise) and
telemetry exported to the same sink process. Rounds are interleaved: round r runs every
variant once, in an order rotated by r, so drifting machine load hits them all alike. A
round is N turns one after another plus draining the telemetry they produced to the
sink, so export work is charged to the variant that caused it. Figures are the worker's
CPU time (all its threads) per turn in microseconds, medians over rounds; added costs are
medians of per-round differences to the baseline. Other load on the machine disturbs CPU
time far less than wall time, which is reported beside it (``wall_us``, ``wall_added_us``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.support.ports import free_port
from tests.support.processes import REPO, running

from . import _report
from ._agents_variants import AGENTS_ECHO_VARIANTS, AGENTS_FULL_VARIANTS, AGENTS_VARIANTS
from ._variants import ADAPTERS, ECHO_VARIANTS, FULL_VARIANTS, VARIANTS

RUNTIMES = ("botbuilder", "agents", "both")
#: Every variant of each runtime, by ``--variants`` group.
GROUPS = {
    "botbuilder": {"all": VARIANTS, "echo": ECHO_VARIANTS, "full": FULL_VARIANTS},
    "agents": {"all": AGENTS_VARIANTS, "echo": AGENTS_ECHO_VARIANTS, "full": AGENTS_FULL_VARIANTS},
}
ALL_VARIANTS = VARIANTS + AGENTS_VARIANTS

#: Echo target: our added cost at most this share of botbuilder + Application Insights'.
ECHO_ADDED_RATIO_MAX = 0.5
#: Full-turn target: at most this many microseconds added per turn.
FULL_ADDED_US_MAX = 400.0
#: Metrics target: the bot's own metrics add at most this many microseconds per turn.
METRICS_ADDED_US_MAX = 10.0
#: Turns a repeat of the metrics' isolated measurement (benchmarks._metrics_cost).
ISOLATED_CALLS = 20_000
#: A fixed key, as a deployment would set, so pseudonymous ids are computed as in production.
PSEUDONYM_KEY = "benchmark-pseudonym-key"


@dataclass
class Worker:
    variant: str
    process: subprocess.Popen[str]
    log: Path
    per_turn_us: list[float] = field(default_factory=list)
    turn_median_us: list[float] = field(default_factory=list)
    cpu_per_turn_us: list[float] = field(default_factory=list)
    sink: dict[str, int] = field(default_factory=dict)
    exported: dict[str, int] = field(default_factory=dict)
    measured_turns: int = 0

    def request(self, line: str) -> dict[str, Any]:
        stdin, stdout = self._pipes()
        stdin.write(line + "\n")
        stdin.flush()
        return self._answer(stdout)

    def read_ready(self) -> None:
        # Counts so far are the warm-up's; measured rounds are counted from here.
        self.sink = self._answer(self._pipes()[1])["sink"]

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def _answer(self, stdout: IO[str]) -> dict[str, Any]:
        line = stdout.readline()
        if not line:
            self.process.wait(10)
            raise RuntimeError(
                f"worker {self.variant} exited with {self.process.returncode}:\n"
                + self.log.read_text(errors="replace")[-4000:]
            )
        answer: dict[str, Any] = json.loads(line)
        return answer


@contextmanager
def _worker(variant: str, sink_url: str, adapter: str) -> Iterator[Worker]:
    log = Path(tempfile.mkstemp(prefix=f"bench-{variant}-", suffix=".log")[1])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BOT_TELEMETRY_PSEUDONYM_KEY": PSEUDONYM_KEY}
    with log.open("w") as errors:
        process = subprocess.Popen(
            [
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
            cwd=REPO,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    worker = Worker(variant, process, log)
    try:
        yield worker
    finally:
        if process.poll() is None:
            assert process.stdin is not None
            try:
                process.stdin.write("\n")
                process.stdin.close()
                process.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                process.kill()
                process.wait(5)


def _record(worker: Worker, answer: dict[str, Any], measured: bool) -> None:
    sink: dict[str, int] = answer["sink"]
    if measured:
        turns = answer["turns"]
        worker.per_turn_us.append(answer["elapsed_ns"] / turns / 1000)
        worker.turn_median_us.append(answer["turn_median_ns"] / 1000)
        worker.cpu_per_turn_us.append(answer["cpu_ns"] / turns / 1000)
        for key, value in sink.items():
            worker.exported[key] = worker.exported.get(key, 0) + value - worker.sink.get(key, 0)
        worker.measured_turns += turns
    worker.sink = sink


def measure(
    variants: Sequence[str] = VARIANTS,
    rounds: int = 15,
    turns: int = 200,
    warm_up: int = 1,
    adapter: str = "cloud",
    isolated_calls: int = ISOLATED_CALLS,
) -> dict[str, Any]:
    """Run the interleaved rounds and return the report (what ``--json`` prints);
    ``isolated_calls`` is the size of the metrics' isolated measurement, when a metrics
    variant runs."""
    unknown = sorted(set(variants) - set(ALL_VARIANTS))
    if unknown or not variants:
        raise ValueError(f"unknown variants {unknown}; choose from {', '.join(ALL_VARIANTS)}")
    if adapter not in ADAPTERS:
        raise ValueError(f"unknown adapter {adapter!r}; choose from {', '.join(ADAPTERS)}")
    if adapter != "cloud" and set(variants) & set(AGENTS_VARIANTS):
        raise ValueError("the Agents SDK has no in-memory test adapter: use --adapter cloud")
    if rounds < 1 or turns < 1 or warm_up < 0 or isolated_calls < 1:
        raise ValueError("rounds, turns and isolated calls must be at least 1, warm_up at least 0")
    port = free_port()
    sink_url = f"http://127.0.0.1:{port}"
    machine = _report.machine()
    with ExitStack() as stack:
        stack.enter_context(
            running(["-m", "benchmarks._sink", "--port", str(port)], ready_url=f"{sink_url}/health")
        )
        workers = [stack.enter_context(_worker(v, sink_url, adapter)) for v in variants]
        for worker in workers:
            worker.read_ready()
        for number in range(warm_up + rounds):
            shift = number % len(workers)
            for worker in workers[shift:] + workers[:shift]:
                answer = worker.request(json.dumps({"turns": turns}))
                _record(worker, answer, measured=number >= warm_up)
    report = _summary(workers, rounds, turns, machine)
    report["adapter"] = adapter
    if any(variant.endswith("_metrics") for variant in variants):
        report["metrics_isolated"] = _metrics_isolated(isolated_calls)
        for kind in ("echo", "full"):
            added = report["metrics_isolated"][f"{kind}_added_us"]
            report["targets"][f"metrics_{kind}_isolated_met"] = added <= METRICS_ADDED_US_MAX
    return report


def _metrics_isolated(calls: int) -> dict[str, float]:
    """The metrics' calls alone (benchmarks._metrics_cost), in a process of their own."""
    found = subprocess.run(
        [sys.executable, "-m", "benchmarks._metrics_cost", "--calls", str(calls)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    isolated: dict[str, float] = json.loads(found.stdout)
    return isolated


#: Each telemetry variant and the baseline its added cost is measured against: the same
#: bot on the same runtime without telemetry.
PAIRS = (
    ("echo_botbuilder_ai", "echo_baseline"),
    ("echo_bot_telemetry", "echo_baseline"),
    ("full_bot_telemetry", "full_baseline"),
    # What PostHog adds to our telemetry (not to no telemetry).
    ("full_bot_telemetry_posthog", "full_bot_telemetry"),
    # What the bot's own metrics add to our telemetry (metrics on vs off).
    ("echo_bot_telemetry_metrics", "echo_bot_telemetry"),
    ("full_bot_telemetry_metrics", "full_bot_telemetry"),
    ("agents_echo_bot_telemetry", "agents_echo_baseline"),
    ("agents_full_bot_telemetry", "agents_full_baseline"),
)
#: The side-by-side table: per runtime, our echo and full variants.
SIDE_BY_SIDE = {
    "botbuilder": ("echo_bot_telemetry", "full_bot_telemetry"),
    "agents": ("agents_echo_bot_telemetry", "agents_full_bot_telemetry"),
}


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1)


def _paired(variant: Sequence[float], baseline: Sequence[float]) -> float:
    return _median([v - b for v, b in zip(variant, baseline, strict=True)])


def _median_ratio(variant: Sequence[float], baseline: Sequence[float]) -> float:
    ratios = [v / b for v, b in zip(variant, baseline, strict=True) if b > 0]
    return round(statistics.median(ratios), 3) if ratios else 0.0


def _summary(
    workers: Sequence[Worker], rounds: int, turns: int, machine: dict[str, Any]
) -> dict[str, Any]:
    by_name = {w.variant: w for w in workers}
    pairs = [(v, b) for v, b in PAIRS if v in by_name and b in by_name]
    # The figures are CPU time: on a machine shared with other work, wall time swings by
    # more than what telemetry adds, CPU time far less. Wall time is reported beside it.
    report: dict[str, Any] = {"basis": "cpu time per turn, all threads, export included"}
    for worker in workers:
        report[f"{worker.variant}_us"] = _median(worker.cpu_per_turn_us)
    # Added cost: per round, variant minus baseline, then the median. A round runs every
    # variant back to back, so the pairs cancel slow drifts in what else the machine does.
    added = {v: _paired(by_name[v].cpu_per_turn_us, by_name[b].cpu_per_turn_us) for v, b in pairs}
    for variant, _ in PAIRS:
        report[f"{variant}_added_us"] = added.get(variant)
    ai_added, ours_added = added.get("echo_botbuilder_ai"), added.get("echo_bot_telemetry")
    ratio = None
    if ai_added is not None and ours_added is not None and ai_added > 0:
        ratio = round(ours_added / ai_added, 3)
    report["echo_added_ratio"] = ratio
    full_added = added.get("full_bot_telemetry")
    metrics_added = {kind: added.get(f"{kind}_bot_telemetry_metrics") for kind in ("echo", "full")}
    report["targets"] = {
        "echo_added_ratio_max": ECHO_ADDED_RATIO_MAX,
        "echo_met": None if ratio is None else ratio <= ECHO_ADDED_RATIO_MAX,
        "full_added_us_max": FULL_ADDED_US_MAX,
        "full_met": None if full_added is None else full_added <= FULL_ADDED_US_MAX,
        "metrics_added_us_max": METRICS_ADDED_US_MAX,
        **{
            f"metrics_{kind}_met": None if value is None else value <= METRICS_ADDED_US_MAX
            for kind, value in metrics_added.items()
        },
    }
    # Each runtime against its own baseline: added CPU per turn, and telemetry's turn as a
    # multiple of the baseline's (per-round ratios, then the median).
    ratios = {
        v: _median_ratio(by_name[v].cpu_per_turn_us, by_name[b].cpu_per_turn_us) for v, b in pairs
    }
    report["ratio_to_baseline"] = ratios
    report["runtimes"] = {
        runtime: {
            f"{kind}_{figure}": values.get(variant)
            for kind, variant in zip(("echo", "full"), variants, strict=True)
            for figure, values in (("added_us", added), ("ratio", ratios))
        }
        for runtime, variants in SIDE_BY_SIDE.items()
        if any(v in by_name for v in variants)
    }
    report["exported_per_turn"] = {
        w.variant: {k: round(v / w.measured_turns, 2) for k, v in sorted(w.exported.items())}
        for w in workers
    }
    # PostHog's added CPU per event it sent (all threads: the turn's share and the export's).
    posthog = by_name.get("full_bot_telemetry_posthog")
    posthog_added = added.get("full_bot_telemetry_posthog")
    per_event = None
    if posthog is not None and posthog_added is not None and posthog.measured_turns:
        events = posthog.exported.get("posthog_events", 0) / posthog.measured_turns
        per_event = round(posthog_added / events, 1) if events else None
    report["posthog_added_us_per_event"] = per_event
    report["wall_us"] = {w.variant: _median(w.per_turn_us) for w in workers}
    report["wall_added_us"] = {
        v: _paired(by_name[v].per_turn_us, by_name[b].per_turn_us) for v, b in pairs
    }
    report["turn_latency_median_us"] = {w.variant: _median(w.turn_median_us) for w in workers}
    report["spread_us"] = {
        w.variant: {
            "cpu": [round(min(w.cpu_per_turn_us), 1), round(max(w.cpu_per_turn_us), 1)],
            "wall": [round(min(w.per_turn_us), 1), round(max(w.per_turn_us), 1)],
        }
        for w in workers
    }
    report["rounds"] = rounds
    report["turns_per_round"] = turns
    report["machine"] = machine
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds (default 15)")
    parser.add_argument("--turns", type=int, default=200, help="turns per round (default 200)")
    parser.add_argument("--warm-up", type=int, default=1, help="rounds not measured (default 1)")
    parser.add_argument(
        "--adapter",
        default="cloud",
        choices=ADAPTERS,
        help="cloud: CloudAdapter, replies over HTTP (default); test: in-memory TestAdapter",
    )
    parser.add_argument(
        "--isolated-calls",
        type=int,
        default=ISOLATED_CALLS,
        help=f"turns a repeat of the metrics' isolated measurement (default {ISOLATED_CALLS:,})",
    )
    parser.add_argument(
        "--runtime",
        default="botbuilder",
        choices=RUNTIMES,
        help="botbuilder (default), agents (the Microsoft 365 Agents SDK) or both side by side",
    )
    parser.add_argument(
        "--variants",
        default="all",
        help=f"comma-separated subset of {','.join(ALL_VARIANTS)}, or echo, full, all "
        "(of the runtime chosen)",
    )
    args = parser.parse_args(argv)
    runtimes = ("botbuilder", "agents") if args.runtime == "both" else (args.runtime,)
    if args.variants in ("all", "echo", "full"):
        chosen = tuple(v for r in runtimes for v in GROUPS[r][args.variants])
    else:
        chosen = tuple(v.strip() for v in args.variants.split(","))
    try:
        report = measure(
            chosen, args.rounds, args.turns, args.warm_up, args.adapter, args.isolated_calls
        )
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        scalars = {k: v for k, v in report.items() if not isinstance(v, dict)}
        _report.print_table("turn overhead (microseconds per turn, medians over rounds)", scalars)
        for key in ("targets", "ratio_to_baseline", "wall_us", "wall_added_us"):
            _report.print_table(key, report[key])
        for runtime, figures in report["runtimes"].items():
            _report.print_table(f"{runtime}: against its own baseline", figures)
        _report.print_table("exported_per_turn", report["exported_per_turn"])
        if "metrics_isolated" in report:
            _report.print_table("metrics_isolated", report["metrics_isolated"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
