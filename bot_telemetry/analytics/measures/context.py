"""Context dimensions: what a request's ``context`` may narrow a measure to, and how.

    {"context": {"channelId": ["msteams"], "dialogId": ["BookingDialog"]}}

A measure counts rows of one relation, its **subject** (turns, events, spans, ...). A
dimension applies to it in one of two ways:

* **a column of the subject** (``turns.channel_id``, an event's ``DialogId``): the row's own
  value must be in the list;
* **through the turn** the row belongs to (its trace): the turn must have the value — its
  channel, user, locale; a waterfall event of the dialog; a recognized intent; a call to the
  dependency. So ``dialogId`` narrows active users to those whose turns ran that dialog.

A subject without a trace (client events not linked to a turn) takes only its columns; any
other dimension is refused with a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ... import contract
from ...store.database import KIND_CLIENT, KIND_PRODUCER

CHANNEL_ID: Final = "channelId"
CONVERSATION_ID: Final = "conversationId"
USER_ID: Final = "userId"
SERVICE_NAME: Final = "serviceName"
SERVICE_VERSION: Final = "serviceVersion"
DIALOG_ID: Final = "dialogId"
INTENT: Final = "intent"
LOCALE: Final = "locale"
DEPENDENCY: Final = "dependency"

#: Every context dimension, in the order the docs and errors list them.
DIMENSIONS: Final = (
    CHANNEL_ID,
    CONVERSATION_ID,
    USER_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
    DIALOG_ID,
    INTENT,
    LOCALE,
    DEPENDENCY,
)


def parameter(dimension: str) -> str:
    """The ``$name`` a dimension's list of values is passed as."""
    return f"context_{dimension}"


def _values(dimension: str) -> str:
    return f"(SELECT unnest(${parameter(dimension)}))"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


_LUIS_OURS: Final = f"name LIKE '{contract.LUIS_INTENT_PREFIX}%'"
_LUIS_BOTBUILDERS: Final = f"name = '{contract.BOTBUILDER_LUIS_RESULT}'"
_QNA_OURS: Final = f"name = '{contract.QNA_MESSAGE}'"
_QNA_BOTBUILDERS: Final = f"name = '{contract.BOTBUILDER_QNA_MESSAGE}'"

#: Events that report a recognizer's result (ours, ``LuisIntent.<Intent>``, and
#: botbuilder-ai's ``LuisResult``): what a turn recognized, whichever recorded it.
INTENT_EVENT_CONDITION: Final = f"({_LUIS_OURS} OR {_LUIS_BOTBUILDERS})"
#: Event names a Q&A result is recorded under (ours and botbuilder-ai's).
QNA_EVENT_NAMES: Final = _names((contract.QNA_MESSAGE, contract.BOTBUILDER_QNA_MESSAGE))


def _once(ours: str, botbuilders: str) -> str:
    # A bot that wraps botbuilder-ai's LuisRecognizer or QnAMaker (TelemetryRecognizer,
    # TelemetryQnA) and also gives it a telemetry client, as a migrating bot does, records
    # two events of one result on the same dependency span: botbuilder-ai's and ours. Where
    # results are counted, botbuilder-ai's event counts only where no event of ours is on its
    # span (a bot without the wrapper records botbuilder-ai's alone). Ours is recorded after
    # botbuilder-ai's, in the same call, so the window's events and a minute past it will do.
    return (
        f"({ours} OR ({botbuilders} AND (span_id IS NULL OR span_id NOT IN "
        f"(SELECT span_id FROM events WHERE {ours} AND span_id IS NOT NULL "
        f"AND time_ns >= $start AND time_ns < $end + {_AFTER_NS}))))"
    )


_AFTER_NS: Final = 60 * 1_000_000_000

#: Each recognizer result once: ``INTENT_EVENT_CONDITION`` without botbuilder-ai's copy of
#: a result of ours. What counts turns (fallbackRate, the intent filter) needs no such care.
INTENT_RESULT_CONDITION: Final = _once(_LUIS_OURS, _LUIS_BOTBUILDERS)
#: Each Q&A result once (``QnAMessage``, or ``QnaMessage`` without a ``QnAMessage`` beside it).
QNA_RESULT_CONDITION: Final = _once(_QNA_OURS, _QNA_BOTBUILDERS)
WATERFALL_EVENT_NAMES: Final = _names(contract.WATERFALL_EVENTS)

