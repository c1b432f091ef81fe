"""Rate limits of ``bot-telemetry serve``, per client address: one client (a page looping on
``/v1/telemetry``, a script hammering ``/analytics/query``) cannot take the server from
everyone else. Over its limit a client is answered ``429`` with ``Retry-After``.

Two token buckets per address: the receivers (``/v1/*``, and serve's OTLP/gRPC ``Export``
calls, which take from the same bucket: one client is one client whichever protocol) and the
reads (``/api/*``, ``/analytics/*``, the exhaust API ``/dataset/*``). ``/api/health``, the
page and its static files are never limited. A bucket holds ``BURST_SECONDS`` of its rate,
so a burst (a page flushing its queue, a dashboard opening, a benchmark's 2,000 bundles) goes
through at full speed and only a sustained excess is refused.

A token bucket of our own rather than a library (``limits``): the check on the ingest path is
one dict lookup and a few float operations in the event loop's thread, with no lock, no
storage object and no await; the library's async API awaits a storage call per request for
the same arithmetic, and would be a dependency more.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..receive import otlp
from ..receive.otlp import OtlpError

_log = logging.getLogger(__name__)

#: How much of its rate a client may send at once (a bucket's size, in seconds of its rate).
BURST_SECONDS = 20.0
#: Buckets kept before idle (full) ones are dropped: memory stays bounded under a flood of
#: addresses.
MAX_CLIENTS = 65_536
#: Paths the query limit covers (besides them, only ``/v1/`` is limited).
QUERY_PREFIXES = ("/api/", "/analytics/", "/dataset/")
#: Never limited: what a load balancer or Kubernetes probes.
HEALTH_PATH = "/api/health"
OTLP_PATHS = frozenset({"/v1/traces", "/v1/logs", "/v1/metrics"})
#: How often a limited client is said in the log (one line per client per this many seconds).
LOG_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Refused:
    """Over the limit: how long until one request more may go."""

    wait_seconds: float


class Buckets:
    """A token bucket per key, all of ``rate`` a second and ``burst`` deep. Used from one
    thread (the event loop): no lock."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError(f"a rate limit needs a rate over 0 and room for 1: {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        # key -> [tokens, when they were counted]: a list changed in place, so a request
        # allocates no bucket, only the floats of its arithmetic.
        self._buckets: dict[str, list[float]] = {}
        # client -> when the log last said it was refused.
        self._said: dict[str, float] = {}

    def admit(self, client: str, where: str) -> float:
        """``take`` for ``client``, saying a refusal in the log (once a minute per client);
        ``where`` names what it asked for. The one check of HTTP's middleware and gRPC's."""
        wait = self.take(client)
        if wait:
            _say(self._said, client, where, self)
        return wait

    def take(self, key: str) -> float:
        """0.0 when a request of ``key`` may go (a token taken), else the seconds until one
        may."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_idle(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        # A bucket that has filled up again is the same as none.
        full = [
            key
            for key, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:
            # Every client is busy (a flood from many addresses): start over rather than grow.
            self._buckets.clear()


def limit_of(rate: float) -> Buckets | None:
    """Buckets of ``rate`` requests a second and bursts of ``BURST_SECONDS`` of it; None for 0
    (no limit)."""
    return Buckets(rate, rate * BURST_SECONDS) if rate > 0 else None


def rate_limits(ingest: Buckets | None, query: Buckets | None) -> Middleware | None:
    """The middleware limiting each client address with ``ingest`` on the receivers and
    ``query`` on the reads (None: no limit); None when neither is set."""
    if ingest is None and query is None:
        return None

    @web.middleware
    async def rate_limit(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/v1/"):
            buckets = ingest
        elif path.startswith(QUERY_PREFIXES) and path != HEALTH_PATH:
            buckets = query
        else:
            buckets = None
        if buckets is not None:
            client = request.remote or ""
            wait = buckets.admit(client, path)
            if wait:
                return _too_many(request, buckets, wait)
        return await handler(request)

    middleware: Middleware = rate_limit
    return middleware


def _say(said: dict[str, float], client: str, path: str, buckets: Buckets) -> None:
    """One WARNING line per client a minute, not one per refused request."""
    now = time.monotonic()
    if now - said.get(client, -math.inf) < LOG_EVERY_SECONDS:
        return
    if len(said) >= MAX_CLIENTS:
        said.clear()
    said[client] = now
    _log.warning(
        "client %s is over its rate limit (%g requests/s, bursts of %d) on %s: refused (429, "
        "gRPC RESOURCE_EXHAUSTED) (said once a minute per client; --ingest-rate-limit and "
        "--query-rate-limit set them)",
        client or "?",
        buckets.rate,
        buckets.burst,
        path,
    )


def _too_many(request: web.Request, buckets: Buckets, wait: float) -> web.Response:
    reason = (
        f"too many requests from this client: at most {buckets.rate:g} a second (bursts of "
        f"{buckets.burst:g}); retry after the Retry-After seconds"
    )
    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
    if request.path in OTLP_PATHS:
        # OTLP/HTTP: a google.rpc.Status in the request's encoding; exporters retry a 429
        # after Retry-After.
        try:
            encoding = otlp.encoding_of(request.headers.get("Content-Type"))
        except OtlpError:
            encoding = None
        body, content_type = otlp.status_body(OtlpError(429, reason), encoding)
        return web.Response(status=429, body=body, content_type=content_type, headers=headers)
    return web.json_response({"error": reason}, status=429, headers=headers)


__all__ = [
    "BURST_SECONDS",
    "Buckets",
    "limit_of",
    "rate_limits",
]
