"""benchmarks.measures end to end at a tiny size: every measure timed on both engines, and the
two engines agree on the generated week (nothing here judges speed)."""

from __future__ import annotations

import json
import subprocess
import sys

from bot_telemetry.analytics.measures import MEASURES
from tests.support.processes import REPO


def test_every_measure_on_both_engines_with_the_same_answers() -> None:
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.measures",
            "--spans",
            "20000",
            "--repeats",
            "1",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    (size,) = json.loads(ran.stdout)["sizes"]
    assert size["spans"] == 20_000
    assert size["events"] > 5_000
    measured = size["measures"]
    assert {name.split("+")[0] for name in measured} == set(MEASURES)
    assert len(measured) == 2 * len(MEASURES)  # each alone and narrowed
    for name, row in measured.items():
        assert row["duckdb_ms"] > 0 and row["chdb_ms"] > 0, name
        assert row["same"], f"{name}: the engines disagree"
