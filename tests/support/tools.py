"""Tools the tests drive besides Python (Chromium, Node.js for Azurite and the JS clients).

``scripts/install-test-tools`` installs them. Where it cannot (a developer who is not root has
no apt-get), it says so in one line and records the reason in ``.tools/skipped``; only then do
the tests that need the tool skip, with that reason. A tool missing without such a record is a
failure, so CI (which installs everything) never skips silently.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.processes import REPO

SKIPPED = REPO / ".tools" / "skipped"


def _recorded(tool: str) -> str | None:
    if not SKIPPED.is_file():
        return None
    for line in SKIPPED.read_text(encoding="utf-8").splitlines():
        name, _, reason = line.partition(": ")
        if name == tool:
            return reason
    return None


def require(tool: str, found: Path | str | None) -> str:
    """The tool's path; a skip when the installer recorded why it could not install it."""
    if found is not None and Path(found).exists():
        return str(found)
    reason = _recorded(tool)
    if reason is not None:
        pytest.skip(f"{tool} is not installed: {reason}")
    pytest.fail(f"{tool} is missing: run `bash scripts/install-test-tools`")


def chromium() -> str:
    return require("chromium", shutil.which("chromium") or "/usr/bin/chromium")


def node() -> str:
    return require("node", shutil.which("node"))


def webchat() -> Path:
    """The sample's built web chat page (``scripts/build-webchat``: npm packages + esbuild)."""
    built = REPO / "sample_bot" / "webchat" / "dist"
    require("webchat", built / "webchat.js")
    return built


def node_modules(package: str) -> Path:
    """An npm package the web chat build installed (the Sunbird SDK, for the Node tests)."""
    found = REPO / "sample_bot" / "webchat" / "node_modules" / package
    require("webchat", found / "package.json")
    return found
