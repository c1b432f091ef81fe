"""Third-party OpenTelemetry clients the tests drive, installed by scripts/install-test-tools:
the JS SDK from npm in .tools/otel-js, the Python SDK in its own virtualenv .tools/otel-python
(nothing of bot-telemetry in it), and curl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from tests.support import tools
from tests.support.processes import REPO

CLIENTS = REPO / "tests" / "clients"
JS_MODULES = REPO / ".tools" / "otel-js" / "node_modules"
PYTHON_SDK = REPO / ".tools" / "otel-python" / "bin" / "python"


def node() -> str:
    """Node.js with the JS SDK installed; a skip only where the installer recorded why not."""
    found = tools.node()
    tools.require("otel-js", JS_MODULES / "@opentelemetry" / "sdk-trace-base" / "package.json")
    return found


def python_sdk() -> str:
    return tools.require("otel-python", PYTHON_SDK)


def curl() -> str:
    return tools.require("curl", shutil.which("curl"))


def run_client(
    command: list[str], *, env: dict[str, str] | None = None, timeout: float = 90
) -> tuple[int, dict[str, Any], str]:
    """Run a client script that prints "RESULT {json}"; (exit status, that JSON, its output)."""
    result = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    found = json.loads(lines[-1].removeprefix("RESULT ")) if lines else {}
    return result.returncode, found, result.stdout + result.stderr


def send_js(
    protocol: str, endpoint: str, service: str, *options: str
) -> tuple[int, dict[str, Any], str]:
    command = [node(), str(CLIENTS / "js" / "send.js"), protocol, endpoint, service, *options]
    return run_client(command, env={"NODE_PATH": str(JS_MODULES)})


def send_python(
    protocol: str, endpoint: str, service: str, *options: str
) -> tuple[int, dict[str, Any], str]:
    # -I (isolated): the client's own virtualenv only, nothing of ours on its path.
    script = str(CLIENTS / "python" / "send.py")
    return run_client([python_sdk(), "-I", script, protocol, endpoint, service, *options])
