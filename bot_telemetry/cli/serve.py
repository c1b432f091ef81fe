"""``bot-telemetry serve``: the OTLP receivers (HTTP and gRPC), client telemetry (Sunbird)
and the web UI over one store (docs/collector.md).

    bot-telemetry serve                            # http://127.0.0.1:4318, .bot-telemetry/
    bot-telemetry serve --store ./telemetry --port 0 --no-grpc --retention 7d
    bot-telemetry serve --store clickhouse://reader:pw@ch:8123/otel --read-only
    BOT_TELEMETRY_TOKEN=... bot-telemetry serve --host 0.0.0.0 --allow-remote
    bot-telemetry serve --privacy privacy.json     # other services' personal data, redacted
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Any

from ..analytics.window import parse_duration
from ..receive.ports import DEFAULT_GRPC_PORT
from . import exhaust
from .common import (
    PROG,
    TOKEN_VARIABLE,
    CommandError,
    Handler,
    UsageError,
    described,
    duration_argument,
    privacy_file,
    privacy_option,
    store_options,
)

#: Requests a second per client address (web/ratelimit.py): far above what the demo, a bot's
#: exporters or benchmarks.client_events (2,000 bundles at once, within the 20 s burst) send,
#: under what one client would need to take the server from the others.
DEFAULT_INGEST_RATE_LIMIT = 250.0
DEFAULT_QUERY_RATE_LIMIT = 20.0


def register(commands: Any) -> dict[str, Handler]:
    serve = commands.add_parser(
        "serve", help="run the OTLP receivers (HTTP and gRPC) and the web UI", **described(__doc__)
    )
    store_options(serve, window=False)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument(
        "--port", type=int, default=4318, help="OTLP/HTTP and UI port (default 4318; 0 picks one)"
    )
    grpc = serve.add_mutually_exclusive_group()
    grpc.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help=f"OTLP/gRPC port on the same host (0 picks one). Default {DEFAULT_GRPC_PORT}, "
        "or no gRPC with a warning when that port is taken (by an OpenTelemetry Collector, "
        "say); a port given here must be free",
    )
    grpc.add_argument("--no-grpc", action="store_true", help="serve no OTLP/gRPC")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding to an address other than loopback (needs --token)",
    )
    serve.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE),
        help=f"token every client must send (default ${TOKEN_VARIABLE}; prefer the variable: "
        "a command line is readable by every user of the machine, in ps)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=16.0,
        help="largest OTLP export accepted (/v1/traces, /v1/logs, /v1/metrics and OTLP/gRPC), "
        "in MiB, compressed or once inflated (default 16; more than 0). Client telemetry "
        "(/v1/telemetry) keeps Sunbird's own limit of 5 MiB whatever this says",
    )
    serve.add_argument(
        "--retention",
        type=duration_argument,
        default=None,
        help="drop telemetry older than this (e.g. 7d; more than 0); leave it out to keep "
        "everything (ClickHouse: the TTL of the tables --create-schema creates)",
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="serve the UI and API only: the receivers (/v1/traces, /v1/logs, /v1/metrics, "
        "/v1/telemetry) and the data exhaust API answer 403 with the reason, no OTLP/gRPC, "
        "and nothing is written beside the store (a stateless reader of a ClickHouse "
        "database the OpenTelemetry Collector fills; run as many as you need)",
    )
    serve.add_argument(
        "--create-schema",
        action="store_true",
        help="ClickHouse: create the exporter's database and tables when they are missing "
        "(refused on a DuckDB store, which creates its own)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a page origin (http://host:port) allowed to send /v1/telemetry and /v1/traces "
        "from a browser; repeat for more; '*' allows any",
    )
    serve.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the address people open when it is not the one serve is asked on (behind a "
        "reverse proxy: https://telemetry.example.com); data exhaust download links point "
        "there",
    )
    serve.add_argument(
        "--client-dedup-window",
        type=duration_argument,
        default="1h",
        help="how long client events' mids are remembered to drop repeats (default 1h)",
    )
    serve.add_argument(
        "--client-journal",
        default=None,
        metavar="PATH|off",
        help="where client bundles are kept from their answer until their rows are "
        "committed (default beside a DuckDB store: STORE.client-journal; ClickHouse: none); "
        "'off' answers each bundle only once its rows are committed",
    )
    serve.add_argument(
        "--client-linger",
        type=duration_argument,
        default="0.5s",
        help="how long client rows kept by the journal may wait to be committed together "
        "(default 0.5s; reads through serve never wait for it)",
    )
    serve.add_argument(
        "--ingest-rate-limit",
        type=_rate,
        default=DEFAULT_INGEST_RATE_LIMIT,
        metavar="N",
        help="requests a second each client address may send to the receivers (/v1/* and "
        "OTLP/gRPC exports, one bucket), in bursts of up to 20 s of it; over it, 429 with "
        "Retry-After (gRPC: RESOURCE_EXHAUSTED with RetryInfo) (default 250; 0: no limit)",
    )
    serve.add_argument(
        "--query-rate-limit",
        type=_rate,
        default=DEFAULT_QUERY_RATE_LIMIT,
        metavar="N",
        help="requests a second each client address may make to the API (/api/*, "
        "/analytics/*, /dataset/*; never /api/health), in bursts of up to 20 s of it "
        "(default 20; 0: no limit)",
    )
    privacy_option(
        serve,
        "the privacy policy for telemetry from services other than a bot and for client "
        "events, and for what is forwarded to PostHog: a JSON file (TOML if named .toml) of "
        'PrivacyPolicy\'s fields, e.g. {"log_personal_information": true, "deny_keys": '
        '["account.number"]} (default: no personal data)',
    )
    exhaust.serve_options(serve)
    return {"serve": run}


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0 <= rate < float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate: give requests a second, more than 0, or 0 for no limit"
        )
    return rate


def _journal(given: str | None) -> Path | bool:
    if given is None:
        return True
    return False if given.strip().lower() == "off" else Path(given)


def _retention(given: str | None) -> float:
    if given is None:
        return 0
    seconds = parse_duration(given)
    # 0 is ServerConfig's "no retention": taken as it is, --retention 0d kept everything
    # without a word, whether the operator meant that or "keep nothing".
    if seconds <= 0:
        raise UsageError(
            f"--retention {given} is no retention: give more than 0, or leave --retention "
            "out to keep everything"
        )
    return seconds


def _grpc_port(given: int | None) -> int:
    return DEFAULT_GRPC_PORT if given is None else given


def run(options: argparse.Namespace) -> int:
    import asyncio

    from ..receive.cors import check_origin
    from ..web import Running, ServerConfig, serve
    from ..web.exhaust import EXHAUST_KEY

    config = ServerConfig(
        store=options.store,
        host=options.host,
        port=options.port,
        grpc_port=None if options.no_grpc else _grpc_port(options.grpc_port),
        grpc_optional=options.grpc_port is None,
        allow_remote=options.allow_remote,
        token=options.token or None,
        max_body=int(options.max_body_mb * 1024 * 1024),
        retention_seconds=_retention(options.retention),
        cors_origins=tuple(check_origin(origin) for origin in options.cors_origin),
        client_dedup_seconds=parse_duration(options.client_dedup_window),
        client_journal=_journal(options.client_journal),
        client_linger_seconds=parse_duration(options.client_linger),
        read_only=options.read_only,
        create_schema=options.create_schema,
        public_url=options.public_url,
        ingest_rate_limit=options.ingest_rate_limit,
        query_rate_limit=options.query_rate_limit,
        privacy=privacy_file(options.privacy),
        privacy_file=Path(options.privacy) if options.privacy else None,
        **exhaust.serve_settings(options),
    )

    if "*" in config.cors_origins and config.token is None and not config.read_only:
        # Said because it is easy to miss: with no token, any page any visitor opens in a
        # browser on a machine that reaches serve can write telemetry into this store.
        print(
            f"{PROG}: warning: --cors-origin '*' with no token: any web page can send "
            "client telemetry and traces into this store; list the pages' origins, or set "
            "BOT_TELEMETRY_TOKEN",
            file=sys.stderr,
            flush=True,
        )

    def ready(running: Running) -> None:
        # A line each, all on one was 200 columns; not wrapped, so a path or an address is
        # whole on its line to copy.
        if config.read_only:
            said = [
                f"{PROG} reader on {running.url}  (web UI {running.url}/, no receivers)",
                f"  store {config.store}",
            ]
        else:
            grpc = f"; OTLP/gRPC {running.grpc_url}" if running.grpc_url else ""
            # Said because with a ClickHouse store the default is relative to the working
            # directory: jobs.sqlite3 and link.key appeared wherever serve was started.
            folder = running.runner.app[EXHAUST_KEY].settings.folder.resolve()
            said = [
                f"{PROG} collector on {running.url}  (web UI {running.url}/)",
                "  receives OTLP/HTTP /v1/traces /v1/logs /v1/metrics, client telemetry "
                f"/v1/telemetry{grpc}",
                f"  store {config.store}",
                f"{PROG} data exhaust folder {folder}  (--exhaust-dir moves it)",
            ]
        print("\n".join(said), flush=True)

    try:
        asyncio.run(serve(config, ready))
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        # It said "[Errno 98] error while attempting to bind on address (...)".
        raise CommandError(
            f"{config.host}:{config.port} is in use (another serve, an OpenTelemetry "
            "Collector?): give another --port, or --port 0 to pick a free one"
        ) from None
    return 0
