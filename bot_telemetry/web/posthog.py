"""``serve`` and PostHog: what it stores, forwarded; stored history, read for the backfill.

With ``POSTHOG_API_KEY`` set, every event row the store commits (the bot's custom events,
client events) is handed from the writer to a ``PostHogForwarder``, except the events of
processes that forward their own (their resource says ``bot_telemetry.posthog.forwarded``).
``POSTHOG_FORWARD=all`` forwards spans and plain log records too; ``off`` nothing.

    GET /api/posthog            the forwarder's state: on or off, sent, queued, dropped
    GET /api/posthog/events     a page of stored events for ``bot-telemetry posthog backfill``
                                (?since=&until=&after_time=&after_id=&limit=&count=true)
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web
from opentelemetry import metrics

from ..analytics.events import stored_events_page
from ..analytics.window import TimeWindow
from ..contract import RESOURCE_POSTHOG_FORWARDED
from ..delivery import ExportAccounting
from ..posthog import EventRecord, PostHogForwarder, PostHogSettings
from ..privacy import PrivacyPolicy, current_policy
from ..store.database import KIND_NAMES
from ..store.location import ClickHouseLocation
from ..store.rows import Batch
from ..store.writer import StoreWriter
from .routes import Queries

_log = logging.getLogger(__name__)

#: Next to the store: the oldest stored event not yet sent to PostHog, while there is one.
UNSENT_SUFFIX = ".posthog-unsent.json"
#: The event name plain log records get under ``POSTHOG_FORWARD=all``.
LOG_EVENT = "log"
_STATUS = {0: "unset", 1: "ok", 2: "error"}


class StoredRow(NamedTuple):
    """A committed row as handed over by the writer; JSON is parsed on the sending thread."""

    name: str
    time_ns: int
    trace_id: str | None
    span_id: str | None
    service: str
    attributes: str | None
    service_version: str | None
    key: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()


def to_record(row: StoredRow) -> EventRecord:
    attributes: dict[str, Any] = json.loads(row.attributes or "{}")
    attributes.update(row.extra)
    return EventRecord(
        row.name,
        row.time_ns,
        row.trace_id,
        row.span_id,
        attributes,
        row.service,
        row.service_version,
        key=row.key,
    )


def add_posthog_routes(
    app: web.Application,
    writer: StoreWriter | None,
    queries: Queries,
    settings: PostHogSettings | None,
    store: Path | ClickHouseLocation | None = None,
    policy: Callable[[], PrivacyPolicy] = current_policy,
    backfill_privacy: str = "",
) -> None:
    """The routes, and the forwarder when ``settings`` say so and this server stores what it
    receives (``writer``; a read-only reader forwards nothing). Call after the app's own
    cleanup is registered, so the writer has handed over its last rows when it closes.
    ``store`` is named in the backfill command the outage lines give; ``policy`` is serve's
    (``ServerConfig.policy``, ``--privacy``): PostHog gets what it stores, judged by it, and
    the backfill command is given the same (``backfill_privacy``: ``privacy_option``)."""
    forwarder: PostHogForwarder[StoredRow] | None = None
    if writer is not None and settings is not None and settings.forward != "off":
        accounting = ExportAccounting(metrics.get_meter("bot_telemetry.posthog"))
        forwarder = PostHogForwarder(
            settings,
            accounting,
            to_record=to_record,
            backfill_from=store_option(store) + backfill_privacy,
            unsent_file=unsent_file(store),
            policy=policy,
        )
        resources: dict[str, tuple[str | None, bool]] = {}
        everything = settings.forward == "all"

        def hand_over(batch: Batch) -> None:
            assert forwarder is not None
            forwarder.put_many(stored_rows(batch, resources, everything))

        writer.on_written = hand_over
        _log.info("forwarding stored %s to %s", settings.forward, forwarder.destination)

        async def close(_: web.Application) -> None:
            assert forwarder is not None
            await asyncio.get_running_loop().run_in_executor(None, forwarder.close)

        app.on_cleanup.append(close)

    async def status(_: web.Request) -> web.Response:
        if forwarder is None:
            return web.json_response({"forwarding": "off"})
        return web.json_response(
            {
                "forwarding": forwarder.settings.forward,
                "destination": forwarder.destination,
                "sent": forwarder.sent,
                "queued": forwarder.pending(),
                "dropped": forwarder.accounting.dropped(),
            }
        )

    async def events(request: web.Request) -> web.Response:
        try:
            window = TimeWindow.parse(
                request.query.get("since") or None, request.query.get("until") or None
            )
            after_time, after_id = request.query.get("after_time"), request.query.get("after_id")
            after = (
                (_whole(after_time, "after_time"), after_id)
                if after_time and after_id is not None
                else None
            )
            limit = max(1, min(_whole(request.query.get("limit") or "500", "limit"), 5000))
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        count = request.query.get("count", "").lower() in ("1", "true", "yes")
        page = await queries.run(stored_events_page, window, after, limit, count)
        return web.json_response(page)

    app.router.add_get("/api/posthog", status)
    app.router.add_get("/api/posthog/events", events)


def _whole(text: str, name: str) -> int:
    # int()'s own message ("invalid literal for int() with base 10") named no parameter.
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text[:64]!r}") from None


def store_option(store: Path | ClickHouseLocation | None) -> str:
    """The backfill's ``--store`` for this server's store (a ClickHouse one without its
    password, which the operator has)."""
    if isinstance(store, Path):
        return f"--store {shlex.quote(str(store.absolute()))}"
    if isinstance(store, ClickHouseLocation):
        where = f"clickhouse://{store.host}:{store.port}/{store.tables.database}"
        return f"--store {shlex.quote(where)} (and its credentials)"
    return "--store STORE"


def privacy_option(policy: PrivacyPolicy | None, file: Path | None) -> str:
    """The backfill's ``--privacy`` for this server's policy (its file, when it was read from
    one): without it the backfill would send history under the default policy."""
    if policy is None:
        return ""
    return f" --privacy {shlex.quote(str(file.absolute())) if file else 'FILE'}"


def unsent_file(store: Path | ClickHouseLocation | None) -> Path | None:
    """Where the forwarder keeps the time of the oldest event it has not sent yet, next to
    the store file (a ClickHouse store has no file of ours: the lines alone say it there)."""
    return store.with_name(store.name + UNSENT_SUFFIX) if isinstance(store, Path) else None


def stored_rows(
    batch: Batch, resources: dict[str, tuple[str | None, bool]], everything: bool
) -> Iterator[StoredRow]:
    """The rows of a committed batch worth forwarding (on the writer thread: no JSON parsed
    per row, only each new resource's attributes once)."""
    if len(resources) > 10_000:  # many short-lived processes: start over
        resources.clear()
    for index, resource_id in enumerate(batch.resources["resource_id"]):
        if resource_id not in resources:
            found = json.loads(batch.resources["attributes"][index] or "{}")
            version = found.get("service.version")
            resources[resource_id] = (
                str(version) if version else None,
                bool(found.get(RESOURCE_POSTHOG_FORWARDED)),
            )
    logs = batch.logs
    for index, name in enumerate(logs["event_name"]):
        version, forwarded = resources.get(logs["resource_id"][index], (None, False))
        if name is None:
            if not everything:
                continue
            key = f"log:{logs['record_id'][index]}"
            extra: tuple[tuple[str, Any], ...] = (
                ("severity", logs["severity_text"][index]),
                ("severity_number", logs["severity_number"][index]),
            )
            name = LOG_EVENT
        elif forwarded:
            continue  # the process sends its own events to PostHog
        else:
            key, extra = None, ()
        yield StoredRow(
            name,
            logs["time_ns"][index],
            logs["trace_id"][index],
            logs["span_id"][index],
            logs["service_name"][index],
            logs["attributes"][index],
            version,
            key,
            extra,
        )
    if not everything:
        return
    spans = batch.spans
    for index, name in enumerate(spans["name"]):
        version, _ = resources.get(spans["resource_id"][index], (None, False))
        trace_id, span_id = spans["trace_id"][index], spans["span_id"][index]
        yield StoredRow(
            name,
            spans["start_ns"][index],
            trace_id,
            span_id,
            spans["service_name"][index],
            spans["attributes"][index],
            version,
            f"span:{trace_id}:{span_id}",
            (
                ("duration_ms", spans["duration_ns"][index] / 1e6),
                ("span.kind", KIND_NAMES.get(spans["kind"][index], "unspecified")),
                ("status", _STATUS.get(spans["status_code"][index], "unset")),
            ),
        )
