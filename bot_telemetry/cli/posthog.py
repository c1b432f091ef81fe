"""``bot-telemetry posthog backfill``: stored history to PostHog, resumable.

    POSTHOG_API_KEY=phc_... POSTHOG_HOST=https://eu.i.posthog.com \\
        bot-telemetry posthog backfill --since 30d

Events are read page by page (oldest first) from the store, or from the ``serve`` that
holds it, mapped as the live forwarders map them (same uuids, so PostHog collapses what
was already sent) and sent with ``historical_migration``. After each page PostHog took, a
checkpoint next to the store (``<store>.posthog-backfill.<walk>.json``) records where the
walk is: run the same command again to resume after an interruption or an outage. A walk is
one PostHog host, project (a fingerprint of the API key; the key is not stored), window
(``--since``/``--until`` as given) and choice of events (``POSTHOG_EVENTS``,
``POSTHOG_EXCLUDE_EVENTS``, which hold here as for live forwarding): another starts its own.
``--privacy FILE`` is the policy they go under: the file the serve that stored them has as its
``--privacy``, so that backfilled events carry what it forwards live.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..analytics.window import TimeWindow
from ..store.location import DEFAULT_STORE, ClickHouseLocation
from .common import (
    PROG,
    CommandError,
    Handler,
    UsageError,
    described,
    open_for,
    privacy_file,
    privacy_option,
    store_options,
)

if TYPE_CHECKING:  # imported by the command itself: it brings an HTTP client
    from ..analytics.events import StoredEvent
    from ..posthog import EventRecord, PostHogSettings
    from ..privacy import PrivacyPolicy


def register(commands: Any) -> dict[str, Handler]:
    posthog = commands.add_parser("posthog", help="send stored events to PostHog")
    actions = posthog.add_subparsers(dest="posthog_command", required=True, metavar="ACTION")
    backfill = actions.add_parser(
        "backfill",
        help="send stored history (historical_migration), resumable",
        **described(__doc__),
    )
    store_options(backfill)
    backfill.add_argument("--batch", type=int, default=500, help="events per page (default 500)")
    backfill.add_argument(
        "--retry-seconds",
        type=float,
        default=120.0,
        help="how long a page may be retried while PostHog fails (default 120)",
    )
    backfill.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint and start over"
    )
    privacy_option(
        backfill,
        "the privacy policy the events are sent under: give the file the serve that stored "
        "them has as its --privacy, so that backfilled events are what it forwards live "
        "(default: no personal data)",
    )
    return {"posthog": run}


def run(options: argparse.Namespace) -> int:
    from ..posthog import PostHogSettings
    from ..privacy import DEFAULT_POLICY

    settings = PostHogSettings.from_environment()
    if settings is None:
        raise UsageError("POSTHOG_API_KEY is not set: say which PostHog project to send to")
    if options.batch < 1:
        raise UsageError("--batch must be at least 1")
    if not 0 <= options.retry_seconds < math.inf:
        # -1 meant no retry and inf (or nan) retrying for ever, without a word.
        raise UsageError(
            f"--retry-seconds must be a number of seconds, 0 or more, got {options.retry_seconds}"
        )
    settings = dataclasses.replace(settings, retry_seconds=options.retry_seconds)
    policy = privacy_file(options.privacy)  # a bad file is refused before anything is read
    window = TimeWindow.parse(options.since, options.until)
    walk = Walk(
        settings.host,
        project_fingerprint(settings.api_key),
        options.since,
        options.until,
        event_choice(settings),
    )
    path = checkpoint_path(options.store, walk)
    checkpoint = None if options.restart else Checkpoint.load(path)
    if checkpoint is None or checkpoint.walk != walk:
        checkpoint = Checkpoint.start(path, walk, window)
    elif checkpoint.done:
        print(
            f"{PROG}: the backfill {walk} is complete ({checkpoint.sent:,} events); "
            "pass --restart to send again",
            file=sys.stderr,
        )
        return 0
    else:
        print(
            f"{PROG}: resuming the backfill {walk}: {checkpoint.sent:,} events sent",
            file=sys.stderr,
        )
    return backfill(options, settings, checkpoint, policy or DEFAULT_POLICY)


def backfill(
    options: argparse.Namespace,
    settings: PostHogSettings,
    checkpoint: Checkpoint,
    policy: PrivacyPolicy,
) -> int:
    from ..posthog import CaptureSender, map_and_send

    sender = CaptureSender(settings)
    window = TimeWindow(checkpoint.since_ns, checkpoint.until_ns)
    progress: Progress | None = None
    try:
        with open_for(options) as source:
            while True:
                page = source.stored_events_page(
                    window, checkpoint.after, options.batch, progress is None
                )
                if progress is None:
                    handled = checkpoint.handled
                    progress = Progress(handled, handled + (page["remaining"] or 0), sys.stderr)
                    progress.show(handled)
                stored = page["events"]
                if not stored:
                    break
                # The live forwarders' rules (POSTHOG_EVENTS, POSTHOG_EXCLUDE_EVENTS) hold for
                # history too: what PostHog is not to get live, it does not get afterwards.
                wanted = [event for event in stored if settings.wants(event["name"])]
                checkpoint.left_out += len(stored) - len(wanted)
                delivery = map_and_send(
                    [event_record(event) for event in wanted],
                    settings,
                    policy,
                    sender,
                    historical=True,
                )
                if delivery.failed:
                    checkpoint.save()
                    raise CommandError(
                        f"{delivery.reason}; {checkpoint.sent:,} events sent so far, run the "
                        "same command again to resume"
                    )
                for reason, items in delivery.dropped.items():
                    checkpoint.dropped[reason] = checkpoint.dropped.get(reason, 0) + items
                checkpoint.sent += delivery.delivered
                last = stored[-1]
                checkpoint.after = (last["time_ns"], last["record_id"])
                checkpoint.save()
                progress.show(checkpoint.handled)
    finally:
        sender.close()
        if progress is not None:
            progress.finish()
    checkpoint.done = True
    checkpoint.save()
    dropped = ", ".join(f"{n:,} {reason}" for reason, n in sorted(checkpoint.dropped.items()))
    left_out = (
        f"; left out {checkpoint.left_out:,} (POSTHOG_EVENTS, POSTHOG_EXCLUDE_EVENTS, serve's "
        "audit events)"
        if checkpoint.left_out
        else ""
    )
    print(
        f"{PROG}: sent {checkpoint.sent:,} events to {settings.host}"
        + (f"; dropped {dropped}" if dropped else "")
        + left_out,
        file=sys.stderr,
    )
    return 0


def event_choice(settings: PostHogSettings) -> str | None:
    """Which events a walk sends (``POSTHOG_EVENTS``, ``POSTHOG_EXCLUDE_EVENTS``); None for
    every event, so walks started before the choice counted keep their checkpoints."""
    if settings.include == ("*",) and not settings.exclude:
        return None
    return f"{','.join(settings.include)} except {','.join(settings.exclude) or 'none'}"


def event_record(event: StoredEvent) -> EventRecord:
    from ..posthog import EventRecord

    return EventRecord(
        event["name"],
        event["time_ns"],
        event["trace_id"],
        event["span_id"],
        event["attributes"],
        event["service"],
        event["service_version"],
        turn=event["turn"],
    )


def project_fingerprint(api_key: str) -> str:
    """Which PostHog project, without the key: the start of the key's SHA-256."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Walk:
    """What a backfill walks: to which host and project, over which window (``--since`` and
    ``--until`` as given, so that the same command finds its walk again whenever it runs),
    and which events (``event_choice``): another choice walks again, sending what the last
    one left out."""

    host: str
    project: str  # project_fingerprint of the API key
    since: str | None
    until: str | None
    events: str | None = None

    @property
    def name(self) -> str:
        """A short name for the walk's checkpoint file."""
        fields: list[str | None] = [self.host, self.project, self.since, self.until]
        if self.events is not None:
            fields.append(self.events)
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:12]

    def __str__(self) -> str:
        window = " ".join(
            f"--{bound} {value}"
            for bound, value in (("since", self.since), ("until", self.until))
            if value
        )
        events = f", events {self.events}" if self.events is not None else ""
        return f"to {self.host} (project {self.project[:8]}, {window or 'all history'}{events})"


