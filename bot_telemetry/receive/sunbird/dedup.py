"""De-duplication within a time window: an event's key (its ``mid`` with the actor and the
device, since ``mid``s from different users may collide) and a bundle's key are remembered for
``window`` seconds once their rows are committed.

A request first ``classify``s its keys: new, duplicate, or held by another request that is
still writing them (then it waits for that one's ``Ticket`` and asks again, so two senders of
the same event never both store it, and a write that fails leaves the key free for a retry).
It ``reserve``s its new keys, writes, then ``commit``s (or ``release``s on failure).
The store is idempotent as well (a row's id is derived from the same key), so a repeat
older than the window, or from before a restart, is still stored once.

    window = DedupWindow(3600)
    new, duplicates, busy = window.classify(["a", "b", "a"])   # [0, 1], 1, set()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

DEFAULT_WINDOW_SECONDS = 3600.0
#: Keys remembered at most; past that the oldest are forgotten (the store still refuses
#: their repeats), so memory stays bounded whatever the traffic.
DEFAULT_MAX_KEYS = 1_000_000


@dataclass(eq=False)
class Ticket:
    """Keys one request reserved; ``done`` is set once they are committed or released."""

    keys: list[Hashable]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class DedupWindow:
    """Remembers committed keys for ``window_seconds``; used from one thread (the event loop)."""

    def __init__(
        self,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_seconds < 0:
            raise ValueError("the de-duplication window must not be negative")
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        # key -> expiry; insertion order is expiry order (one window for all keys).
        self._committed: dict[Hashable, float] = {}
        self._pending: dict[Hashable, Ticket] = {}
        self.duplicates = 0
        self.forgotten = 0

    def __len__(self) -> int:
        return len(self._committed)

    def classify(self, keys: Sequence[Hashable]) -> tuple[list[int], int, set[Ticket]]:
        """Indices of new keys, how many are duplicates, and the tickets of other requests
        still writing some of them (wait for those, then classify again)."""
        self._expire()
        committed, pending = self._committed, self._pending
        new: list[int] = []
        duplicates = 0
        busy: set[Ticket] = set()
        seen: set[Hashable] = set()
        for index, key in enumerate(keys):
            if key in seen or key in committed:
                duplicates += 1
                continue
            ticket = pending.get(key)
            if ticket is not None:
                busy.add(ticket)
                continue
            seen.add(key)
            new.append(index)
        return new, duplicates, busy

    def is_duplicate(self, key: Hashable) -> bool:
        self._expire()
        return key in self._committed

    def is_busy(self, key: Hashable) -> Ticket | None:
        return self._pending.get(key)

    def reserve(self, keys: list[Hashable]) -> Ticket:
        ticket = Ticket(keys)
        for key in keys:
            self._pending[key] = ticket
        return ticket

    def commit(self, ticket: Ticket) -> None:
        """The ticket's rows are stored: remember its keys for the window."""
        expiry = self._clock() + self.window_seconds
        for key in ticket.keys:
            self._pending.pop(key, None)
            if self.window_seconds > 0:
                self._committed[key] = expiry
        while len(self._committed) > self.max_keys:
            del self._committed[next(iter(self._committed))]
            self.forgotten += 1
        ticket.done.set()

    def release(self, ticket: Ticket) -> None:
        """The ticket's rows were not stored: its keys are free for a retry."""
        for key in ticket.keys:
            if self._pending.get(key) is ticket:
                del self._pending[key]
        ticket.done.set()

    def _expire(self) -> None:
        committed = self._committed
        if not committed:
            return
        now = self._clock()
        while committed:
            oldest = next(iter(committed))
            if committed[oldest] > now:
                break
            del committed[oldest]
