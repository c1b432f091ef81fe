"""``bot-telemetry serve`` as an operator runs it: real processes, their start-up errors and
their refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import REPO, running


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", "serve", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("bot-telemetry: error: ") and message in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port 70000 is not a TCP port"),
        (["--port", "-1"], "--port -1 is not a TCP port"),
        (["--grpc-port", "65536"], "--grpc-port 65536 is not a TCP port"),
        (["--max-body-mb", "0"], "--max-body-mb must be more than 0"),
        (["--max-body-mb", "-1"], "--max-body-mb must be more than 0"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_1(
    tmp_path: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(serve("--store", str(tmp_path / "s"), *args), message)
    assert not (tmp_path / "s").exists()


def test_a_journal_in_use_by_another_serve_is_one_line_and_exit_1(tmp_path: Path) -> None:
    journal, port = tmp_path / "jshared", free_port()
    first = ["-m", "bot_telemetry.cli", "serve", "--store", str(tmp_path / "a"), "--no-grpc"]
    first += ["--port", str(port), "--client-journal", str(journal)]
    with running(first, ready_url=f"http://127.0.0.1:{port}/api/health"):
        second = serve(
            "--store", str(tmp_path / "b"), "--no-grpc", "--port", str(free_port()),
            "--client-journal", str(journal),
        )  # fmt: skip
    assert_one_line_error(second, "is in use by another process")
