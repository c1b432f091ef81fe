"""The whole sample in one test process: nlu, qna, bot and channel on real loopback servers.

Each app is traced as its process would trace it (``traced_unless_plumbing``), and every
outgoing call goes through the instrumented aiohttp client, so the channel -> bot -> nlu /
qna -> channel hops are real HTTP. The telemetry lands in the test's in-memory exporters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from bot_telemetry import instrument_aiohttp_client
from sample_bot.__main__ import app_builder
from sample_bot.channel import ChannelSimulator
from sample_bot.channel import build_app as build_channel
from sample_bot.driver import ChannelDriver
from sample_bot.faults import RequestLedger
from sample_bot.nlu.api import build_app as build_nlu
from sample_bot.nlu.model import load_model
from sample_bot.qna.api import build_app as build_qna
from sample_bot.qna.knowledge_base import load_knowledge_base
from sample_bot.service import add_plumbing, traced_unless_plumbing
from sample_bot.settings import BotSettings
from tests.support.ports import free_port
from tests.support.servers import serving


@dataclass
class Stack:
    channel: ChannelDriver
    nlu: RequestLedger
    qna: RequestLedger
    urls: dict[str, str]


def _traced(app: web.Application, name: str, ledger: RequestLedger) -> web.Application:
    add_plumbing(app, name, ledger)
    app.middlewares.insert(0, traced_unless_plumbing)
    return app


@asynccontextmanager
async def sample_stack(
    nlu_fail_every: int = 0, qna_fail_every: int = 0, runtime: str = "botbuilder"
) -> AsyncIterator[Stack]:
    """The sample with its bot on ``runtime`` (botbuilder or agents)."""
    build_bot = app_builder(runtime)
    async with AsyncExitStack() as stack:
        nlu_ledger, qna_ledger = RequestLedger(nlu_fail_every), RequestLedger(qna_fail_every)
        nlu = await stack.enter_async_context(
            serving(_traced(build_nlu(load_model(), nlu_ledger), "nlu", nlu_ledger))
        )
        qna = await stack.enter_async_context(
            serving(_traced(build_qna(load_knowledge_base(), qna_ledger), "qna", qna_ledger))
        )
        channel_port = free_port()
        channel_url = f"http://127.0.0.1:{channel_port}"
        instrument_aiohttp_client(
            {
                urlsplit(nlu).netloc: "nlu",
                urlsplit(qna).netloc: "qna",
                urlsplit(channel_url).netloc: "channel",
            }
        )
        bot_ledger = RequestLedger()
        bot = await stack.enter_async_context(
            serving(_traced(build_bot(BotSettings(nlu, qna), bot_ledger), "bot", bot_ledger))
        )
        instrument_aiohttp_client({urlsplit(bot).netloc: "bot"})
        simulator = ChannelSimulator(f"{bot}/api/messages", channel_url)
        channel_ledger = RequestLedger()
        await stack.enter_async_context(
            serving(
                _traced(build_channel(simulator, channel_ledger), "channel", channel_ledger),
                port=channel_port,
            )
        )
        driver = await stack.enter_async_context(ChannelDriver(channel_url))
        yield Stack(
            driver,
            nlu_ledger,
            qna_ledger,
            {"nlu": nlu, "qna": qna, "bot": bot, "channel": channel_url},
        )