def checkpoint_path(store: Path | ClickHouseLocation, walk: Walk) -> Path:
    """Next to the store file, one per walk; for ClickHouse (no file of ours), under
    .bot-telemetry/ named by the server and database."""
    suffix = f".posthog-backfill.{walk.name}.json"
    if isinstance(store, ClickHouseLocation):
        name = f"clickhouse-{store.host}-{store.port}-{store.tables.database}"
        return DEFAULT_STORE.parent / f"{name}{suffix}"
    return store.with_name(store.name + suffix)


@dataclasses.dataclass
class Checkpoint:
    """Where a backfill is: what it walks, its fixed window, the last event PostHog took,
    what was sent."""

    path: Path
    walk: Walk
    since_ns: int
    until_ns: int
    after: tuple[int, str] | None = None
    sent: int = 0
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    done: bool = False
    left_out: int = 0  # events the walk's choice of events does not send

    @property
    def handled(self) -> int:
        return self.sent + sum(self.dropped.values()) + self.left_out

    @classmethod
    def start(cls, path: Path, walk: Walk, window: TimeWindow) -> Checkpoint:
        # The end is fixed now: events stored later are the live forwarder's. Whole
        # milliseconds, as the window travels to a running serve.
        until = min(window.end_ns, time.time_ns())
        return cls(path, walk, _whole_ms(window.start_ns), _whole_ms(until))

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            found = json.loads(path.read_text())
            after = found.get("after")
            walk = Walk(
                str(found["host"]),
                str(found["project"]),
                _optional_text(found.get("since")),
                _optional_text(found.get("until")),
                _optional_text(found.get("events")),
            )
            return cls(
                path,
                walk,
                int(found["since_ns"]),
                int(found["until_ns"]),
                (int(after[0]), str(after[1])) if after else None,
                int(found.get("sent", 0)),
                {str(k): int(v) for k, v in found.get("dropped", {}).items()},
                bool(found.get("done", False)),
                int(found.get("left_out", 0)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            raise CommandError(
                f"the checkpoint {path} is unreadable ({error}); pass --restart to start over"
            ) from error

    def save(self) -> None:
        data = {
            "host": self.walk.host,
            "project": self.walk.project,
            "since": self.walk.since,
            "until": self.walk.until,
            "events": self.walk.events,
            "since_ns": self.since_ns,
            "until_ns": self.until_ns,
            "after": list(self.after) if self.after else None,
            "sent": self.sent,
            "dropped": self.dropped,
            "done": self.done,
            "left_out": self.left_out,
        }
        # Written whole or not at all: an interrupted backfill must find a readable one.
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps(data))
        os.replace(partial, self.path)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _whole_ms(nanoseconds: int) -> int:
    return nanoseconds // 1_000_000 * 1_000_000


class Progress:
    """One status line on stderr: a bar on a terminal, a line per tenth elsewhere.

    Our own (ten lines) rather than a dependency for one line of output.
    """

    WIDTH = 30

    def __init__(self, first: int, total: int, out: IO[str]) -> None:
        self.first = first  # handled by earlier runs: not part of this run's rate
        self.total = max(total, 0)
        self.out = out
        self.started = time.monotonic()
        self.terminal = out.isatty()
        self._tenth = -1

    def show(self, done: int) -> None:
        share = done / self.total if self.total else 1.0
        rate = (done - self.first) / max(time.monotonic() - self.started, 1e-6)
        filled = int(share * self.WIDTH)
        line = (
            f"posthog backfill [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{done:,}/{self.total:,} events ({share:.0%}, {rate:,.0f}/s)"
        )
        if self.terminal:
            self.out.write("\r" + line)
            self.out.flush()
        elif int(share * 10) > self._tenth:
            self._tenth = int(share * 10)
            print(line, file=self.out, flush=True)

    def finish(self) -> None:
        if self.terminal:
            self.out.write("\n")
            self.out.flush()
