"""``python -m sample_bot --port 3978 [--w3c-test-route]``: the sample bot."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from .app import BotSettings, build_app
from .service import run_service, service_arguments


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
    return run_service(
        lambda ledger: build_app(settings, ledger),
        service_name="bot",
        host=args.host,
        port=args.port,
        fail_every=args.fail_every,
        peer_services=peers,
    )


if __name__ == "__main__":
    sys.exit(main())
