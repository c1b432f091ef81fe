"""The compiled checks accept exactly what the schema nodes accept: every valid event of each
eid, and none of thousands of generated near-misses (a field removed, replaced by another JSON
value, or added), whose problem is then the nodes' own."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_telemetry.receive.sunbird.compiled import compile_event
from bot_telemetry.receive.sunbird.schemas import EDATA, ENVELOPE, Number, Object, Text
from bot_telemetry.receive.sunbird.validate import ACCEPTS, problem_of, validate

from .events import EIDS, event

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", "x", "3.0", "3.1", "START", "FEEDBACK", "Conversation"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a decoded JSON value: dict keys and list indexes."""
    found = [prefix] if prefix else []
    if type(value) is dict:
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif type(value) is list:
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _container(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


@st.composite
def near_misses(draw: st.DrawFn) -> Any:
    """A valid event of some eid with one to three changes: a field dropped, replaced, or a
    new field added somewhere."""
    made = copy.deepcopy(event(draw(st.sampled_from(EIDS))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(made)
        path = draw(st.sampled_from(paths))
        parent = _container(made, path)
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop" and type(parent) is dict:
            del parent[path[-1]]
        elif action == "add" and type(parent) is dict:
            parent[draw(st.sampled_from(["extra", "id", "type", "eid", "sid"]))] = draw(JSON_VALUES)
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    if draw(st.booleans()):
        made = draw(st.sampled_from([made, [made], "event", None, 3]))
    return made


@pytest.mark.parametrize("eid", EIDS)
def test_every_valid_event_is_accepted_by_its_compiled_check(eid: str) -> None:
    valid = event(eid)
    assert problem_of(valid) is None
    assert ACCEPTS[eid](valid) is True


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_misses())
def test_the_compiled_checks_decide_as_the_schema_nodes(made: Any) -> None:
    expected = problem_of(made)
    eid = made.get("eid") if type(made) is dict else None
    if type(eid) is str and eid in ACCEPTS:
        assert ACCEPTS[eid](made) is (expected is None)
    assert validate(made) == expected


def test_bounds_and_closed_objects_compile_to_the_same_rule() -> None:
    envelope = Object(
        {"n": Number(minimum=0, maximum=10), "t": Text(non_empty=True), "edata": Object()}
    )
    edata = Object({"x": Text()}, closed=True)
    accepts = compile_event(envelope, Object())
    assert accepts({"n": 0, "t": "a", "edata": {}})
    assert not accepts({"n": -1, "t": "a", "edata": {}})
    assert not accepts({"n": 10.5, "t": "a", "edata": {}})
    assert not accepts({"n": True, "t": "a", "edata": {}})  # a boolean is not a number
    assert not accepts({"n": 1, "t": "", "edata": {}})
    closed = compile_event(Object({"edata": Object()}), edata)
    assert closed({"edata": {"x": "y"}})
    assert not closed({"edata": {"x": "y", "z": 1}})
    assert not closed({"edata": {}})


def test_a_node_without_a_compiled_form_is_refused() -> None:
    class Odd(Text):
        pass

    with pytest.raises(TypeError, match="Odd"):
        compile_event(Object({"a": Odd()}), EDATA["HEARTBEAT"])


def test_envelope_is_compiled_from_the_same_nodes() -> None:
    # The compiled envelope is the one the nodes walk: a field both know, broken, fails both.
    broken = event("FEEDBACK")
    broken["context"]["channel"] = ""
    assert not ACCEPTS["FEEDBACK"](broken)
    problem = problem_of(broken)
    assert problem is not None and problem.field == "context.channel"
    assert ENVELOPE.check(broken) == problem
