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


#: Command lines that end in argparse (help, version, a usage error) and ones parsed in full,
#: their times, durations and --store values checked, without running the command.
ENDED_BY_ARGPARSE = [
    ["--help"],
    ["--version"],
    ["events", "--help"],
    ["serve", "--help"],
    ["events", "--limit", "0"],
    ["events", "--since", "soon"],
    ["no-such-command"],
]
PARSED = [
    ["events", "--store", "telemetry", "--since", "-2h", "--until", "30m", "--limit", "5"],
    ["serve", "--store", "clickhouse://reader:pw@ch:8123/otel", "--retention", "7d"],
    ["funnel", "LuisIntent.BookTable", "WaterfallComplete", "--window", "30m"],
    ["measures", "activeUsers", "--since", "7d", "--granularity", "day"],
    ["exhaust", "status", "support", "r1", "--url", "http://127.0.0.1:4318"],
    ["posthog", "backfill", "--since", "30d"],
    ["clickhouse-schema", "--store", "clickhouse://ch/otel"],
]


def test_reading_the_command_line_imports_neither_duckdb_nor_sqlglot() -> None:
    """--help, --version, a usage error and parsing any command's options imported DuckDB,
    sqlglot and the analytics first (about 0.2 s of CPU each time, and each serve start);
    the command imports them when it runs."""
    heavy = ("duckdb", "sqlglot", "google.protobuf")
    code = (
        "import contextlib, io, sys\n"
        "from bot_telemetry.cli import build_parser, main\n"
        "from bot_telemetry.cli.common import attach_dashed_values\n"
        "def loaded(): return sorted({m.split('.')[0] for m in sys.modules "
        f"if m.startswith({heavy!r})}})\n"
        f"for args in {ENDED_BY_ARGPARSE!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            main(args)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "    print(args, loaded())\n"
        f"for args in {PARSED!r}:\n"
        "    build_parser()[0].parse_args(attach_dashed_values(args))\n"
        "    print(args, loaded())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr[-2000:]
    expected = [f"{args} []" for args in [*ENDED_BY_ARGPARSE, *PARSED]]
    assert result.stdout.splitlines() == expected


def test_serve_answers_without_the_posthog_client_or_the_zip_encryption(tmp_path: Path) -> None:
    """A collector answering /api/health had imported requests (PostHog's client, used only
    when events are sent) and pyzipper with its ciphers (used only when an exhaust job
    writes a private file): about 70 ms of each serve start."""
    code = (
        "import sys, urllib.request\n"
        "from bot_telemetry.web import CollectorThread, ServerConfig\n"
        f"config = ServerConfig(store={str(tmp_path)!r}, port=0, grpc_port=0)\n"
        "with CollectorThread(config) as running:\n"
        "    urllib.request.urlopen(running.url + '/api/health', timeout=30).read()\n"
        "    print(sorted({m.split('.')[0] for m in sys.modules "
        "if m.startswith(('requests', 'pyzipper', 'Cryptodome'))}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == "[]", result.stdout + result.stderr[-2000:]
