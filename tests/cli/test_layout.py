"""Text output that fits a terminal: 120 columns into a file or a pipe, the terminal's own
width on a terminal (a real pseudo-terminal here), nothing cut on the way; and a funnel's
drop-offs saying a conversation once."""

from __future__ import annotations

import fcntl
import itertools
import os
import pty
import struct
import subprocess
import sys
import termios
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot_telemetry.cli.layout import DEFAULT_WIDTH, NO_ROWS, table, wrap_items
from bot_telemetry.store.database import Store
from bot_telemetry.store.rows import metrics_batch
from tests.support.journeys import booking_store
from tests.support.otlp_messages import metrics_request
from tests.support.processes import REPO

END = "2026-11-10T00:00:00Z"
FUNNEL = [
    "funnel",
    "--until",
    END,
    "LuisIntent.BookTable",
    "WaterfallStep:StepName=ask_size|confirm",
    "WaterfallComplete:DialogId=booking",
    "--window",
    "30m",
]
BOUNDS = [round(0.5 * 1.25**i, 3) for i in range(60)]


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = booking_store(tmp_path_factory.mktemp("cli-layout") / "store.duckdb")
    store = Store.open(path)
    histogram = {
        "count": 61,
        "sum": 1000.0,
        "explicit_bounds": BOUNDS,
        "bucket_counts": [1] * 61,
        "min": 0.1,
        "max": 99999.0,
    }
    metric = {"name": "http.duration", "kind": "histogram", "unit": "ms", "points": [histogram]}
    store.write(metrics_batch(metrics_request([metric])))
    store.close()
    return path


def piped(*args: str) -> str:
    """The command's stdout into a pipe (as cron or `| less` run it), with a $COLUMNS a
    parent left in the environment (pytest's process has COLUMNS=80): a pipe gets 120."""
    ran = subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", *args],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def on_a_terminal(columns: int, *args: str) -> str:
    """The command's stdout on a pseudo-terminal ``columns`` wide."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot_telemetry.cli", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(120) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_a_funnel_fits_120_columns_in_a_pipe_and_says_every_value(store_file: Path) -> None:
    """It was 180 columns wide: seven drop-off causes beside seven columns of numbers."""
    text = piped(*FUNNEL, "--store", str(store_file))
    assert 80 < widest(text) <= DEFAULT_WIDTH, text
    for heading in ("COUNT", "P90_S", "BOTERROR", "WENTELSEWHERE", "USERLEFT"):
        assert heading in text
    assert "WaterfallStep (StepName=ask_size|confirm)" in text
    for trace_id in ("684329f7485ab5887cb7ed437ec10fc7", "5dc84acc48f4a66cd8c7ea9aa48c88a4"):
        assert trace_id in text  # whole, on one line


def test_on_a_terminal_the_output_fits_its_width(store_file: Path) -> None:
    text = on_a_terminal(80, *FUNNEL, "--store", str(store_file))
    assert widest(text) <= 80, text
    assert "USERLEFT" in text and "5dc84acc48f4a66cd8c7ea9aa48c88a4" in text
    wide = on_a_terminal(200, *FUNNEL, "--store", str(store_file))
    # room for every column side by side: one table, as before
    assert wide.count("STEP ") == 1 and widest(wide) > 120, wide


def test_a_histograms_buckets_fit_and_are_all_there(store_file: Path) -> None:
    """The bucket line of a 60-bound histogram was one line of 700+ columns."""
    text = piped("metrics", "http.duration", "--store", str(store_file))
    assert widest(text) <= DEFAULT_WIDTH, text
    flat = " ".join(text.split())
    for low, high in itertools.pairwise(BOUNDS):
        assert f"({low:.6g}, {high:.6g}] 1" in flat
    assert f"({BOUNDS[-1]:.6g}, +inf] 1" in flat and "(-inf, 0.5] 1" in flat


def test_a_funnel_counted_by_conversation_names_each_conversation_once(
    store_file: Path,
) -> None:
    """Each drop-off said the conversation twice, as the entity and as the conversation."""
    text = piped(*FUNNEL, "--store", str(store_file), "--count-by", "conversation")
    dropped = text[text.index("STOPPED AFTER") :].splitlines()
    assert dropped[0].split() == ["STOPPED", "AFTER", "WHY", "CONVERSATION", "TRACE"]
    line = next(line for line in dropped if "not-understood" in line)
    assert line.split().count("not-understood") == 1
    by_user = piped(*FUNNEL, "--store", str(store_file), "--count-by", "user")
    heading = by_user[by_user.index("STOPPED AFTER") :].splitlines()[0]
    assert heading.split() == ["STOPPED", "AFTER", "WHY", "USER", "CONVERSATION", "TRACE"]
    assert "user-1" in by_user


cells = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90)
headings_of = st.from_regex(r"[A-Z_]{1,14}", fullmatch=True)


def _characters(*texts: str) -> Counter[str]:
    return Counter(c for text in texts for c in text if not c.isspace())


@settings(max_examples=300, deadline=None)
@given(width=st.integers(40, 200), columns=st.integers(1, 12), data=st.data())
def test_a_table_never_runs_past_its_width_and_keeps_every_character(
    width: int, columns: int, data: st.DataObject
) -> None:
    headings = data.draw(st.lists(headings_of, min_size=columns, max_size=columns))
    rows = data.draw(st.lists(st.lists(cells, min_size=columns, max_size=columns), max_size=4))
    text = table(headings, rows, width)
    assert widest(text) <= width
    # Every character of every value, only the key column's repeated (once a group).
    shown = _characters(text) - _characters(NO_ROWS if not rows else "")
    others = _characters(*headings[1:], *(cell for row in rows for cell in row[1:]))
    key = _characters(headings[0], *(row[0] for row in rows))
    assert any(shown == others + Counter({c: n * k for c, n in key.items()}) for k in range(1, 13))


def test_items_wrap_whole_under_a_hanging_indent() -> None:
    text = wrap_items("buckets svc:", [f"({i}, {i + 1}] 5" for i in range(40)], 50)
    assert widest(text) <= 50
    assert all(line.startswith("  (") for line in text.splitlines()[1:])
    assert "(39, 40] 5" in text and "(0, 1] 5" in text.splitlines()[0]


def test_a_breakdowns_groups_are_apart(store_file: Path) -> None:
    """Each value's label came right under the last line of the group before."""
    text = piped(*FUNNEL, "--store", str(store_file), "--breakdown", "channelId")
    assert "\n\nchannelId=webchat:\n" in text, text
    assert text.startswith("all:\n")
