"""What every sample process shares: telemetry setup, plumbing routes, serving, clean stop.

Each process (bot, nlu, qna, channel) builds its aiohttp app and hands it to
:func:`run_service`, which configures OpenTelemetry under the process's service name,
traces every request, adds ``GET /health``, ``GET /stats`` and ``POST /telemetry/flush``,
listens, and on SIGTERM or Ctrl-C stops serving and flushes telemetry before exiting.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping

from aiohttp import web

import bot_telemetry
from bot_telemetry.export.configure import current

from .faults import PLUMBING_PATHS, Handler, RequestLedger

LEDGER_KEY = web.AppKey("ledger", RequestLedger)
#: ``1`` opens the privacy policy: message text, names and questions are recorded, with
#: emails, phone and card numbers redacted. Unset or ``0``: personal data only of users who
#: consented (the booking asks), none of anyone else's (the default).
LOG_PERSONAL_INFORMATION_ENV = "BOT_TELEMETRY_LOG_PERSONAL_INFORMATION"
_log = logging.getLogger(__name__)


class PortInUseError(RuntimeError):
    pass


def service_arguments(description: str, default_port: int) -> argparse.ArgumentParser:
    """An argument parser with the options every sample process takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=default_port, help="port to listen on")
    parser.add_argument(
        "--fail-every",
        type=int,
        default=0,
        metavar="N",
        help="answer 503 to every Nth API request (0: never), to show failing dependencies",
    )
    return parser


def privacy_from_environment() -> bot_telemetry.PrivacyPolicy:
    """The policy ``BOT_TELEMETRY_LOG_PERSONAL_INFORMATION`` asks for; ValueError if unclear."""
    raw = os.environ.get(LOG_PERSONAL_INFORMATION_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return bot_telemetry.PrivacyPolicy(consent_mode=True)
    if raw in ("1", "true", "yes", "on"):
        return bot_telemetry.PrivacyPolicy(log_personal_information=True)
    raise ValueError(
        f"{LOG_PERSONAL_INFORMATION_ENV}={raw!r}: use 1 to record personal data "
        "(redacted) or 0 not to"
    )


def add_plumbing(app: web.Application, service_name: str, ledger: RequestLedger) -> None:
    """Readiness, request counts and an on-demand flush, for the demo driver and the tests."""

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"service": service_name, "status": "ok"})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"service": service_name, **ledger.stats()})

    async def flush(_: web.Request) -> web.Response:
        handle = current()
        if handle is None:
            return web.json_response({"flushed": False})
        # force_flush blocks on the exporters: keep it off the event loop.
        done = await asyncio.get_running_loop().run_in_executor(None, handle.force_flush, 10_000)
        return web.json_response({"flushed": done})

    app[LEDGER_KEY] = ledger
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    app.router.add_post("/telemetry/flush", flush)


#: The web chat page's scripts and styles (served by the channel): a trace each per page load
#: would crowd the turns out of the transaction list.
UNTRACED_PREFIXES = ("/webchat/static/", "/webchat/dist/")


@web.middleware
async def traced_unless_plumbing(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``telemetry_middleware`` for every route but the plumbing ones and the page's files:
    readiness polls and flushes are not the service's traffic and would only add unparented
    requests to the app map. (A bot leaves its own out with
    ``OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS``; the sample decides per app because the tests
    run several of its apps in one process.)"""
    if request.path in PLUMBING_PATHS or request.path.startswith(UNTRACED_PREFIXES):
        return await handler(request)
    return await bot_telemetry.telemetry_middleware(request, handler)


def run_service(
    build: Callable[[RequestLedger], web.Application],
    *,
    service_name: str,
    host: str,
    port: int,
    fail_every: int = 0,
    peer_services: Mapping[str, str] | None = None,
) -> int:
    """Configure telemetry, build the app and serve it until SIGTERM/SIGINT; the exit code.

    sys.exit(run_service(build_app, service_name="nlu", host="127.0.0.1", port=5101))
    """
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {service_name} %(levelname)s %(message)s"
    )
    try:
        privacy = privacy_from_environment()
        # A bad telemetry variable (an endpoint without http://, a connection string that
        # is not one, POSTHOG_HOST without https://, a missing extra) is one line, not a trace.
        telemetry = bot_telemetry.configure(service_name=service_name, privacy=privacy)
    except (ValueError, RuntimeError) as error:
        print(f"{service_name}: {error}", file=sys.stderr)
        return 2
    try:
        # Before the app exists, so every client session it creates is traced.
        bot_telemetry.instrument_aiohttp_client(peer_services=dict(peer_services or {}))
        ledger = RequestLedger(fail_every)
        app = build(ledger)
        add_plumbing(app, service_name, ledger)
        app.middlewares.insert(0, traced_unless_plumbing)
        asyncio.run(_serve(app, host, port, service_name))
        return 0
    except PortInUseError as error:
        print(f"{service_name}: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # bad data files or options: say what, do not dump a trace
        print(f"{service_name}: {error}", file=sys.stderr)
        return 2
    finally:
        # Runs on SIGTERM too (the handler below ends _serve normally), so nothing queued is
        # lost: shutdown exports what is queued. A force_flush first would only make a bot
        # whose backend hangs wait out the export timeouts twice before it exits.
        telemetry.shutdown()


async def _serve(app: web.Application, host: str, port: int, service_name: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {port} on {host} is already in use") from error
            raise
        _log.info("%s listening on http://%s:%d", service_name, host, port)
        await stop.wait()
        _log.info("%s stopping", service_name)
    finally:
        await runner.cleanup()
