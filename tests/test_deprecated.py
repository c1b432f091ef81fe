"""Old spellings still work and say the new one (docs/architecture.md, "Old spellings")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from botbuilder.core import MemoryStorage

import bot_telemetry
from bot_telemetry import contract, signals, web
from bot_telemetry.privacy import PrivacyPolicy, current_policy
from tests.support.processes import REPO


@pytest.mark.parametrize(
    ("old_module", "name", "new"),
    [
        ("bot_telemetry.bot.contract", "BOT_MESSAGE_RECEIVED", contract.BOT_MESSAGE_RECEIVED),
        ("bot_telemetry.bot.custom_events", "track_custom_event", signals.track_custom_event),
        ("bot_telemetry.bot.turn_context", "turn_context_scope", signals.turn_context_scope),
        ("bot_telemetry.collector.server", "CollectorThread", web.CollectorThread),
    ],
)
def test_a_moved_name_warns_and_is_the_same_object(old_module: str, name: str, new: object) -> None:
    module = __import__(old_module, fromlist=[name])
    with pytest.warns(DeprecationWarning, match=f"{old_module}.{name} is deprecated"):
        assert getattr(module, name) is new


def test_moved_functions_warn() -> None:
    from opentelemetry import metrics

    from bot_telemetry import export

    with pytest.warns(DeprecationWarning, match="current_policy"):
        assert export.current_privacy() is current_policy()
    with pytest.warns(DeprecationWarning, match="get_meter"):
        assert isinstance(export.meter("x"), metrics.Meter)


def test_renamed_arguments_warn_and_still_apply() -> None:
    policy = PrivacyPolicy(log_personal_information=True)
    with pytest.warns(DeprecationWarning, match=r"TelemetryStorage\(policy=...\).*privacy="):
        storage = bot_telemetry.TelemetryStorage(MemoryStorage(), policy=policy)
    assert storage._privacy is policy
    with pytest.warns(DeprecationWarning, match=r"TelemetryQnA\(service_name=...\).*name="):
        qna = bot_telemetry.TelemetryQnA(lambda turn_context: None, service_name="faq")
    assert qna._target.name == "faq"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "bot_telemetry.cli"],
        # The console script: its sys.path starts at the virtualenv's bin/, not the clone.
        [str(Path(sys.executable).parent / "bot-telemetry")],
    ],
    ids=["module", "console-script"],
)
def test_the_demo_command_points_at_the_sample(command: list[str]) -> None:
    ran = subprocess.run(
        [*command, "demo", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert "'demo' is deprecated: run `make demo`" in ran.stderr
    assert "--conversations" in ran.stdout  # the sample's own parser answered
