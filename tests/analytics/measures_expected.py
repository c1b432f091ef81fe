"""Every measure's answer computed from the plan (tests/support/measure_traffic.py) in plain
Python: what the SQL must give, derived independently of it (no query, no bucket arithmetic of
the package: buckets come from ``datetime``)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot_telemetry import contract
from tests.support.measure_traffic import (
    DIALOG,
    MS,
    RECOGNIZER,
    ClientEvent,
    Event,
    Plan,
    Turn,
)

Row = dict[str, Any]
Context = Mapping[str, Sequence[str]]
SECOND = 1_000_000_000


def floor(ns: int, granularity: str) -> datetime:
    moment = datetime.fromtimestamp(ns // SECOND, tz=UTC)
    if granularity == "second":
        return moment
    moment = moment.replace(second=0)
    if granularity == "minute":
        return moment
    moment = moment.replace(minute=0)
    if granularity == "hour":
        return moment
    moment = moment.replace(hour=0)
    if granularity == "day":
        return moment
    if granularity == "week":
        return moment - timedelta(days=moment.weekday())
    return moment.replace(day=1)


def following(moment: datetime, granularity: str) -> datetime:
    if granularity == "month":
        year, month = divmod(moment.month, 12)
        return moment.replace(year=moment.year + year, month=month + 1)
    step = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
    return moment + timedelta(seconds=step[granularity])


def label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def all_buckets(start: int, end: int, granularity: str) -> list[str]:
    moment, last = floor(start, granularity), datetime.fromtimestamp(end / SECOND, tz=UTC)
    found = []
    while moment < last:
        found.append(label(moment))
        moment = following(moment, granularity)
    return found


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(ns: float) -> float:
    return round(round(ns, 3) / 1e6, 3)


@dataclass
class Window:
    start: int
    end: int
    granularity: str
    context: Context
    params: Mapping[str, float]

    def within(self, ns: int) -> bool:
        return self.start <= ns < self.end

    def bucket(self, ns: int) -> str:
        return label(floor(ns, self.granularity))


def turn_matches(turn: Turn | None, context: Context, own: Mapping[str, Any] | None = None) -> bool:
    """Whether the turn (or the row's own values in ``own``) has every dimension's value."""
    own = own or {}
    for dimension, values in context.items():
        if dimension in own:
            if own[dimension] not in values:
                return False
            continue
        if turn is None:
            return False
        value: Any = {
            "channelId": turn.channel,
            "conversationId": turn.conversation,
            "userId": turn.user,
            "serviceName": "bot",
            "serviceVersion": turn.version,
            "locale": turn.locale,
        }.get(dimension)
        if dimension == "dialogId":
            if not (turn.named(*contract.WATERFALL_EVENTS) and DIALOG in values):
                return False
        elif dimension == "intent":
            if turn.intent is None or turn.intent[0] not in values:
                return False
        elif dimension == "dependency":
            if not any(call.peer in values for call in turn.calls):
                return False
        elif value not in values:
            return False
    return True


def filled(
    w: Window,
    found: Mapping[tuple[Any, ...], Row],
    keys: Sequence[str],
    empty: Row,
) -> list[Row]:
    """Every bucket x every key seen, as the API fills them; ordered by (time, keys)."""
    seen = sorted({key[1:] for key in found}, key=lambda k: tuple(str(p) for p in k))
    if not keys:
        seen = [()]
    rows = []
    for bucket in all_buckets(w.start, w.end, w.granularity):
        for key in seen:
            row = {"time": bucket, **dict(zip(keys, key, strict=True))}
            row.update(found.get((bucket, *key), empty))
            rows.append(row)
    return rows


def _turns(plan: Plan, w: Window) -> list[Turn]:
    return [t for t in plan.turns if w.within(t.start_ns) and turn_matches(t, w.context)]


def _events(plan: Plan, w: Window, *names: str) -> Iterable[tuple[Turn, Event]]:
    for turn in plan.turns:
        for event in turn.named(*names):
            if w.within(event.time_ns):
                yield turn, event


def _count_by_bucket(w: Window, times: Iterable[int], name: str) -> list[Row]:
    counts: dict[tuple[Any, ...], Row] = defaultdict(lambda: {name: 0})
    for ns in times:
        counts[(w.bucket(ns),)][name] += 1
    return filled(w, counts, (), {name: 0})


def _by_user(turn: Turn) -> bool:
    """The turn is the user's doing: not one the channel sends on its own."""
    return turn.activity_type not in contract.CHANNEL_ACTIVITY_TYPES


def active_users(plan: Plan, w: Window) -> list[Row]:
    users: dict[str, set[str]] = defaultdict(set)
    for turn in filter(_by_user, _turns(plan, w)):
        users[w.bucket(turn.start_ns)].add(turn.user)
    return filled(w, {(b,): {"users": len(u)} for b, u in users.items()}, (), {"users": 0})


def _firsts(
    plan: Plan, w: Window, key: Callable[[Turn], str], only_by_user: bool = False
) -> dict[str, int]:
    firsts: dict[str, int] = {}
    for turn in plan.turns:
        if only_by_user and not _by_user(turn):
            continue
        if turn.start_ns < w.end and turn_matches(turn, w.context):
            firsts[key(turn)] = min(firsts.get(key(turn), turn.start_ns), turn.start_ns)
    return firsts


def new_users(plan: Plan, w: Window) -> list[Row]:
    firsts = _firsts(plan, w, lambda t: t.user, only_by_user=True)
    return _count_by_bucket(w, (ns for ns in firsts.values() if ns >= w.start), "users")


def conversations(plan: Plan, w: Window) -> list[Row]:
    active: dict[str, set[str]] = defaultdict(set)
    with_user: dict[str, set[str]] = defaultdict(set)
    for turn in _turns(plan, w):
        active[w.bucket(turn.start_ns)].add(turn.conversation)
        if _by_user(turn):
            with_user[w.bucket(turn.start_ns)].add(turn.conversation)
    started: dict[str, int] = defaultdict(int)
    for ns in _firsts(plan, w, lambda t: t.conversation).values():
        if ns >= w.start:
            started[w.bucket(ns)] += 1
    found = {
        (b,): {"conversations": len(c), "started": started[b], "withUser": len(with_user[b])}
        for b, c in active.items()
    }
    return filled(w, found, (), {"conversations": 0, "started": 0, "withUser": 0})


def sessions(plan: Plan, w: Window) -> list[Row]:
    gap = int(w.params.get("gapSeconds", contract.SESSION_GAP_SECONDS)) * SECOND
    by_user: dict[str, list[int]] = defaultdict(list)
    for turn in plan.turns:
        if (
            w.start - gap <= turn.start_ns < w.end
            and turn_matches(turn, w.context)
            and _by_user(turn)
        ):
            by_user[turn.user].append(turn.start_ns)
    starts = []
    for times in by_user.values():
        times.sort()
        for index, ns in enumerate(times):
            if ns >= w.start and (index == 0 or ns - times[index - 1] > gap):
                starts.append(ns)
    return _count_by_bucket(w, starts, "sessions")


def _message_events(plan: Plan, w: Window, name: str) -> list[tuple[Turn, Event]]:
    found = []
    for turn, event in _events(plan, w, name):
        kind = event.properties.get("type", turn.activity_type)
        if kind == contract.MESSAGE_ACTIVITY_TYPE and turn_matches(turn, w.context):
            found.append((turn, event))
    return found


def messages_received(plan: Plan, w: Window) -> list[Row]:
    events = _message_events(plan, w, contract.BOT_MESSAGE_RECEIVED)
    return _count_by_bucket(w, (e.time_ns for _, e in events), "messages")


def messages_sent(plan: Plan, w: Window) -> list[Row]:
    events = _message_events(plan, w, contract.BOT_MESSAGE_SEND)
    return _count_by_bucket(w, (e.time_ns for _, e in events), "messages")


def turns(plan: Plan, w: Window) -> list[Row]:
    return _count_by_bucket(w, (t.start_ns for t in _turns(plan, w)), "turns")


def turns_per_conversation(plan: Plan, w: Window) -> list[Row]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for turn in _turns(plan, w):
        counts[w.bucket(turn.start_ns)][turn.conversation] += 1
    found = {}
    for bucket, per in counts.items():
        values = list(per.values())
        found[(bucket,)] = {
            "mean": round(sum(values) / len(values), 6),
            "median": round(quantile(values, 0.5), 6),
            "max": max(values),
            "conversations": len(values),
        }
    empty = {"mean": None, "median": None, "max": None, "conversations": 0}
    return filled(w, found, (), empty)


def _latencies(w: Window, samples: Iterable[tuple[int, int]], count: str) -> list[Row]:
    by_bucket: dict[str, list[int]] = defaultdict(list)
    for ns, value in samples:
        by_bucket[w.bucket(ns)].append(value)
    found = {
        (b,): {
            "p50Ms": ms(quantile(v, 0.5)),
            "p95Ms": ms(quantile(v, 0.95)),
            "p99Ms": ms(quantile(v, 0.99)),
            count: len(v),
        }
        for b, v in by_bucket.items()
    }
    return filled(w, found, (), {"p50Ms": None, "p95Ms": None, "p99Ms": None, count: 0})


def turn_latency(plan: Plan, w: Window) -> list[Row]:
    return _latencies(w, ((t.start_ns, t.duration_ns) for t in _turns(plan, w)), "turns")


def reply_latency(plan: Plan, w: Window) -> list[Row]:
    samples = []
    for turn, received in _message_events(plan, w, contract.BOT_MESSAGE_RECEIVED):
        replies = [
            e.time_ns
            for e in turn.named(contract.BOT_MESSAGE_SEND)
            if e.properties["type"] == contract.MESSAGE_ACTIVITY_TYPE and e.time_ns >= w.start
        ]
        if replies:
            samples.append((received.time_ns, min(replies) - received.time_ns))
    return _latencies(w, samples, "replied")


def _intent_events(plan: Plan, w: Window) -> list[tuple[Turn, Event]]:
    return [
        (turn, event)
        for turn in plan.turns
        for event in turn.events
        if event.name.startswith(contract.LUIS_INTENT_PREFIX) and w.within(event.time_ns)
    ]


def intents(plan: Plan, w: Window) -> list[Row]:
    minimum = w.params.get("minScore")
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    for turn, event in _intent_events(plan, w):
        intent, score = str(event.properties["intent"]), float(str(event.properties["intentScore"]))
        if minimum is not None and score < minimum:
            continue
        # The recognizer is the call the result was recorded on: the plan's nlu call.
        if turn_matches(turn, w.context, {"intent": intent, "dependency": RECOGNIZER}):
            scores[(w.bucket(event.time_ns), intent, RECOGNIZER)].append(score)
    found = {
        key: {"count": len(v), "meanScore": round(sum(v) / len(v), 6)} for key, v in scores.items()
    }
    return filled(w, found, ("intent", "recognizer"), {"count": 0, "meanScore": None})


def fallback_rate(plan: Plan, w: Window) -> list[Row]:
    threshold = w.params.get("threshold", contract.FALLBACK_SCORE)
    counts: dict[tuple[Any, ...], Row] = {}
    for turn in _turns(plan, w):
        if turn.activity_type != contract.MESSAGE_ACTIVITY_TYPE:
            continue
        fell_back = (
            turn.intent is not None
            and (turn.intent[0] == contract.NONE_INTENT or turn.intent[1] < threshold)
        ) or turn.answered is False
        row = counts.setdefault((w.bucket(turn.start_ns),), {"fallbackTurns": 0, "turns": 0})
        row["turns"] += 1
        row["fallbackTurns"] += fell_back
    for row in counts.values():
        row["rate"] = round(row["fallbackTurns"] / row["turns"], 6)
    return filled(w, counts, (), {"rate": None, "fallbackTurns": 0, "turns": 0})


def qna_answer_rate(plan: Plan, w: Window) -> list[Row]:
    counts: dict[tuple[Any, ...], Row] = {}
    for turn, event in _events(plan, w, contract.QNA_MESSAGE):
        if turn_matches(turn, w.context):
            row = counts.setdefault((w.bucket(event.time_ns),), {"answered": 0, "questions": 0})
            row["questions"] += 1
            row["answered"] += bool(event.properties["articleFound"])
    for row in counts.values():
        row["rate"] = round(row["answered"] / row["questions"], 6)
    return filled(w, counts, (), {"rate": None, "answered": 0, "questions": 0})


def _runs(plan: Plan, w: Window) -> dict[str, tuple[int, list[Event]]]:
    """Each dialog run begun in the window (that the context keeps): its start and its
    events in the window."""
    runs: dict[str, tuple[int, list[Event]]] = {}
    for turn, event in _events(plan, w, contract.WATERFALL_START):
        if turn_matches(turn, w.context, {"dialogId": DIALOG}):
            runs[str(event.properties["InstanceId"])] = (event.time_ns, [])
    for _, event in _events(plan, w, *contract.WATERFALL_EVENTS):
        instance = str(event.properties["InstanceId"])
        if instance in runs:
            runs[instance][1].append(event)
    return runs


def dialog_outcomes(plan: Plan, w: Window) -> list[Row]:
    abandonment = int(w.params.get("abandonmentSeconds", contract.ABANDONMENT_SECONDS))
    counts: dict[tuple[Any, ...], Row] = {}
    for started, events in _runs(plan, w).values():
        names = {e.name for e in events}
        last = max(e.time_ns for e in events)
        if contract.WATERFALL_COMPLETE in names:
            outcome = "completed"
        elif contract.WATERFALL_CANCEL in names:
            outcome = "cancelled"
        elif last <= w.end - abandonment * SECOND:
            outcome = "abandoned"
        else:
            outcome = "inProgress"
        row = counts.setdefault(
            (w.bucket(started), DIALOG),
            {"started": 0, "completed": 0, "cancelled": 0, "abandoned": 0, "inProgress": 0},
        )
        row["started"] += 1
        row[outcome] += 1
    empty = {"started": 0, "completed": 0, "cancelled": 0, "abandoned": 0, "inProgress": 0}
    return filled(w, counts, ("dialogId",), empty)


def dialog_steps(plan: Plan, w: Window) -> list[Row]:
    counts: dict[tuple[Any, ...], Row] = defaultdict(lambda: {"reached": 0})
    for started, events in _runs(plan, w).values():
        steps = {str(e.properties["StepName"]) for e in events if e.name == contract.WATERFALL_STEP}
        for step in steps:
            counts[(w.bucket(started), DIALOG, step)]["reached"] += 1
    return filled(w, counts, ("dialogId", "step"), {"reached": 0})


def dependency_calls(plan: Plan, w: Window) -> list[Row]:
    calls: dict[tuple[str, str], list[tuple[int, bool]]] = defaultdict(list)
    for turn in plan.turns:
        for call in turn.calls:
            own = {"dependency": call.peer, "serviceName": "bot"}
            if w.within(call.start_ns) and turn_matches(turn, w.context, own):
                calls[(w.bucket(call.start_ns), call.peer)].append((call.duration_ns, call.failed))
    found = {
        key: {
            "calls": len(v),
            "failures": sum(failed for _, failed in v),
            "p50Ms": ms(quantile([d for d, _ in v], 0.5)),
            "p95Ms": ms(quantile([d for d, _ in v], 0.95)),
        }
        for key, v in calls.items()
    }
    empty = {"calls": 0, "failures": 0, "p50Ms": None, "p95Ms": None}
    return filled(w, found, ("dependency",), empty)


def token_usage(plan: Plan, w: Window) -> list[Row]:
    usage: dict[tuple[str, str], Row] = {}
    for turn in plan.turns:
        for call in turn.calls:
            own = {"dependency": call.peer, "serviceName": "bot"}
            if call.model is None or not w.within(call.start_ns):
                continue
            if turn_matches(turn, w.context, own):
                row = usage.setdefault(
                    (w.bucket(call.start_ns), call.model),
                    {"calls": 0, "inputTokens": 0, "outputTokens": 0},
                )
                row["calls"] += 1
                row["inputTokens"] += call.tokens[0] if call.tokens else 0
                row["outputTokens"] += call.tokens[1] if call.tokens else 0
    empty = {"calls": 0, "inputTokens": 0, "outputTokens": 0}
    return filled(w, usage, ("model",), empty)


def failed_turns(plan: Plan, w: Window) -> list[Row]:
    counts: dict[tuple[Any, ...], Row] = {}
    for turn in _turns(plan, w):
        row = counts.setdefault((w.bucket(turn.start_ns),), {"failed": 0, "turns": 0})
        row["turns"] += 1
        row["failed"] += turn.failure is not None
    for row in counts.values():
        row["rate"] = round(row["failed"] / row["turns"], 6)
    return filled(w, counts, (), {"failed": 0, "turns": 0, "rate": None})


def exceptions(plan: Plan, w: Window) -> list[Row]:
    counts: dict[tuple[Any, ...], Row] = defaultdict(lambda: {"exceptions": 0})
    for turn in plan.turns:
        found = [
            (call.start_ns + call.duration_ns - MS // 2, "aiohttp.ClientResponseError")
            for call in turn.calls
            if call.failed
        ]
        if turn.failure is not None:
            found.append((turn.end_ns - MS, turn.failure))
        for ns, kind in found:
            if w.within(ns) and turn_matches(turn, w.context, {"serviceName": "bot"}):
                counts[(w.bucket(ns), kind)]["exceptions"] += 1
    return filled(w, counts, ("exceptionType",), {"exceptions": 0})


def _escalated(plan: Plan, w: Window) -> set[str]:
    return {
        turn.conversation
        for turn, event in _events(plan, w, contract.BOT_MESSAGE_SEND)
        if event.properties["type"] == contract.HANDOFF_ACTIVITY_TYPE
    }


def escalation_rate(plan: Plan, w: Window) -> list[Row]:
    escalated = _escalated(plan, w)
    active: dict[str, set[str]] = defaultdict(set)
    for turn in _turns(plan, w):
        active[w.bucket(turn.start_ns)].add(turn.conversation)
    found = {}
    for bucket, conversations in active.items():
        count = len(conversations & escalated)
        found[(bucket,)] = {
            "rate": round(count / len(conversations), 6),
            "escalated": count,
            "conversations": len(conversations),
        }
    return filled(w, found, (), {"rate": None, "escalated": 0, "conversations": 0})


def containment_rate(plan: Plan, w: Window) -> list[Row]:
    escalated = _escalated(plan, w)
    engaged: dict[str, set[str]] = defaultdict(set)
    for turn in _turns(plan, w):
        if turn.activity_type == contract.MESSAGE_ACTIVITY_TYPE:
            engaged[w.bucket(turn.start_ns)].add(turn.conversation)
    found = {}
    for bucket, conversations in engaged.items():
        contained = len(conversations - escalated)
        found[(bucket,)] = {
            "rate": round(contained / len(conversations), 6),
            "contained": contained,
            "engaged": len(conversations),
        }
    return filled(w, found, (), {"rate": None, "contained": 0, "engaged": 0})


def _client(plan: Plan, w: Window) -> list[ClientEvent]:
    return [
        event
        for event in plan.client_events
        if w.within(event.time_ns)
        and turn_matches(
            None,
            w.context,
            {"conversationId": event.conversation, "userId": event.actor, "serviceName": "webchat"},
        )
    ]


def client_events(plan: Plan, w: Window) -> list[Row]:
    actors: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in _client(plan, w):
        actors[(w.bucket(event.time_ns), event.eid)].append(event.actor)
    found = {key: {"events": len(a), "users": len(set(a))} for key, a in actors.items()}
    return filled(w, found, ("eid",), {"events": 0, "users": 0})


def feedback(plan: Plan, w: Window) -> list[Row]:
    ratings: dict[str, list[float | None]] = defaultdict(list)
    for event in _client(plan, w):
        if event.eid == "FEEDBACK":
            ratings[w.bucket(event.time_ns)].append(event.rating)
    found = {}
    for bucket, given in ratings.items():
        rated = [r for r in given if r is not None]
        found[(bucket,)] = {
            "count": len(given),
            "rated": len(rated),
            "meanRating": round(sum(rated) / len(rated), 6) if rated else None,
        }
    return filled(w, found, (), {"count": 0, "rated": 0, "meanRating": None})


EXPECTED: dict[str, Callable[[Plan, Window], list[Row]]] = {
    "activeUsers": active_users,
    "newUsers": new_users,
    "conversations": conversations,
    "sessions": sessions,
    "messagesReceived": messages_received,
    "messagesSent": messages_sent,
    "turns": turns,
    "turnsPerConversation": turns_per_conversation,
    "turnLatency": turn_latency,
    "replyLatency": reply_latency,
    "intents": intents,
    "fallbackRate": fallback_rate,
    "qnaAnswerRate": qna_answer_rate,
    "dialogOutcomes": dialog_outcomes,
    "dialogSteps": dialog_steps,
    "dependencyCalls": dependency_calls,
    "tokenUsage": token_usage,
    "failedTurns": failed_turns,
    "exceptions": exceptions,
    "escalationRate": escalation_rate,
    "containmentRate": containment_rate,
    "clientEvents": client_events,
    "feedback": feedback,
}
