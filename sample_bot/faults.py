"""Counting a service's API requests, and failing every Nth one on purpose.

The demo needs a dependency that fails now and then, and the tests need to know how
many calls a service really served. Failing every Nth request (not a random share) keeps
both deterministic: the same script always fails the same calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Routes every sample service has that are plumbing, not its API.
PLUMBING_PATHS = frozenset({"/health", "/stats", "/telemetry/flush"})


class RequestLedger:
    """Counts requests per route and answers 503 to every ``fail_every``-th API request.

    ledger = RequestLedger(fail_every=5)
    app = web.Application(middlewares=[ledger.middleware])
    """

    def __init__(self, fail_every: int = 0, exempt: Collection[str] = PLUMBING_PATHS) -> None:
        if fail_every < 0:
            raise ValueError("fail_every must be 0 (never) or a positive number")
        self.fail_every = fail_every
        self._exempt = frozenset(exempt)
        self.requests: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._seen = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in self._exempt:
            return await handler(request)
        route = _route_name(request)
        self.requests[route] += 1
        self._seen += 1
        if self.fail_every and self._seen % self.fail_every == 0:
            self.failures[route] += 1
            return web.json_response(
                {
                    "error": {
                        "code": "InjectedFailure",
                        "message": f"one request in {self.fail_every} fails (--fail-every)",
                    }
                },
                status=503,
            )
        return await handler(request)

    def stats(self) -> dict[str, object]:
        return {
            "requests": sum(self.requests.values()),
            "failures": sum(self.failures.values()),
            "byRoute": {
                route: {"requests": n, "failures": self.failures[route]}
                for route, n in sorted(self.requests.items())
            },
        }


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else request.path
    return f"{request.method} {canonical}"
