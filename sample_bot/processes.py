"""Starting the demo's processes, waiting until they answer, and stopping them in order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class StartupError(RuntimeError):
    pass


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind: a port whose last connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, characters: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-characters:]
        except OSError:
            return ""


@dataclass
class Fleet:
    """The processes one demo run started; ``stop()`` ends them, last started first."""

    log_dir: Path
    env: Mapping[str, str]
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str]) -> Child:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                # Its own session: Ctrl-C reaches the demo only, which then stops the
                # services before the collector so their last telemetry is not lost.
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def wait_ready(self, child: Child, url: str, timeout: float = 45.0) -> None:
        """Poll ``url`` until it answers below 500; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = child.process.poll()
            if code is not None:
                raise StartupError(
                    f"{child.name} exited with code {code} before it was ready; its log:\n"
                    f"{child.tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise StartupError(
            f"{child.name} did not answer {url} within {timeout:.0f}s:\n{child.tail()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait(5)
        self.children.clear()
