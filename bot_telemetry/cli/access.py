"""Where the CLI reads from: the store file, or the running server that holds it.

DuckDB lets one process write a file and no other open it meanwhile, so while ``serve``
runs the CLI asks it over its JSON API (found through the discovery file it writes next
to the store) and gets the very same answers.

    with open_source(Path(".bot-telemetry/telemetry.duckdb")) as source:
        print(source.app_map(TimeWindow()))
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, cast

from ..analytics import (
    appmap,
    client_events,
    conversations,
    events,
    journeys,
    measures,
    metrics,
    traces,
)
from ..analytics.appmap import AppMap
from ..analytics.client_events import ClientEvent, FailedEvent
from ..analytics.conversations import Conversation, ConversationSummary
from ..analytics.events import Event, EventsPage
from ..analytics.metrics import MetricDetail, MetricSummary
from ..analytics.traces import TraceDetail
from ..analytics.window import _MAX_NS, TimeWindow
from ..store.database import Store, StoreBusy, StoreError
from ..store.engine import DuckDBEngine, Engine
from ..store.location import ClickHouseLocation, open_engine
from ..web.discovery import discovery_path


class Source(Protocol):
    def app_map(self, window: TimeWindow) -> AppMap: ...
    def events(self, window: TimeWindow, name: str | None, limit: int) -> list[Event]: ...
    def trace(self, trace_id: str) -> TraceDetail | None: ...
    def conversations(self, window: TimeWindow, limit: int) -> list[ConversationSummary]: ...
    def conversation(self, conversation_id: str) -> Conversation | None: ...
    def metrics(self, window: TimeWindow) -> list[MetricSummary]: ...
    def metric(self, name: str, window: TimeWindow) -> MetricDetail | None: ...

    def client_events(
        self, window: TimeWindow, eid: str | None, conversation_id: str | None, limit: int
    ) -> list[ClientEvent]: ...
    def failed_client_events(self, window: TimeWindow, limit: int) -> list[FailedEvent]: ...
    def stored_events_page(
        self, window: TimeWindow, after: tuple[int, str] | None, limit: int, count: bool
    ) -> EventsPage: ...
    def journey(self, kind: str, body: dict[str, Any]) -> Any: ...
    def measures(self, body: dict[str, Any]) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Source: ...
    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


class _Closing:
    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class EngineSource(_Closing):
    """Runs the queries itself, on an engine: the store file (read-only) or ClickHouse."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def app_map(self, window: TimeWindow) -> AppMap:
        return appmap.build_app_map(self.engine, window)

    def events(self, window: TimeWindow, name: str | None, limit: int) -> list[Event]:
        return events.list_events(self.engine, window, name, limit)

    def trace(self, trace_id: str) -> TraceDetail | None:
        return traces.get_trace(self.engine, trace_id)

    def conversations(self, window: TimeWindow, limit: int) -> list[ConversationSummary]:
        return conversations.list_conversations(self.engine, window, limit)

    def conversation(self, conversation_id: str) -> Conversation | None:
        return conversations.get_conversation(self.engine, conversation_id)

    def metrics(self, window: TimeWindow) -> list[MetricSummary]:
        return metrics.list_metrics(self.engine, window)

    def metric(self, name: str, window: TimeWindow) -> MetricDetail | None:
        return metrics.get_metric(self.engine, name, window)

    def client_events(
        self, window: TimeWindow, eid: str | None, conversation_id: str | None, limit: int
    ) -> list[ClientEvent]:
        return client_events.list_client_events(self.engine, window, eid, conversation_id, limit)

    def failed_client_events(self, window: TimeWindow, limit: int) -> list[FailedEvent]:
        return client_events.list_failed(self.engine, window, limit)

    def stored_events_page(
        self, window: TimeWindow, after: tuple[int, str] | None, limit: int, count: bool
    ) -> EventsPage:
        return events.stored_events_page(self.engine, window, after, limit, count)

    def journey(self, kind: str, body: dict[str, Any]) -> Any:
        """``kind`` is a journeys route: funnel, funnel/dialogs, paths or retention."""
        return JOURNEYS[kind](self.engine, body)

    def measures(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """A ``POST /analytics/query`` body's answer (a bad body raises RequestError)."""
        request = measures.parse_request(body)
        return [result.as_json() for result in measures.run(self.engine, request)]

    def close(self) -> None:
        self.engine.close()


#: What ``journey(kind, body)`` runs in process, by the route's name under /analytics/.
JOURNEYS: dict[str, Any] = {
    "funnel": journeys.funnel,
    "funnel/dialogs": journeys.dialog_funnels,
    "paths": journeys.paths,
    "retention": journeys.retention,
}


#: What a collector that answers as none does may be instead.
_NOT_SERVE = (
    "is --url the address `bot-telemetry serve` printed (not the bot's or a web page's), and "
    "is that serve as new as this command?"
)


class RemoteError(Exception):
    """The running server could not answer; ``status`` is its HTTP status, if it answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


#: How long the CLI waits out a serve's rate limit (429, its Retry-After) before failing.
RATE_LIMITED_SECONDS = 120.0


def open_waiting(
    request: urllib.request.Request,
    timeout: float,
    rate_limited_seconds: float = RATE_LIMITED_SECONDS,
) -> Any:
    """``urlopen(request)``, a 429 (a serve's rate limit) waited out as its Retry-After says,
    for up to ``rate_limited_seconds`` in all; past that its ``HTTPError`` is raised as any
    other status's. Every command asking a serve sends through it."""
    from ..posthog.capture import retry_after

    deadline = time.monotonic() + rate_limited_seconds
    while True:
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            if error.code != 429:
                raise
            waited = retry_after(error.headers.get("Retry-After"))
            wait = 1.0 if waited is None else waited
            if time.monotonic() + wait > deadline:
                raise
            error.close()
            time.sleep(wait)  # as long as serve asked: its limit's protocol


class ServerSource(_Closing):
    """Asks a running ``bot-telemetry serve`` through its JSON API. A 429 (the serve's rate
    limit: ``posthog backfill`` asks for page after page) is waited out as its Retry-After
    says, for up to ``rate_limited_seconds`` in all."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 30.0,
        rate_limited_seconds: float = RATE_LIMITED_SECONDS,
    ):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.rate_limited_seconds = rate_limited_seconds

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        request = urllib.request.Request(f"{self.url}{path}" + (f"?{query}" if query else ""))
        return self._send(request)

    def _post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> Any:
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        answer = self._answer(request)
        if answer is None:  # 404
            return None
        try:
            return json.loads(answer)
        except ValueError:
            # Another web server at that address (a web page's, the bot's) answers HTML.
            path = urllib.parse.urlsplit(request.full_url).path
            raise RemoteError(f"{self.url} answered {path} with no JSON: {_NOT_SERVE}") from None

    def _answer(self, request: urllib.request.Request) -> bytes | None:
        """The answer's body; None for a 404."""
        try:
            with open_waiting(request, self.timeout, self.rate_limited_seconds) as response:
                answer: bytes = response.read()
                return answer
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            try:
                message = json.loads(error.read()).get("error", error.reason)
            except (ValueError, AttributeError):
                message = error.reason
            if error.code == 401:
                # The server's words are for any client; this one is the CLI.
                message = (
                    f"{message} (give this command --token TOKEN or set BOT_TELEMETRY_TOKEN "
                    "to the token the collector was started with)"
                    if not self.token
                    else f"{message} (the token given by --token or BOT_TELEMETRY_TOKEN is "
                    "not the collector's)"
                )
            raise RemoteError(f"{self.url} answered {error.code}: {message}", error.code) from error
        except (urllib.error.URLError, OSError) as error:
            raise RemoteError(f"cannot reach the collector at {self.url}: {error}") from error

    def _required(self, found: Any, path: str) -> Any:
        """A list route's answer; its 404 means no such route, not an empty list."""
        if found is None:
            raise RemoteError(f"{self.url} has no {path}: {_NOT_SERVE}", 404)
        return found

    @staticmethod
    def _window(window: TimeWindow) -> dict[str, Any]:
        return {
            "since": traces.iso(window.start_ns) if window.start_ns > 0 else None,
            "until": traces.iso(window.end_ns) if window.end_ns < _MAX_NS else None,
        }

    def app_map(self, window: TimeWindow) -> AppMap:
        found = self._get("/api/appmap", self._window(window))
        return cast(AppMap, self._required(found, "/api/appmap"))

    def events(self, window: TimeWindow, name: str | None, limit: int) -> list[Event]:
        found = self._get("/api/events", {**self._window(window), "name": name, "limit": limit})
        return cast(list[Event], self._required(found, "/api/events"))

    def trace(self, trace_id: str) -> TraceDetail | None:
        trace_id = traces.valid_trace_id(trace_id)
        return cast(TraceDetail | None, self._get(f"/api/traces/{trace_id}"))

    def conversations(self, window: TimeWindow, limit: int) -> list[ConversationSummary]:
        found = self._get("/api/conversations", {**self._window(window), "limit": limit})
        return cast(list[ConversationSummary], self._required(found, "/api/conversations"))

    def conversation(self, conversation_id: str) -> Conversation | None:
        quoted = urllib.parse.quote(conversation_id, safe="")
        return cast(Conversation | None, self._get(f"/api/conversations/{quoted}"))

    def metrics(self, window: TimeWindow) -> list[MetricSummary]:
        found = self._get("/api/metrics", self._window(window))
        return cast(list[MetricSummary], self._required(found, "/api/metrics"))

    def metric(self, name: str, window: TimeWindow) -> MetricDetail | None:
        quoted = urllib.parse.quote(name, safe="")
        found = self._get(f"/api/metrics/{quoted}", self._window(window))
        return cast(MetricDetail | None, found)

    def client_events(
        self, window: TimeWindow, eid: str | None, conversation_id: str | None, limit: int
    ) -> list[ClientEvent]:
        params = {"eid": eid, "conversation": conversation_id, "limit": limit}
        found = self._get("/api/client-events", {**self._window(window), **params})
        return cast(list[ClientEvent], self._required(found, "/api/client-events"))

    def failed_client_events(self, window: TimeWindow, limit: int) -> list[FailedEvent]:
        params = {"failed": "true", "limit": limit}
        found = self._get("/api/client-events", {**self._window(window), **params})
        return cast(list[FailedEvent], self._required(found, "/api/client-events"))

    def stored_events_page(
        self, window: TimeWindow, after: tuple[int, str] | None, limit: int, count: bool
    ) -> EventsPage:
        params = {
            **self._window(window),
            "after_time": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
            "count": "true" if count else None,
        }
        found = self._get("/api/posthog/events", params)
        return cast(EventsPage, self._required(found, "/api/posthog/events"))

    def journey(self, kind: str, body: dict[str, Any]) -> Any:
        return self._required(self._post(f"/analytics/{kind}", body), f"/analytics/{kind}")

    def measures(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        found = self._required(self._post("/analytics/query", body), "/analytics/query")
        return cast(list[dict[str, Any]], found)


def open_source(
    store: Path | ClickHouseLocation, url: str | None = None, token: str | None = None
) -> Source:
    """The server at ``url`` if given; else ClickHouse, or the store file, or the server
    holding it."""
    if url:
        return ServerSource(url, token)
    if isinstance(store, ClickHouseLocation):
        return EngineSource(open_engine(store))
    try:
        return EngineSource(DuckDBEngine(Store.open(store, read_only=True), owns_store=True))
    except StoreBusy as busy:
        discovery = discovery_path(store)
        try:
            found = json.loads(discovery.read_text())
            return ServerSource(str(found["url"]), token)
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreError(
                f"{busy.held}, and no running `bot-telemetry serve` says it holds it "
                f"({discovery} is missing); pass --url of the server that does"
            ) from busy
