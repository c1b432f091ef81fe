"""Dependencies reported to the conversation as ``trace`` activities.

This is what the Bot Framework Emulator shows in its inspector: one trace activity per
dependency call, named after the component (``Recognizer``, ``QnA``, ``Storage``,
``Middleware``), labelled with the call's span name, carrying ``DEPENDENCY_VALUE_TYPE``
and a value with name, target, duration (ms), success, result code, trace id and span id.

botbuilder's adapters (CloudAdapter, BotFrameworkAdapter) and the Agents SDK's drop trace
activities on every channel but the Emulator; the default ``TraceActivities.EMULATOR``
does the same before the activity is built, so other channels pay nothing. ``ALL`` hands
every trace activity to the adapter and lets it decide (transcript loggers and
``TestAdapter`` then see them); ``OFF`` sends none. ``BOT_TELEMETRY_TRACE_ACTIVITIES``
sets the default.
"""

from __future__ import annotations

import contextvars
import logging
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ..privacy import PrivacyPolicy
from ..signals.activities import channel_name
from ..signals.turn_context import TurnContextLike

#: ``valueType`` of our trace activities, so a transcript reader can tell them apart.
DEPENDENCY_VALUE_TYPE: Final = "urn:bot-telemetry:dependency:1"
TRACE_ACTIVITIES_ENV: Final = "BOT_TELEMETRY_TRACE_ACTIVITIES"
EMULATOR_CHANNEL: Final = "emulator"

#: The fields of a report: ours, none of them personal (the dependency's name and target are
#: the developer's constants, the result code a status or an exception's type).
REPORT_KEYS: Final = frozenset(
    {"name", "target", "duration", "success", "resultCode", "traceId", "spanId"}
)

_log = logging.getLogger(__name__)
# Set while a trace activity is being sent: a dependency called by a send handler (a
# transcript store, say) must not send one of its own, or sending would never end.
_sending: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "bot_telemetry_sending_trace", default=False
)


class TraceActivities(StrEnum):
    """Where dependency trace activities go."""

    OFF = "off"
    EMULATOR = "emulator"
    ALL = "all"

    @classmethod
    def resolve(cls, choice: TraceActivities | str | None) -> TraceActivities:
        """``choice``, or the ``BOT_TELEMETRY_TRACE_ACTIVITIES`` default when it is None.

        >>> TraceActivities.resolve("off")
        <TraceActivities.OFF: 'off'>
        """
        if choice is None:
            choice = os.environ.get(TRACE_ACTIVITIES_ENV, "").strip().lower() or cls.EMULATOR
        try:
            return cls(choice)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in cls)
            raise ValueError(
                f"trace_activities must be one of {allowed} (or None for "
                f"${TRACE_ACTIVITIES_ENV}), got {choice!r}"
            ) from None


@dataclass(frozen=True)
class DependencyReport:
    """One finished dependency call, as the trace activity reports it."""

    component: str
    name: str
    target: str
    duration_ms: float
    success: bool
    result_code: str
    trace_id: str
    span_id: str

    def value(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "duration": round(self.duration_ms, 3),
            "success": self.success,
            "resultCode": self.result_code,
            "traceId": self.trace_id,
            "spanId": self.span_id,
        }


def wants_trace(turn_context: TurnContextLike, mode: TraceActivities) -> bool:
    """Whether a trace activity sent now in this turn would go anywhere (checked before a
    report is built, so channels that drop trace activities cost nothing)."""
    if mode is TraceActivities.OFF or _sending.get():
        return False
    # The same test as both runtimes' adapters: the whole channel id (the Agents SDK's
    # ChannelId is a str subclass, compared as a string).
    channel = channel_name(getattr(turn_context.activity, "channel_id", None))
    return mode is not TraceActivities.EMULATOR or channel == EMULATOR_CHANNEL


async def send_dependency_trace(
    turn_context: TurnContextLike,
    report: DependencyReport,
    mode: TraceActivities,
    policy: PrivacyPolicy,
) -> bool:
    """Send ``report`` to the conversation; True if it was handed to the adapter.

    Never raises: a trace activity that cannot be sent is logged and forgotten.
    """
    try:
        if not wants_trace(turn_context, mode):
            return False
        token = _sending.set(True)
        try:
            await turn_context.send_trace_activity(
                report.component,
                value=policy.apply(report.value(), REPORT_KEYS),
                value_type=DEPENDENCY_VALUE_TYPE,
                label=report.name,
            )
        finally:
            _sending.reset(token)
        return True
    except Exception:  # a trace activity must never fail the turn
        _log.warning("could not send the trace activity for %r", report.name, exc_info=True)
        return False
