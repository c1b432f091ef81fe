"""Conversations: the list, and one conversation's turns as an annotated transcript.

A turn is a ``bot.turn`` span (it carries ``activity.conversation.id``). Everything below it in
its trace belongs to the turn, across services: the recognizer's and Q&A's calls, their own
server spans, storage, the reply sent back to the channel. Custom events come from log records
(the source of truth; their span-event copies are not counted again) and are tied to a turn
through the span they were recorded in. Message text appears only when the bot's privacy
policy let it be recorded.
"""

from __future__ import annotations

from typing import Any, TypedDict

from .. import contract
from ..store.database import KIND_CLIENT, KIND_CONSUMER, KIND_PRODUCER, KIND_SERVER, STATUS_ERROR
from ..store.engine import Engine
from .client_events import ClientEventNote, conversation_notes
from .json_values import attribute_number, load_object
from .query import Query
from .traces import iso
from .window import EVERYTHING, FIRST_STEP_NS, TimeWindow, latest_first

TURN_SPAN = contract.TURN_SPAN_NAME
_CALLEES = (KIND_SERVER, KIND_CONSUMER)


class ConversationSummary(TypedDict):
    conversation_id: str
    channel_id: str | None
    first: str
    last: str
    turns: int
    failed_turns: int


# A failed turn is one whose trace has a failed span. The failed spans are few: they are
# found first, on their own, and the turns matched against them; restricting them to the
# window's turns first (a semi-join on a million trace ids at 10M spans) cost more than it
# saved.
CONVERSATIONS = Query(
    "conversations.list",
    f"""
WITH recent AS (
    SELECT trace_id, conversation_id, channel_id, start_ns, end_ns FROM turns
    WHERE conversation_id IS NOT NULL AND start_ns >= $start AND start_ns < $end
      AND conversation_id IN (SELECT unnest($conversations))
), failing AS (
    SELECT DISTINCT trace_id FROM spans WHERE status_code = {STATUS_ERROR}
)
SELECT conversation_id, min(channel_id) AS channel, min(start_ns) AS first_ns,
       max(end_ns) AS last_ns, count(*) AS turns,
       count(*) FILTER (WHERE trace_id IN (SELECT trace_id FROM failing)) AS failed_turns
FROM recent GROUP BY conversation_id
ORDER BY max(start_ns) DESC, conversation_id LIMIT $limit
""",
)


LATEST_TURN = Query(
    "conversations.latest",
    """SELECT max(start_ns) AS latest_ns FROM turns
       WHERE conversation_id IS NOT NULL AND start_ns >= $start AND start_ns < $end""",
)
MOST_RECENT = Query(
    "conversations.most_recent",
    """SELECT conversation_id FROM turns
       WHERE conversation_id IS NOT NULL AND start_ns >= $start AND start_ns < $end
       GROUP BY conversation_id ORDER BY max(start_ns) DESC, conversation_id LIMIT $limit""",
)


def list_conversations(
    engine: Engine,
    window: TimeWindow = EVERYTHING,
    limit: int = 100,
    *,
    step_ns: int = FIRST_STEP_NS,
) -> list[ConversationSummary]:
    """Conversations with a turn in the window, most recently active first.

    Which conversations come first is decided by their latest turns, so it is found in the
    window's last minutes (``window.latest_first``: the first stretch holding ``limit`` of
    them; a conversation with no turn there was last active before every one that has);
    only those conversations are then summed over the whole window.
    """
    latest = LATEST_TURN.run(engine, **window.bounds).scalar()
    if latest is None or limit <= 0:
        return []
    stretches = latest_first(window, latest, step_ns)
    stretch = next(stretches)
    while True:
        chosen = [row[0] for row in MOST_RECENT.run(engine, limit=limit, **stretch.bounds)]
        if len(chosen) >= limit or stretch == window:
            break
        stretch = stretches.send(len(chosen) / limit)
    if not chosen:
        return []
    rows = CONVERSATIONS.run(engine, conversations=chosen, limit=limit, **window.bounds)
    return [
        ConversationSummary(
            conversation_id=conversation,
            channel_id=channel,
            first=iso(first),
            last=iso(last),
            turns=turns,
            failed_turns=failed,
        )
        for conversation, channel, first, last, turns, failed in rows
    ]


class Intent(TypedDict):
    intent: str
    score: float | None


class Answer(TypedDict):
    answer: str | None
    score: float | None
    article_found: bool | None


