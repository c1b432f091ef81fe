"""The bot's own metrics, for any runtime, recorded through the OpenTelemetry API.

    token = turn_started("msteams", "message")       # the middleware, at a turn's start
    message_sent("msteams", "message")                # each reply
    note_fallback(FALLBACK_NO_ANSWER)                 # the Q&A wrapper, on a miss
    turn_ended(token, error=None)                     # the turn's end: duration, fallback

The instruments are made once, here, from ``metrics.get_meter`` (``configure()`` installs a
re-pointable meter provider, so they follow every ``configure()``); names, units and
attributes are in ``contract.metrics``. Counts are kept by us — a dict increment under a
lock, about 0.2 µs — and reported by observable counters when the SDK collects (every export
interval): recording each through the SDK's synchronous counter cost 5-8 µs per add here,
several times per turn. Durations go to the SDK's histograms, but not on the turn's path
once ``configure()`` has a metric reader: a turn appends each to a bounded queue (about
0.2 µs) and the SDK records them into the histograms when it collects, on the reader's
thread, before it reads them (``Durations``); a histogram record costs 6-7 µs. Nothing here
raises into a turn.
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections.abc import Iterable
from contextvars import ContextVar, Token
from typing import Final, Literal

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from ..contract import (
    ATTR_ACTIVITY_TYPE,
    ATTR_CHANNEL_ID,
    ATTR_DEPENDENCY_COMPONENT,
    ATTR_DIALOG_ID,
    ATTR_DIALOG_OUTCOME,
    ATTR_ERROR_TYPE,
    ATTR_FALLBACK_REASON,
    ATTR_PEER_SERVICE,
    DURATION_BUCKETS_SECONDS,
    INSTRUMENT_PENDING_DURATIONS,
    METRIC_DEPENDENCY_DURATION,
    METRIC_DIALOG_RUNS,
    METRIC_MESSAGES_RECEIVED,
    METRIC_MESSAGES_SENT,
    METRIC_TURN_DURATION,
    METRIC_TURN_FALLBACKS,
    UNIT_MESSAGE,
    UNIT_RUN,
    UNIT_SECONDS,
    UNIT_TURN,
)

_log = logging.getLogger(__name__)
#: Distinct attribute sets one counter keeps; later ones are counted under
#: ``otel.metric.overflow`` (as the SDK does for its own instruments).
ATTRIBUTE_SETS_LIMIT: Final = 256
_OVERFLOW: Final = ("otel.metric.overflow",)
#: Durations of one attribute set that wait for the next collection (32,768: 546 a second
#: with the SDK's default 60 s interval, 256 KB), and attribute sets of a histogram that wait
#: (32: 8 MB at most, if the collections stop); beyond them a duration is recorded at once
#: (nothing is dropped: a turn then pays the SDK's 6-7 µs).
PENDING_LIMIT: Final = 32_768
PENDING_SETS_LIMIT: Final = 32

DurationsMode = Literal["at_once", "at_collection", "off"]
#: Durations go to the SDK's histogram as they happen (the default: exemplars want it).
AT_ONCE: Final = "at_once"
#: They wait until a reader collects (``configure()`` with a reader, no exemplars).
AT_COLLECTION: Final = "at_collection"
#: No reader: nothing would be exported, so nothing is recorded.
OFF: Final = "off"


class Tally:
    """Counts per attribute set, read by an observable counter at each collection."""

    def __init__(self, keys: tuple[str, ...], limit: int = ATTRIBUTE_SETS_LIMIT):
        self.keys = keys
        self.limit = limit
        self._counts: dict[tuple[str | None, ...], int] = {}
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            counts = self._counts
            if values in counts:
                counts[values] += 1
            elif len(counts) < self.limit:
                counts[values] = 1
            else:
                counts[_OVERFLOW] = counts.get(_OVERFLOW, 0) + 1

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            found = list(self._counts.items())
        for values, count in found:
            if values == _OVERFLOW:
                yield Observation(count, {_OVERFLOW[0]: True})
            else:
                attributes = {k: v for k, v in zip(self.keys, values, strict=True) if v is not None}
                yield Observation(count, attributes)

    def counts(self) -> dict[tuple[str | None, ...], int]:
        """What was counted so far, by attribute values (for tests and the benchmark)."""
        with self._lock:
            return dict(self._counts)


class Durations:
    """A histogram whose durations wait, per attribute set, until the SDK collects.

    ``record`` appends the duration to its attribute set's ``array('d')`` (8 bytes, about
    0.2 µs); ``record_pending``, called back by the SDK at each collection before it reads
    the histograms, records them into the real histogram on the collecting thread: the same
    values, attributes and buckets as recording each at once, but off the turn's path. The
    measurements reach every reader's storage, so several readers each see each duration.
    Only while ``configure()`` says a reader collects and no exemplars are wanted (an
    exemplar needs the turn's span as the current context): ``mode`` is AT_COLLECTION.
    Bounded: at most ``sets_limit`` attribute sets of ``limit`` durations each wait (8 MB);
    beyond that, or while the collections lag, a duration is recorded at once, as before —
    a turn pays the SDK's 6-7 µs but nothing is dropped.
    """

    def __init__(
        self,
        histogram: metrics.Histogram,
        keys: tuple[str, ...],
        limit: int = PENDING_LIMIT,
        sets_limit: int = PENDING_SETS_LIMIT,
    ):
        self.histogram = histogram
        self.keys = keys
        self.limit = limit
        self.sets_limit = sets_limit
        #: ``configure()`` sets it: AT_ONCE, AT_COLLECTION or OFF.
        self.mode: DurationsMode = AT_ONCE
        self._pending: dict[tuple[str | None, ...], array[float]] = {}
        self._attributes: dict[tuple[str | None, ...], dict[str, str]] = {}
        self._collecting = threading.Lock()

    def record(self, seconds: float, values: tuple[str | None, ...]) -> None:
        """Record a duration with its attribute values (``None``: the attribute is left out)."""
        mode = self.mode
        if mode is AT_COLLECTION:
            waiting = self._pending.get(values)
            if waiting is None and len(self._pending) < self.sets_limit:
                waiting = self._pending.setdefault(values, array("d"))
            # setdefault, an append and the collector's ``del waiting[:n]`` are each one C
            # call under the GIL, no lock on the turn's path: a duration appended while the
            # collector records stays for the next collection.
            if waiting is not None and len(waiting) < self.limit:
                waiting.append(seconds)
                return
        elif mode is OFF:
            return
        self.histogram.record(seconds, self.attributes(values))

    def record_pending(self) -> int:
        """Record what waits into the histogram; how many were recorded."""
        recorded = 0
        with self._collecting:  # one collector at a time (a reader's thread, or shutdown)
            for values, waiting in list(self._pending.items()):
                count = len(waiting)  # only what waited when called: turns keep appending
                if count:
                    attributes = self.attributes(values)
                    for seconds in waiting[:count]:
                        self.histogram.record(seconds, attributes)
                    del waiting[:count]
                    recorded += count
        return recorded

    def pending(self) -> int:
        """How many durations wait for the next collection."""
        return sum(len(waiting) for waiting in list(self._pending.values()))

    def attributes(self, values: tuple[str | None, ...]) -> dict[str, str]:
        # One dict per attribute set (the SDK copies it): the limit bounds the cache only.
        found = self._attributes.get(values)
        if found is None:
            found = {k: v for k, v in zip(self.keys, values, strict=True) if v is not None}
            if len(self._attributes) < ATTRIBUTE_SETS_LIMIT:
                self._attributes[values] = found
        return found


#: The instrumentation scope of the bot's metrics.
SCOPE: Final = "bot_telemetry.signals"
_meter = metrics.get_meter(SCOPE)

TURN_DURATION = Durations(
    _meter.create_histogram(
        METRIC_TURN_DURATION,
        unit=UNIT_SECONDS,
        description="How long each turn took: the bot's logic for one activity",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS_SECONDS,
    ),
    (ATTR_CHANNEL_ID, ATTR_ACTIVITY_TYPE, ATTR_ERROR_TYPE),
)
DEPENDENCY_DURATION = Durations(
    _meter.create_histogram(
        METRIC_DEPENDENCY_DURATION,
        unit=UNIT_SECONDS,
        description="How long each dependency call took; failed calls carry error.type",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS_SECONDS,
    ),
    (ATTR_PEER_SERVICE, ATTR_DEPENDENCY_COMPONENT, ATTR_ERROR_TYPE),
)
DURATIONS: Final = (TURN_DURATION, DEPENDENCY_DURATION)


def record_durations(mode: DurationsMode) -> None:
    """How durations are recorded from now on: ``AT_COLLECTION`` when a metric reader
    collects them and no exemplars are wanted, ``AT_ONCE`` (exemplars, or a meter provider
    set up without ``configure()``) or ``OFF`` (no reader: the meters are no-ops)."""
    for durations in DURATIONS:
        durations.mode = mode


def record_pending_durations() -> int:
    """Record every waiting duration into its histogram now (``Telemetry.shutdown`` does,
    before the meter provider's readers shut down); how many."""
    recorded = 0
    for durations in DURATIONS:
        try:
            recorded += durations.record_pending()
        except Exception:
            _log.warning("could not record waiting durations", exc_info=True)
    return recorded


def _record_pending(options: CallbackOptions) -> Iterable[Observation]:
    record_pending_durations()
    return ()


# Called back first at each collection, on the collecting thread, before the SDK reads its
# storages (SynchronousMeasurementConsumer.collect); it observes nothing.
_meter.create_observable_gauge(INSTRUMENT_PENDING_DURATIONS, [_record_pending])
RECEIVED = Tally((ATTR_CHANNEL_ID, ATTR_ACTIVITY_TYPE))
SENT = Tally((ATTR_CHANNEL_ID, ATTR_ACTIVITY_TYPE))
FALLBACKS = Tally((ATTR_CHANNEL_ID, ATTR_FALLBACK_REASON))
DIALOG_RUNS = Tally((ATTR_DIALOG_ID, ATTR_DIALOG_OUTCOME))
_meter.create_observable_counter(
    METRIC_MESSAGES_RECEIVED,
    [RECEIVED.observe],
    unit=UNIT_MESSAGE,
    description="Activities the bot received",
)
_meter.create_observable_counter(
    METRIC_MESSAGES_SENT,
    [SENT.observe],
    unit=UNIT_MESSAGE,
    description="Activities the bot sent (typing and trace activities left out)",
)
_meter.create_observable_counter(
    METRIC_TURN_FALLBACKS,
    [FALLBACKS.observe],
    unit=UNIT_TURN,
    description="Turns where the top intent was None or scored low, or the Q&A had no answer",
)
_meter.create_observable_counter(
    METRIC_DIALOG_RUNS,
    [DIALOG_RUNS.observe],
    unit=UNIT_RUN,
    description="Waterfall dialog runs started, completed and cancelled",
)


class TurnMarks:
    """What the metrics need to know about the turn in progress."""

    __slots__ = ("activity_type", "channel", "error_type", "fallback", "started_ns")

    def __init__(self, channel: str | None, activity_type: str | None):
        self.channel = channel
        self.activity_type = activity_type
        self.fallback: str | None = None
        #: Set when a runtime's error handler swallowed the turn's exception.
        self.error_type: str | None = None
        self.started_ns = time.perf_counter_ns()


_turn: ContextVar[TurnMarks | None] = ContextVar("bot_telemetry_turn_marks", default=None)


def turn_started(
    channel: str | None, activity_type: str | None, *, received: bool = True
) -> Token[TurnMarks | None]:
    """Count the activity received (unless the bot made it up: a proactive turn) and start
    timing its turn."""
    if received:
        RECEIVED.add(channel, activity_type)
    return _turn.set(TurnMarks(channel, activity_type))


def turn_ended(token: Token[TurnMarks | None], error: BaseException | None = None) -> None:
    """Record the turn's duration (and whether it fell back); call where it started."""
    marks = _turn.get()
    try:
        _turn.reset(token)
    except ValueError:  # ended in another context than it started: nothing to undo
        pass
    if marks is None:
        return
    try:
        seconds = (time.perf_counter_ns() - marks.started_ns) / 1e9
        failure = error_type(error) if error is not None else marks.error_type
        TURN_DURATION.record(seconds, (marks.channel, marks.activity_type, failure))
        if marks.fallback is not None:
            FALLBACKS.add(marks.channel, marks.fallback)
    except Exception:
        _log.warning("could not record the turn's metrics", exc_info=True)


def note_turn_failed(error: BaseException) -> None:
    """The turn in progress failed though its exception was handled before the turn's
    middleware saw it (the Agents SDK's ``@app.error``)."""
    marks = _turn.get()
    if marks is not None:
        marks.error_type = error_type(error)


def note_turn_error_type(kind: str) -> None:
    """The turn in progress failed without an exception (an invoke answered with a server
    error): ``kind`` is its ``error.type``."""
    marks = _turn.get()
    if marks is not None:
        marks.error_type = kind


def message_sent(channel: str | None, activity_type: str | None) -> None:
    SENT.add(channel, activity_type)


def note_fallback(reason: str) -> None:
    """The turn in progress fell back (its first reason is kept); outside a turn, the call
    that fell back is counted on its own."""
    marks = _turn.get()
    if marks is None:
        FALLBACKS.add(None, reason)
    elif marks.fallback is None:
        marks.fallback = reason


def dialog_event(dialog_id: str | None, outcome: str) -> None:
    DIALOG_RUNS.add(dialog_id, outcome)


def dependency_call_ended(
    peer: str, component: str, seconds: float, error: BaseException | None = None
) -> None:
    """Record one dependency call's duration; a failed one carries its error type."""
    try:
        failure = error_type(error) if error is not None else None
        DEPENDENCY_DURATION.record(seconds, (peer, component, failure))
    except Exception:
        _log.warning("could not record a dependency call's metrics", exc_info=True)


def error_type(error: BaseException) -> str:
    """The semantic conventions' error.type of an exception: its qualified type name."""
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
