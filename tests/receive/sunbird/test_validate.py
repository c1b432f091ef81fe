"""Every eid's schema accepts a valid event and refuses each invalid shape with its field and
what was expected there."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot_telemetry.contract import CLIENT_EVENT_EIDS
from bot_telemetry.receive.sunbird import validate
from bot_telemetry.receive.sunbird.schemas import EDATA
from tests.receive.sunbird.events import EIDS, event


def test_every_eid_of_the_contract_has_a_hand_made_event() -> None:
    assert set(EIDS) == set(CLIENT_EVENT_EIDS) == set(EDATA)


@pytest.mark.parametrize("eid", EIDS)
def test_a_valid_event_of_each_eid_passes(eid: str) -> None:
    assert validate(event(eid)) is None


@pytest.mark.parametrize("eid", EIDS)
def test_minimal_context_passes(eid: str) -> None:
    made = event(eid, did=None, sid=None, conversation=None)
    del made["object"], made["tags"]
    assert validate(made) is None


def _broken(change: Any, eid: str = "INTERACT") -> dict[str, Any]:
    made = copy.deepcopy(event(eid))
    change(made)
    return made


CASES = [
    ("missing mid", lambda e: e.pop("mid"), "mid", "a non-empty string (required)"),
    ("empty mid", lambda e: e.update(mid=""), "mid", "a non-empty string"),
    ("wrong ver", lambda e: e.update(ver="2.0"), "ver", 'one of "3.0", "3.1"'),
    ("ver as number", lambda e: e.update(ver=3.0), "ver", 'one of "3.0", "3.1"'),
    ("ets as string", lambda e: e.update(ets="1700000000000"), "ets", "a number from 0"),
    ("ets as boolean", lambda e: e.update(ets=True), "ets", "a number from 0"),
    ("ets before 1970", lambda e: e.update(ets=-1), "ets", "a number from 0"),
    ("ets past 2262", lambda e: e.update(ets=10**13), "ets", "a number from 0"),
    ("unknown eid", lambda e: e.update(eid="CLICK"), "eid", "one of START"),
    ("no actor", lambda e: e.pop("actor"), "actor", "an object (required)"),
    ("actor without type", lambda e: e["actor"].pop("type"), "actor.type", "a string"),
    ("actor id number", lambda e: e["actor"].update(id=7), "actor.id", "a string"),
    ("empty channel", lambda e: e["context"].update(channel=""), "context.channel", "non-empty"),
    ("no pdata", lambda e: e["context"].pop("pdata"), "context.pdata", "an object"),
    ("null sid", lambda e: e["context"].update(sid=None), "context.sid", "a string"),
    (
        "cdata extra key",
        lambda e: e["context"]["cdata"][0].update(name="x"),
        "context.cdata[0].name",
        "no such field",
    ),
    (
        "cdata without id",
        lambda e: e["context"]["cdata"][0].pop("id"),
        "context.cdata[0].id",
        "a string",
    ),
    ("tags not strings", lambda e: e.update(tags=["a", 1]), "tags[1]", "a string"),
    ("object not object", lambda e: e.update(object="x"), "object", "an object"),
    ("edata extra field", lambda e: e["edata"].update(colour="red"), "edata.colour", "no such"),
    ("edata missing id", lambda e: e["edata"].pop("id"), "edata.id", "(required)"),
    (
        "target extra field",
        lambda e: e["edata"]["target"].update(x=1),
        "edata.target.x",
        "no such field",
    ),
    ("extra not object", lambda e: e["edata"].update(extra=[1]), "edata.extra", "an object"),
    ("edata not object", lambda e: e.update(edata="x"), "edata", "an object"),
]


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_invalid_shapes_name_the_field_and_the_expectation(
    change: Any, field: str, expected: str
) -> None:
    problem = validate(_broken(change))
    assert problem is not None
    assert problem.field == field
    assert expected in problem.expected
    assert problem.reason.startswith(f"{field}: expected ")


@pytest.mark.parametrize(
    ("eid", "change", "field"),
    [
        ("FEEDBACK", lambda e: e["edata"].update(rating="5"), "edata.rating"),
        ("FEEDBACK", lambda e: e["edata"].update(rating=False), "edata.rating"),
        ("IMPRESSION", lambda e: e["edata"].pop("uri"), "edata.uri"),
        ("IMPRESSION", lambda e: e["edata"]["visits"][0].update(x=1), "edata.visits[0].x"),
        ("START", lambda e: e["edata"].update(duration="0"), "edata.duration"),
        ("LOG", lambda e: e["edata"].pop("level"), "edata.level"),
        ("ERROR", lambda e: e["edata"]["object"].pop("ver"), "edata.object.ver"),
        ("SUMMARY", lambda e: e["edata"].update(pageviews="3"), "edata.pageviews"),
        ("SEARCH", lambda e: e["edata"].pop("topn"), "edata.topn"),
        ("METRICS", lambda e: e["edata"].pop("subsystem"), "edata.subsystem"),
        ("AUDIT", lambda e: e["edata"].update(props=[1]), "edata.props[0]"),
    ],
)
def test_edata_is_checked_per_eid(eid: str, change: Any, field: str) -> None:
    problem = validate(_broken(change, eid))
    assert problem is not None and problem.field == field


def test_open_parts_accept_extra_keys() -> None:
    made = event("START")
    made["extra_envelope_key"] = 1
    made["context"]["rollup"] = {"l1": "a"}
    made["context"]["pdata"]["platform"] = "web"  # 3.1's addition
    made["actor"]["name"] = "kept open"
    made["ver"] = "3.1"
    assert validate(made) is None


def test_an_event_that_is_not_an_object() -> None:
    problem = validate(["START"])
    assert problem is not None and problem.expected == "an event object"
    assert problem.found == "array"
