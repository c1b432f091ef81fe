"""Names loaded on first use: every public name resolves, an unknown one is an
AttributeError, and importing the package imports none of them."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import bot_telemetry
import bot_telemetry.analytics
import bot_telemetry.exhaust
import bot_telemetry.store
import bot_telemetry.web
from tests.support.processes import REPO

#: The packages whose names load on first use (``analytics.query`` is measures' function,
#: though the package has a submodule of that name too).
LAZY_PACKAGES = [
    bot_telemetry,
    bot_telemetry.web,
    bot_telemetry.analytics,
    bot_telemetry.exhaust,
    bot_telemetry.store,
]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves_and_an_unknown_one_does_not(package: ModuleType) -> None:
    for name in package.__all__:
        value = getattr(package, name)
        assert getattr(value, "__name__", name) == name

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        package.nothing_here  # noqa: B018


def test_importing_the_packages_imports_none_of_their_names() -> None:
    code = (
        "import sys, bot_telemetry, bot_telemetry.web\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bot_telemetry.export', "
        "'bot_telemetry.bot', 'bot_telemetry.web.', 'opentelemetry.sdk', 'aiohttp'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == "[]", result.stderr[-2000:]
