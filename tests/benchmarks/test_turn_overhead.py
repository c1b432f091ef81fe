"""turn_overhead runs every variant end to end and reports well-formed figures.

Tiny iteration counts; nothing here judges speed (that is what the benchmark is for).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks._agents_variants import AGENTS_ECHO_VARIANTS
from benchmarks._variants import ECHO_VARIANTS, VARIANTS
from benchmarks.turn_overhead import measure
from tests.support.processes import REPO


@pytest.mark.parametrize("adapter", ["cloud", "test"])
def test_json_report_has_every_figure_and_real_exports(adapter: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.turn_overhead",
            "--json",
            "--adapter",
            adapter,
            "--rounds",
            "2",
            "--turns",
            "3",
            "--warm-up",
            "0",
            "--isolated-calls",
            "500",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)

    for variant in VARIANTS:
        assert report[f"{variant}_us"] > 0
        assert report["turn_latency_median_us"][variant] > 0
        spread = report["spread_us"][variant]
        assert spread["cpu"][0] <= report[f"{variant}_us"] <= spread["cpu"][1]
    for key in (
        "echo_botbuilder_ai_added_us",
        "echo_bot_telemetry_added_us",
        "full_bot_telemetry_added_us",
        "full_bot_telemetry_posthog_added_us",
        "echo_bot_telemetry_metrics_added_us",
        "full_bot_telemetry_metrics_added_us",
    ):
        assert isinstance(report[key], float)
    assert isinstance(report["targets"]["full_met"], bool)
    assert isinstance(report["targets"]["metrics_full_met"], bool)
    isolated = report["metrics_isolated"]
    # Figures only: which is cheaper is the benchmark's finding (within a µs now), not a test's.
    assert all(isolated[k] > 0 for k in ("echo_off_us", "echo_on_us", "full_on_us"))
    assert isinstance(report["targets"]["metrics_echo_isolated_met"], bool)
    assert report["rounds"] == 2 and report["turns_per_round"] == 3
    assert report["adapter"] == adapter
    assert report["machine"]["nproc"] >= 1
    assert all(report["wall_us"][v] > 0 for v in VARIANTS)
    assert set(report["wall_added_us"]) == {
        "echo_botbuilder_ai",
        "echo_bot_telemetry",
        "full_bot_telemetry",
        "full_bot_telemetry_posthog",
        "echo_bot_telemetry_metrics",
        "full_bot_telemetry_metrics",
    }

    exported = report["exported_per_turn"]
    if adapter == "cloud":
        # Every turn replied over the connector API, in every variant.
        assert all(exported[v]["replies"] == 1.0 for v in VARIANTS)
    else:
        # TestAdapter keeps replies in memory (the worker fails a turn without one).
        assert not any("replies" in exported[v] for v in VARIANTS)
    # The baselines export nothing; the others deliver what they claim, parsed by the sink.
    assert set(exported["echo_baseline"]) <= {"replies"}
    assert set(exported["full_baseline"]) <= {"replies"}
    assert exported["echo_botbuilder_ai"]["envelope:EventData"] == 2.0  # received + send
    assert exported["echo_bot_telemetry"]["spans"] >= 1.0
    assert exported["echo_bot_telemetry"]["log_records"] >= 2.0
    assert exported["full_bot_telemetry"]["spans"] > exported["echo_bot_telemetry"]["spans"]
    # Every custom event also reached the PostHog capture API.
    posthog = exported["full_bot_telemetry_posthog"]
    assert posthog["posthog_events"] == posthog["log_records"] >= 4.0
    # Metrics on: an export per round (the drain flushes them); off: none.
    assert exported["full_bot_telemetry_metrics"]["metric_exports"] > 0
    assert "metric_exports" not in exported["full_bot_telemetry"]


def test_both_runtimes_side_by_side_each_against_its_own_baseline() -> None:
    # The echo variants include a metrics one, so the metrics' isolated measurement runs too:
    # a few hundred calls, not the default 20,000 (13 s of CPU for figures not checked here).
    tiny = ["--variants", "echo", "--rounds", "2", "--turns", "3", "--warm-up", "0"]
    tiny += ["--isolated-calls", "500"]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.turn_overhead", "--json", "--runtime", "both", *tiny],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    for variant in (*ECHO_VARIANTS, *AGENTS_ECHO_VARIANTS):
        assert report[f"{variant}_us"] > 0
    assert set(report["runtimes"]) == {"botbuilder", "agents"}
    for figures in report["runtimes"].values():
        assert isinstance(figures["echo_added_us"], float)
        assert figures["echo_ratio"] > 0
        assert figures["full_added_us"] is None, "no full variants were asked for"
    assert report["ratio_to_baseline"]["agents_echo_bot_telemetry"] > 0
    exported = report["exported_per_turn"]
    assert exported["agents_echo_baseline"] == {"replies": 1.0}
    # The same telemetry per echo turn as on botbuilder: the turn span and two events.
    assert exported["agents_echo_bot_telemetry"] == exported["echo_bot_telemetry"]


def test_a_subset_reports_no_ratio_it_cannot_compute() -> None:
    report = measure(("echo_baseline", "echo_bot_telemetry"), rounds=1, turns=2, warm_up=0)

    assert report["echo_bot_telemetry_added_us"] is not None
    assert report["echo_botbuilder_ai_added_us"] is None
    assert report["echo_added_ratio"] is None
    assert report["targets"]["echo_met"] is None


@pytest.mark.parametrize(
    ("variants", "rounds", "adapter"),
    [
        (("echo_nothing",), 1, "cloud"),
        ((), 1, "cloud"),
        (("echo_baseline",), 0, "cloud"),
        (("echo_baseline",), 1, "bot-framework-adapter"),
        (("agents_echo_baseline",), 1, "test"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    variants: tuple[str, ...], rounds: int, adapter: str
) -> None:
    with pytest.raises(ValueError):
        measure(variants, rounds=rounds, turns=1, adapter=adapter)
