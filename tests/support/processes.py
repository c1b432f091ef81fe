"""Start real processes for tests and wait until they answer, not for a fixed time."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``bot-telemetry ARGS`` in a process of its own, as a user runs it, its output kept."""
    return subprocess.run(
        [sys.executable, "-m", "bot_telemetry.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli_here(*args: str) -> subprocess.CompletedProcess[str]:
    """``bot-telemetry ARGS`` through ``main()`` in this process, its output kept as
    ``run_cli`` keeps it: the same parsing, commands, messages and exit status, without
    starting Python and importing the CLI again (about 0.5 s of CPU a run). ``run_cli``
    stays where a process of its own is the point: a store that a serve in the test's process
    holds, signals, a pipe or terminal, the environment; each command keeps such a test."""
    from bot_telemetry.cli import main

    # main() quiets clickhouse-connect's logger for the process; this process goes on.
    quieted = logging.getLogger("clickhouse_connect")
    level = quieted.level
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exit:  # argparse's usage errors and --help
            code = exit.code
            if code is None or isinstance(code, int):
                status = code or 0
            else:  # as the interpreter does with sys.exit("message")
                print(code, file=sys.stderr)
                status = 1
        finally:
            quieted.setLevel(level)
    return subprocess.CompletedProcess(
        ["bot-telemetry", *args], status, out.getvalue(), err.getvalue()
    )


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before {url} answered:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
            last_error = error
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last_error = error
        time.sleep(0.05)
    raise TimeoutError(
        f"{url} did not answer within {timeout}s ({last_error}):\n"
        + log.read_text(errors="replace")[-4000:]
    )


@contextmanager
def running(
    args: Sequence[str],
    *,
    ready_url: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[RunningProcess]:
    """Run ``python args...`` from the repository root until the block ends.

    ``ready_url`` is polled until it answers with a status below 500.
    """
    log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=full_env, stdout=sink, stderr=subprocess.STDOUT
        )
    running_process = RunningProcess(process, log)
    try:
        wait_until_ready(ready_url, process, log, timeout)
        yield running_process
    finally:
        running_process.stop()
