"""The sample bot's scripted bookings, run for real (``sample_bot.demo``: collector, nlu, qna,
bot and channel as processes), show up as the booking dialog's funnel and its drop-off causes:
finished bookings complete, the cancelled one stops as cancelled, and the abandoned one, whose
last message the nlu service fails on purpose, stops with a bot error on that very turn.

One conversation per script (sample_bot/scripts.py). The nlu service fails its 21st request:
user messages before the abandoned booking's are 6 + 3 + 6 + 3 (scripts 0-3) and it has 3
(the booking asks for consent first), so the 21st is its last ("tomorrow"); the 35 messages
reach no 42nd request; the Q&A service does not fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sample_bot.scripts import SCRIPTS
from tests.support.ports import free_port
from tests.support.processes import REPO, run_cli_here

NAMES = ("collector", "nlu", "qna", "bot", "channel")


def _run(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _json(*args: str) -> Any:
    # Read back in this process (the demo ran as processes; tests/cli runs each as one).
    ran = run_cli_here(*args)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def test_scripted_bookings_and_an_injected_failure_are_the_funnel_and_its_causes(
    tmp_path: Path,
) -> None:
    store, summary_file = tmp_path / "demo.duckdb", tmp_path / "summary.json"
    ports = [option for name in NAMES for option in (f"--{name}-port", str(free_port()))]
    ran = _run(
        "sample_bot.demo",
        "--conversations",
        str(len(SCRIPTS)),
        "--nlu-fail-every",
        "21",  # the abandoned booking's last message: the 21st the scripts send
        "--qna-fail-every",
        "0",
        "--exit",
        "--store",
        str(store),
        "--summary",
        str(summary_file),
        *ports,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = json.loads(summary_file.read_text())
    assert summary["services"]["nlu"]["failures"] == 1
    by_script = {name: conversation for conversation, name in summary["scripts"].items()}

    dialogs = _json("funnel", "--store", str(store), "--dialogs", "--format", "json")
    booking = next(d for d in dialogs if d["dialogId"] == "booking.steps")
    # Five scripts book; three finish (one of them says "no" at the end), one cancels.
    assert (booking["starts"], booking["completes"], booking["cancels"]) == (5, 3, 1)
    # The booking asks for consent first (docs/exhaust.md), then its questions.
    assert [step.split(".")[-1] for step in booking["steps"]] == [
        "_consent",  # each scripted user is new, so each is asked first
        "_day",
        "_party_size",
        "_name",
        "_confirm",
        "_finish",
    ]

    result = _json("funnel", "--store", str(store), "--dialog", "booking.steps", "--format", "json")
    assert [s["count"] for s in result["steps"]] == [5, 5, 5, 5, 4, 3, 3, 3]
    dropped = {d["conversationId"]: d for d in result["dropped"]}
    assert len(dropped) == 2

    abandoned = dropped[by_script["abandoned booking"]]
    assert (abandoned["step"], abandoned["cause"]) == (3, "botError")  # after _party_size
    transcript = _json(
        "conversations", abandoned["conversationId"], "--store", str(store), "--format", "json"
    )
    failing = [t["trace_id"] for t in transcript["turns"] if t["failures"]]
    assert failing == [abandoned["traceId"]] == [transcript["turns"][-1]["trace_id"]]
    trace = _json("trace", abandoned["traceId"], "--store", str(store), "--format", "json")
    assert any(span["status"] == "error" for span in trace["spans"])

    cancelled = dropped[by_script["cancelled booking"]]
    assert (cancelled["step"], cancelled["cause"]) == (4, "cancelled")  # after _name
    transcript = _json(
        "conversations", cancelled["conversationId"], "--store", str(store), "--format", "json"
    )
    cancel_turn = next(t for t in transcript["turns"] if "WaterfallCancel" in t["events"])
    assert cancelled["traceId"] == cancel_turn["trace_id"] != cancelled["stepTraceId"]

    causes = {k: v for s in result["steps"] for k, v in s["dropOffCauses"].items() if v}
    assert causes == {"botError": 1, "cancelled": 1}