class Dependency(TypedDict):
    source: str
    target: str
    name: str
    duration_ms: float
    failed: bool


class Failure(TypedDict):
    service: str
    name: str
    message: str | None


class Turn(TypedDict):
    trace_id: str
    start: str
    duration_ms: float
    activity_id: str | None
    activity_type: str | None
    #: What an invoke or event activity named (``adaptiveCard/action``, ``task/fetch``).
    activity_name: str | None
    #: The bot started the turn itself (a proactive message): no user said anything.
    proactive: bool
    channel_id: str | None
    text: str | None
    replies: list[str | None]
    #: Per reply (same order): ``"updated"`` or ``"deleted"`` when the bot later changed it
    #: (``update_activity``, ``delete_activity``, in this turn or a later one), else None.
    #: An updated reply's text is its last version's when that was recorded.
    reply_changes: list[str | None]
    intents: list[Intent]
    answers: list[Answer]
    events: list[str]
    dependencies: list[Dependency]
    failures: list[Failure]
    #: The page's own events in this turn's trace (client telemetry).
    client_events: list[ClientEventNote]


class Conversation(TypedDict):
    conversation_id: str
    turns: list[Turn]
    #: The page's events outside any turn's trace, each placed before ``before_turn``.
    client_events: list[ClientEventNote]


CONVERSATION_TURNS = Query(
    "conversations.turns",
    """SELECT trace_id, span_id FROM turns WHERE conversation_id = $conversation_id
       ORDER BY start_ns, span_id""",
)
CONVERSATION_SPANS = Query(
    "conversations.spans",
    """SELECT trace_id, span_id, parent_span_id, service_name, name, kind, start_ns,
              duration_ns, status_code, status_message, peer, attributes
       FROM spans WHERE trace_id IN (SELECT unnest($trace_ids)) ORDER BY start_ns, span_id""",
)
CONVERSATION_EVENTS = Query(
    "conversations.events",
    """SELECT trace_id, span_id, name, attributes FROM events
       WHERE trace_id IN (SELECT unnest($trace_ids)) ORDER BY time_ns, span_id, name""",
)


def get_conversation(engine: Engine, conversation_id: str) -> Conversation | None:
    """One conversation's turns in order, or None if no turn of it is stored."""
    turn_rows = CONVERSATION_TURNS.run(engine, conversation_id=conversation_id).rows
    if not turn_rows:
        return None
    trace_ids = sorted({row[0] for row in turn_rows})
    spans: dict[tuple[str, str], dict[str, Any]] = {}
    for row in CONVERSATION_SPANS.run(engine, trace_ids=trace_ids):
        keys = (
            "trace_id",
            "span_id",
            "parent",
            "service",
            "name",
            "kind",
            "start_ns",
            "duration_ns",
            "status",
            "message",
            "peer",
            "attributes",
        )
        span = dict(zip(keys, row, strict=True))
        spans[(span["trace_id"], span["span_id"])] = span
    turn_keys = [(trace_id, span_id) for trace_id, span_id in turn_rows]
    owner = _turn_owners(spans, set(turn_keys))
    turns = {key: _new_turn(spans[key]) for key in turn_keys}

    callee_of = {
        (span["trace_id"], span["parent"]): span["service"]
        for span in spans.values()
        if span["kind"] in _CALLEES and span["parent"]
    }
    for key, span in sorted(spans.items(), key=lambda item: item[1]["start_ns"]):
        turn = turns.get(owner.get(key, ("", "")))
        if turn is None:
            continue
        if span["kind"] in (KIND_CLIENT, KIND_PRODUCER):
            target = callee_of.get(key) or span["peer"]
            if target and target != span["service"]:
                turn["dependencies"].append(
                    Dependency(
                        source=span["service"],
                        target=target,
                        name=span["name"],
                        duration_ms=round(span["duration_ns"] / 1e6, 3),
                        failed=span["status"] == STATUS_ERROR,
                    )
                )
        if span["status"] == STATUS_ERROR:
            turn["failures"].append(
                Failure(service=span["service"], name=span["name"], message=span["message"])
            )

    sent: dict[str, tuple[Turn, int]] = {}
    for trace_id, span_id, event, attributes in CONVERSATION_EVENTS.run(
        engine, trace_ids=trace_ids
    ):
        turn = turns.get(owner.get((trace_id, span_id), ("", "")))
        if turn is not None:
            _annotate(turn, event, load_object(attributes), sent)
    ordered = [turns[key] for key in turn_keys]
    by_trace = {turn["trace_id"]: turn for turn in ordered}
    outside: list[ClientEventNote] = []
    starts = [spans[key]["start_ns"] for key in turn_keys]
    for note in conversation_notes(engine, conversation_id, trace_ids, starts):
        owner_turn = by_trace.get(note["trace_id"] or "")
        (owner_turn["client_events"] if owner_turn else outside).append(note)
    return Conversation(conversation_id=conversation_id, turns=ordered, client_events=outside)