#: The turns that have a value of each dimension, as their ``{key}`` (``trace_key``, the
#: integer a join is fast on, or ``trace_id``).
_TURN_TRACES: Final = {
    CHANNEL_ID: f"SELECT {{key}} FROM turns WHERE channel_id IN {_values(CHANNEL_ID)}",
    CONVERSATION_ID: (
        f"SELECT {{key}} FROM turns WHERE conversation_id IN {_values(CONVERSATION_ID)}"
    ),
    USER_ID: f"SELECT {{key}} FROM turns WHERE user_id IN {_values(USER_ID)}",
    SERVICE_NAME: f"SELECT {{key}} FROM turns WHERE service_name IN {_values(SERVICE_NAME)}",
    SERVICE_VERSION: (
        f"SELECT {{key}} FROM turns WHERE service_version IN {_values(SERVICE_VERSION)}"
    ),
    LOCALE: f"SELECT {{key}} FROM turns WHERE locale IN {_values(LOCALE)}",
    DIALOG_ID: (
        f"SELECT {{key}} FROM events WHERE name IN ({WATERFALL_EVENT_NAMES}) "
        f"AND dialog_id IN {_values(DIALOG_ID)}"
    ),
    INTENT: (
        f"SELECT {{key}} FROM events WHERE {INTENT_EVENT_CONDITION} AND intent IN {_values(INTENT)}"
    ),
    DEPENDENCY: (
        f"SELECT {{key}} FROM spans WHERE kind IN ({KIND_CLIENT}, {KIND_PRODUCER}) "
        f"AND peer IN {_values(DEPENDENCY)}"
    ),
}


@dataclass(frozen=True)
class Subject:
    """The rows a measure counts: the SQL expression per dimension that is the row's own
    value, and the column holding their trace (None: not tied to turns)."""

    #: What the rows are, for the docs: "turns", "BotMessageReceived events", ...
    doc: str
    columns: Mapping[str, str] = field(default_factory=dict)
    #: The column tying a row to its turn: ``trace_key`` where the relation has it.
    trace: str | None = "trace_key"
    #: Conditions for dimensions the rows answer without being a column, with ``{values}``
    #: where the list goes.
    conditions: Mapping[str, str] = field(default_factory=dict)

    def with_columns(self, doc: str, **columns: str) -> Subject:
        """The same subject with more (or other) columns, described as ``doc``."""
        return Subject(doc, {**self.columns, **columns}, self.trace, self.conditions)

    def with_conditions(self, **conditions: str) -> Subject:
        """The same subject answering more dimensions by its rows' own conditions."""
        return Subject(self.doc, self.columns, self.trace, {**self.conditions, **conditions})

    def applies(self, dimension: str) -> bool:
        return dimension in self.columns or dimension in self.conditions or self.trace is not None

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(d for d in DIMENSIONS if self.applies(d))

    def how(self, dimension: str) -> str:
        """How the dimension narrows the subject, for the docs and the catalog."""
        return (
            "turn" if dimension not in self.columns and dimension not in self.conditions else "row"
        )

    def filters(self, context: Mapping[str, object]) -> str:
        """``AND ...`` conditions narrowing the subject to the context, for a WHERE clause
        over the subject's relation alone (its columns are not qualified)."""
        conditions = []
        for dimension in DIMENSIONS:
            if dimension not in context:
                continue
            column = self.columns.get(dimension)
            if column is not None:
                conditions.append(f"{column} IN {_values(dimension)}")
            elif dimension in self.conditions:
                conditions.append(self.conditions[dimension].format(values=_values(dimension)))
            elif self.trace is not None:
                turns = _TURN_TRACES[dimension].format(key=self.trace)
                conditions.append(f"{self.trace} IN ({turns})")
            else:
                raise ValueError(f"{dimension} does not apply to {self.doc}")
        return "".join(f" AND {condition}" for condition in conditions)


#: Turns: every dimension of the turn itself is a column.
TURNS: Final = Subject(
    "turns (bot.turn spans)",
    {
        CHANNEL_ID: "channel_id",
        CONVERSATION_ID: "conversation_id",
        USER_ID: "user_id",
        SERVICE_NAME: "service_name",
        SERVICE_VERSION: "service_version",
        LOCALE: "locale",
    },
)
#: Custom events recorded in a turn: they carry the turn's channel, conversation and user;
#: a dialog, an intent or a locale is the turn's (an event's own DialogId is only on
#: waterfall events; the dialog measures use it).
EVENTS: Final = Subject(
    "custom events",
    {
        CHANNEL_ID: "channel_id",
        CONVERSATION_ID: "conversation_id",
        USER_ID: "user_id",
        SERVICE_NAME: "service_name",
        SERVICE_VERSION: "service_version",
    },
)
#: Dependency calls: CLIENT/PRODUCER spans; the service is the caller's.
SPANS: Final = Subject(
    "dependency calls (CLIENT and PRODUCER spans)",
    {SERVICE_NAME: "service_name", DEPENDENCY: "peer"},
)
#: Exceptions recorded on spans (span events named ``exception``); the service is the span's.
SPAN_EVENTS: Final = Subject(
    "exceptions (span events named exception)",
    trace="trace_id",
    conditions={
        SERVICE_NAME: "span_id IN (SELECT span_id FROM spans WHERE service_name IN {values})"
    },
)
#: Client events (Sunbird v3 from a page or app): their conversation and actor only; many
#: are in no turn, so narrowing them through turns would silently drop those.
CLIENT_EVENTS: Final = Subject(
    "client events (Sunbird v3)",
    {
        CONVERSATION_ID: "conversation_id",
        USER_ID: "user_id",
        SERVICE_NAME: "service_name",
    },
    trace=None,
)
