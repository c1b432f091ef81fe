"""``python -m sample_bot.channel --port 5103 --bot-url http://127.0.0.1:3978/api/messages``."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from aiohttp import web

from ..faults import RequestLedger
from ..service import run_service, service_arguments
from .directline import add_directline_routes
from .simulator import ChannelSimulator, build_app


def main(argv: list[str] | None = None) -> int:
    parser = service_arguments("A Bot Framework channel simulator for the sample bot", 5103)
    parser.add_argument(
        "--bot-url",
        default="http://127.0.0.1:3978/api/messages",
        help="the bot's messaging endpoint",
    )
    parser.add_argument("--channel-id", default="sample-channel", help="channelId on activities")
    parser.add_argument(
        "--service-url", help="serviceUrl the bot replies to (default: http://HOST:PORT)"
    )
    parser.add_argument(
        "--collector-url",
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        help="where the web chat page sends its traces and Sunbird events "
        "(default $OTEL_EXPORTER_OTLP_ENDPOINT or http://127.0.0.1:4318)",
    )
    args = parser.parse_args(argv)
    bot = urlsplit(args.bot_url)
    if bot.scheme not in ("http", "https") or not bot.hostname:
        parser.error(f"--bot-url must be an http(s) URL, not {args.bot_url!r}")
    service_url = args.service_url or f"http://{args.host}:{args.port}"
    simulator = ChannelSimulator(args.bot_url, service_url, channel_id=args.channel_id)

    def build(ledger: RequestLedger) -> web.Application:
        app = build_app(simulator, ledger)
        add_directline_routes(app, simulator, args.collector_url)  # and the web chat page
        return app

    return run_service(
        build,
        service_name="channel",
        host=args.host,
        port=args.port,
        fail_every=args.fail_every,
        peer_services={bot.netloc: "bot"},
    )


if __name__ == "__main__":
    sys.exit(main())