def _turn_owners(
    spans: dict[tuple[str, str], dict[str, Any]], turn_keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str]]:
    """Each span's nearest ``bot.turn`` ancestor (itself for a turn span)."""
    owner: dict[tuple[str, str], tuple[str, str]] = {}
    for key in spans:
        path = []
        current: tuple[str, str] | None = key
        found: tuple[str, str] | None = None
        while current is not None and current in spans:
            if current in owner:
                found = owner[current]
                break
            path.append(current)
            if current in turn_keys:
                found = current
                break
            parent = spans[current]["parent"]
            current = (current[0], parent) if parent else None
        if found is not None:
            for step in path:
                owner[step] = found
    return owner


def _new_turn(span: dict[str, Any]) -> Turn:
    attributes = load_object(span["attributes"])
    return Turn(
        trace_id=span["trace_id"],
        start=iso(span["start_ns"]),
        duration_ms=round(span["duration_ns"] / 1e6, 3),
        activity_id=attributes.get(contract.ATTR_ACTIVITY_ID),
        activity_type=attributes.get(contract.ATTR_ACTIVITY_TYPE),
        activity_name=attributes.get(contract.ATTR_ACTIVITY_NAME),
        proactive=_flag(attributes.get(contract.ATTR_TURN_PROACTIVE)) is True,
        channel_id=attributes.get(contract.ATTR_CHANNEL_ID),
        text=None,
        replies=[],
        reply_changes=[],
        intents=[],
        answers=[],
        events=[],
        dependencies=[],
        failures=[],
        client_events=[],
    )


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _annotate(
    turn: Turn, event: str, properties: dict[str, Any], sent: dict[str, tuple[Turn, int]]
) -> None:
    """Add one event to its turn. ``sent``: the replies so far by activity id (a reply's
    BotMessageSend, its update and its delete share it), where an update or a delete,
    maybe a turn later, finds the reply it changes."""
    turn["events"].append(event)
    text = properties.get(contract.TEXT)
    activity_id = properties.get(contract.ACTIVITY_ID)
    if event == contract.BOT_MESSAGE_RECEIVED and turn["text"] is None and isinstance(text, str):
        turn["text"] = text
    elif event == contract.BOT_MESSAGE_SEND:
        if properties.get(contract.ACTIVITY_TYPE) == contract.INVOKE_RESPONSE_ACTIVITY_TYPE:
            return  # an invoke's answer (a card, a task module), not a line of the chat
        turn["replies"].append(text if isinstance(text, str) else None)
        turn["reply_changes"].append(None)
        # An id of its own: a reply without one carries the turn's (its activity's).
        if isinstance(activity_id, str) and activity_id != turn["activity_id"]:
            sent[activity_id] = (turn, len(turn["replies"]) - 1)
    elif event in (contract.BOT_MESSAGE_UPDATE, contract.BOT_MESSAGE_DELETE):
        found = sent.get(activity_id) if isinstance(activity_id, str) else None
        if found is None:
            return
        owner, index = found
        if event == contract.BOT_MESSAGE_DELETE:
            owner["reply_changes"][index] = "deleted"
            return
        owner["reply_changes"][index] = "updated"
        if isinstance(text, str):
            owner["replies"][index] = text
    elif event.startswith(contract.LUIS_INTENT_PREFIX):
        intent = properties.get(contract.INTENT) or event.removeprefix(contract.LUIS_INTENT_PREFIX)
        score = attribute_number(properties.get(contract.INTENT_SCORE))
        turn["intents"].append(Intent(intent=str(intent), score=score))
    elif event == contract.QNA_MESSAGE:
        # A model's answer is recorded (as generatedAnswer) only where the policy allowed it.
        answer = properties.get(contract.ANSWER, properties.get(contract.GENERATED_ANSWER))
        turn["answers"].append(
            Answer(
                answer=answer if isinstance(answer, str) else None,
                score=attribute_number(properties.get(contract.SCORE)),
                article_found=_flag(properties.get(contract.ARTICLE_FOUND)),
            )
        )
