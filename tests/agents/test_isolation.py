"""No cost when unused: a botbuilder bot never imports the Agents SDK, an Agents SDK bot never
imports botbuilder. Each side runs a real turn with every name it would use, in a fresh
interpreter, which then lists the modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.support.processes import REPO

BOTBUILDER_BOT = """
import asyncio
import bot_telemetry
from bot_telemetry import (
    OpenTelemetryBotTelemetryClient, TelemetryMiddleware, TelemetryQnA, TelemetryRecognizer,
    TelemetryStorage, TimedMiddleware, instrument_aiohttp_client, instrument_app,
    set_telemetry_client, telemetry_middleware,
)
from botbuilder.core import MemoryStorage
from botbuilder.core.adapters import TestAdapter
from sample_bot.app import build_app
from sample_bot.settings import BotSettings

bot_telemetry.configure("bot", span_exporters=[], log_exporters=[], metric_readers=[])
storage = TelemetryStorage(MemoryStorage())

async def logic(context):
    await storage.read(["k"])
    await context.send_activity("hi")

async def main():
    adapter = TestAdapter(logic)
    adapter.use(TelemetryMiddleware())
    await adapter.send("hello")
    assert adapter.activity_buffer[0].text == "hi"
    build_app(BotSettings())

asyncio.run(main())
"""

AGENTS_BOT = """
import asyncio
import aiohttp
import bot_telemetry
import bot_telemetry.agents
from bot_telemetry.agents import *  # every name the package offers
from bot_telemetry.dependencies.agents import *  # and its dependency wrappers
from microsoft_agents.hosting.core import MemoryStorage
from sample_bot.agents_app import build_agents_app
from sample_bot.settings import BotSettings
from tests.agents.harness import running_agent

import bot_telemetry.dependencies.agents
for module in (bot_telemetry.agents, bot_telemetry.dependencies.agents):
    for name in module.__all__:
        getattr(module, name)
handle = bot_telemetry.configure("bot", span_exporters=[], log_exporters=[], metric_readers=[])

async def main():
    async with running_agent(storage=TelemetryStorage(MemoryStorage())) as agent:
        async with aiohttp.ClientSession() as http:
            assert await agent.send(http, agent.activity("hello", "c-1")) == 202
    assert agent.replies()[0]["activity"]["text"] == "you said hello"
    build_agents_app(BotSettings())

asyncio.run(main())
"""

REPORT = """
import json, sys
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(script: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script) + REPORT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return set(modules)


def roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_a_botbuilder_bot_never_imports_the_agents_sdk() -> None:
    modules = loaded_by(BOTBUILDER_BOT)
    assert {"botbuilder", "bot_telemetry", "opentelemetry"} <= roots(modules)
    assert "bot_telemetry.bot.middleware" in modules
    assert "microsoft_agents" not in roots(modules)
    assert not [m for m in modules if m.startswith("bot_telemetry.agents")]
    assert not [m for m in modules if m.startswith("bot_telemetry.dependencies.agents_")]


def test_an_agents_sdk_bot_never_imports_botbuilder() -> None:
    modules = loaded_by(AGENTS_BOT)
    assert {"microsoft_agents", "bot_telemetry", "opentelemetry"} <= roots(modules)
    assert "bot_telemetry.agents.middleware" in modules
    assert roots(modules).isdisjoint({"botbuilder", "botframework", "msrest"})
    assert not [m for m in modules if m.startswith("bot_telemetry.bot.")]
