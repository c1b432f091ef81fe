"""``python -m sample_bot --port 3978 [--runtime agents] [--w3c-test-route]``: the sample bot.

``--runtime botbuilder`` (the default) runs it on botbuilder-python, ``--runtime agents``
on the Microsoft 365 Agents SDK (``pip install 'bot-telemetry[agents]'``); the process
imports only the runtime it runs on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from .faults import RequestLedger
from .service import run_service, service_arguments
from .settings import RUNTIMES, BotSettings


def main(argv: list[str] | None = None) -> int:
    parser = service_arguments("The sample bot (Bot Framework endpoint: POST /api/messages)", 3978)
    parser.add_argument("--nlu-url", default="http://127.0.0.1:5101", help="the nlu service")
    parser.add_argument("--qna-url", default="http://127.0.0.1:5102", help="the qna service")
    parser.add_argument(
        "--channel-url",
        default="http://127.0.0.1:5103",
        help="the channel simulator, so replies to it are named 'channel' in the app map",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="botbuilder",
        help="botbuilder-python (default) or the Microsoft 365 Agents SDK",
    )
    parser.add_argument(
        "--w3c-test-route",
        action="store_true",
        help="add POST /test, the W3C Trace Context test-suite contract",
    )
    args = parser.parse_args(argv)
    peers = {}
    for option, name in (
        (args.nlu_url, "nlu"),
        (args.qna_url, "qna"),
        (args.channel_url, "channel"),
    ):
        parts = urlsplit(option)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            parser.error(f"not an http(s) URL: {option!r}")
        peers[parts.netloc] = name
    settings = BotSettings(args.nlu_url, args.qna_url, args.w3c_test_route)
    try:
        build = app_builder(args.runtime)
    except ImportError as error:
        parser.error(f"--runtime {args.runtime} needs its SDK ({error}); see docs/agents.md")
    return run_service(
        lambda ledger: build(settings, ledger),
        service_name="bot",
        host=args.host,
        port=args.port,
        fail_every=args.fail_every,
        peer_services=peers,
    )


def app_builder(
    runtime: str,
) -> Callable[[BotSettings, RequestLedger | None], web.Application]:
    """The sample bot's app factory on ``runtime`` (imported only when asked for)."""
    if runtime == "agents":
        from .agents_app import build_agents_app

        return build_agents_app
    from .app import build_app

    return build_app


if __name__ == "__main__":
    sys.exit(main())
