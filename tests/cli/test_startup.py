"""A read command starts light: it imports neither the server, nor the OpenTelemetry SDK, nor
an HTTP client (the commands that need them import them themselves)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot_telemetry.store.database import Store
from tests.support.processes import REPO

#: Packages a read command has no use for, each about a tenth of a second to import.
NOT_NEEDED = ("aiohttp", "opentelemetry.sdk", "requests", "grpc", "pyzipper", "botbuilder")


@pytest.mark.parametrize("command", [["events"], ["appmap"], ["conversations"], ["--help"]])
def test_a_read_command_imports_only_what_it_uses(tmp_path: Path, command: list[str]) -> None:
    Store.open(tmp_path / "telemetry.duckdb").close()
    code = (
        "import sys\n"
        "from bot_telemetry.cli import main\n"
        "try:\n"
        f"    status = main({[*command, '--store', str(tmp_path)]!r})\n"
        "except SystemExit as exit_:\n"
        "    status = exit_.code\n"
        "print(status, sorted({m for m in sys.modules if m.startswith("
        f"{NOT_NEEDED!r})}}), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    assert result.stderr.strip().splitlines()[-1] == "0 []", result.stderr[-2000:]
