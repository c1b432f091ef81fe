"""When ``serve`` runs exhaust jobs: ``now`` (at start, as soon as one is submitted, and
every ``poll_seconds`` for jobs submitted from elsewhere), ``daily@HH:MM`` (local time, as UCI's
02:00 run), or ``off`` (``bot-telemetry exhaust run`` from cron does it).

The runner works on a thread of its own, never on the server's event loop. A job waiting to
retry after a failed attempt wakes the thread at its time, whatever the schedule (but ``off``):
a daily schedule then runs the retries only, not the jobs waiting for the day's run.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_log = logging.getLogger(__name__)
_DAILY = re.compile(r"daily@([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Schedule:
    mode: str  # "now", "daily", "off"
    at: dt.time | None = None

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``now``, ``off`` or ``daily@HH:MM``; ValueError saying which are understood."""
        if text in ("now", "off"):
            return cls(text)
        found = _DAILY.fullmatch(text)
        if found:
            return cls("daily", dt.time(int(found.group(1)), int(found.group(2))))
        raise ValueError(
            f"exhaust schedule {text!r}: use now, off or daily@HH:MM (e.g. daily@02:00)"
        )

    def next_run(self, after: dt.datetime) -> dt.datetime | None:
        """The next daily run after ``after`` (local time); None unless daily."""
        if self.mode != "daily" or self.at is None:
            return None
        candidate = after.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        return candidate if candidate > after else candidate + dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"daily@{self.at:%H:%M}" if self.mode == "daily" and self.at else self.mode


class Scheduler:
    """Calls ``run`` on a thread by the schedule; ``wake()`` after a submit or a retry made due.
    ``next_retry_ms`` says when the first retry is due (epoch ms, None for none); at that
    time ``now`` calls ``run`` and ``daily`` calls ``retries``."""

    def __init__(
        self,
        run: Callable[[], object],
        schedule: Schedule,
        poll_seconds: float = 60.0,
        *,
        retries: Callable[[], object] | None = None,
        next_retry_ms: Callable[[], int | None] | None = None,
    ):
        self._run = run
        self._retries = retries
        self._next_retry_ms = next_retry_ms
        self.schedule = schedule
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next = schedule.next_run(dt.datetime.now())

    def start(self) -> None:
        if self.schedule.mode == "off" or self._thread is not None:
            return
        if self.schedule.mode == "now":
            # Jobs the last run left submitted (stopped, killed, upgraded) run at once, not
            # after a poll: no submit will wake the runner for them.
            self._wake.set()
        self._thread = threading.Thread(
            target=self._loop, name="bot-telemetry-exhaust", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look now: under ``now`` every submitted job runs, under ``daily`` the retries due
        (a job made due by "retry now"); nothing under ``off`` (no thread)."""
        if self.schedule.mode != "off":
            self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._wait_seconds())
            self._wake.clear()
            if self._stop.is_set():
                return
            run: Callable[[], object] | None = self._run
            if self.schedule.mode == "daily" and not self._due():
                due = self._retry_in()
                run = self._retries if due is not None and due <= 0 else None
            if run is None:
                continue
            try:
                run()
            except Exception:
                _log.exception("the exhaust runner failed")

    def _wait_seconds(self) -> float:
        if self._next is not None:
            wait = max(0.5, (self._next - dt.datetime.now()).total_seconds())
        else:
            wait = self.poll_seconds
        retry = self._retry_in()
        if retry is not None:
            # Not sooner than half a second: a retry due now is run by this wake-up.
            wait = min(wait, max(0.5, retry))
        return wait

    def _retry_in(self) -> float | None:
        """Seconds until the first retry is due (0 or less: due), None when none waits."""
        if self._next_retry_ms is None:
            return None
        try:
            at = self._next_retry_ms()
        except Exception:
            _log.exception("could not read when the next exhaust retry is due")
            return None
        return None if at is None else (at - time.time_ns() // 1_000_000) / 1000

    def _due(self) -> bool:
        # A daily run, once its time has come (however late the thread woke).
        now = dt.datetime.now()
        if self._next is None or now < self._next:
            return False
        self._next = self.schedule.next_run(now)
        return True


__all__ = ["Schedule", "Scheduler"]
