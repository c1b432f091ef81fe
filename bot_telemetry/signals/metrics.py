"""The bot's own metrics, for any runtime, recorded through the OpenTelemetry API.

    token = turn_started("msteams", "message")       # the middleware, at a turn's start
    message_sent("msteams", "message")                # each reply
    note_fallback(FALLBACK_NO_ANSWER)                 # the Q&A wrapper, on a miss
    turn_ended(token, error=None)                     # the turn's end: duration, fallback

The instruments are made once, here, from ``metrics.get_meter`` (``configure()`` installs a
re-pointable meter provider, so they follow every ``configure()``); names, units and
attributes are in ``contract.metrics``. Durations are histograms recorded as they happen.
Counts are kept by us — a dict increment under a lock, about 0.2 µs — and reported by
observable counters when the SDK collects (every export interval): recording each through
the SDK's synchronous counter cost 5-8 µs per add here, several times per turn. Nothing here
raises into a turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar, Token
from typing import Final

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


_meter = metrics.get_meter("bot_telemetry.signals")

TURN_DURATION = _meter.create_histogram(
    METRIC_TURN_DURATION,
    unit=UNIT_SECONDS,
    description="How long each turn took: the bot's logic for one activity",
    explicit_bucket_boundaries_advisory=DURATION_BUCKETS_SECONDS,
)
DEPENDENCY_DURATION = _meter.create_histogram(
    METRIC_DEPENDENCY_DURATION,
    unit=UNIT_SECONDS,
    description="How long each dependency call took; failed calls carry error.type",
    explicit_bucket_boundaries_advisory=DURATION_BUCKETS_SECONDS,
)
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


def turn_started(channel: str | None, activity_type: str | None) -> Token[TurnMarks | None]:
    """Count the activity received and start timing its turn."""
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
        attributes: dict[str, str] = {}
        if marks.channel is not None:
            attributes[ATTR_CHANNEL_ID] = marks.channel
        if marks.activity_type is not None:
            attributes[ATTR_ACTIVITY_TYPE] = marks.activity_type
        if error is not None:
            attributes[ATTR_ERROR_TYPE] = error_type(error)
        elif marks.error_type is not None:
            attributes[ATTR_ERROR_TYPE] = marks.error_type
        TURN_DURATION.record(seconds, attributes)
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


_dependency_attributes: dict[tuple[str, str], dict[str, str]] = {}


def dependency_call_ended(
    peer: str, component: str, seconds: float, error: BaseException | None = None
) -> None:
    """Record one dependency call's duration; a failed one carries its error type."""
    try:
        key = (peer, component)
        attributes = _dependency_attributes.get(key)
        if attributes is None:
            attributes = {ATTR_PEER_SERVICE: peer, ATTR_DEPENDENCY_COMPONENT: component}
            if len(_dependency_attributes) < ATTRIBUTE_SETS_LIMIT:
                _dependency_attributes[key] = attributes
        if error is not None:
            attributes = {**attributes, ATTR_ERROR_TYPE: error_type(error)}
        DEPENDENCY_DURATION.record(seconds, attributes)
    except Exception:
        _log.warning("could not record a dependency call's metrics", exc_info=True)


def error_type(error: BaseException) -> str:
    """The semantic conventions' error.type of an exception: its qualified type name."""
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
