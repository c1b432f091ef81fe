"""Client events hold personal data in more than their free-text fields: a page's address with
the user's number in its query, a context item naming a beneficiary, search filters, a
target or object id that is an email or a PAN, tags, the device's location. Each field the
collector does not know is judged as the bot's own unknown properties are, on a real
``bot-telemetry serve`` over HTTP; the fields the analyses read stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.privacy.current import set_current_policy
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.receive.sunbird.events import bundle, event, mid_of
from tests.receive.sunbird.test_http import get, post, stored_events

URI = "https://portal.example/citizen/status?mobile=9876543210&name=Grace%20Hopper#otp=761234"
SECRETS = ["9876543210", "Grace", "761234", "12.9716", "grace@example.org", "ABCPD1234F", "okaxis"]


def events() -> list[dict[str, Any]]:
    made = [
        event("IMPRESSION", edata={"type": "view", "pageid": "status", "uri": URI}),
        event(
            "START",
            edata={"type": "session", "loc": "12.9716,77.5946", "uaspec": {"agent": "Chrome"}},
        ),
        event(
            "SEARCH",
            edata={
                "query": "x",
                "size": 1,
                "topn": [],
                "filters": {"name": "Grace Hopper", "ward": "9876543210", "state": "pb"},
            },
        ),
        event(
            "INTERACT",
            edata={
                "type": "CLICK",
                "id": "pay",
                "target": {"id": "grace@example.org", "ver": "1", "type": "Link"},
            },
            object={"id": "ABCPD1234F", "type": "Applicant", "ver": "1"},
            tags=["grace.h@okaxis", "demo"],
        ),
        event("FEEDBACK", edata={"rating": 4}, object={"id": "sample-bot", "ver": "1.0"}),
    ]
    made[3]["context"]["cdata"].append({"type": "Beneficiary", "id": "Grace Hopper"})
    for each in made:
        each["mid"] = ""
        each["mid"] = mid_of(each)
    return made


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CollectorThread]:
    set_current_policy(getattr(request, "param", None))
    try:
        config = ServerConfig(store=tmp_path / "store.duckdb", port=0)
        with CollectorThread(config) as running:
            yield running
    finally:
        set_current_policy(None)


def stored(served: CollectorThread) -> tuple[str, dict[str, dict[str, Any]]]:
    status, answer, _ = post(served.url, bundle(events()))
    assert status == 200 and answer["result"]["stored"] == 5, answer
    rows = stored_events(served.url)
    by_eid = {row["eid"]: row["properties"] for row in rows}
    return json.dumps(rows), by_eid


def test_the_default_policy_stores_none_of_it(served: CollectorThread) -> None:
    text, by_eid = stored(served)
    for secret in SECRETS:
        assert secret not in text, secret
    # the page without its query and fragment, as every URL the bot records
    assert by_eid["IMPRESSION"]["sunbird.edata.uri"] == "https://portal.example/citizen/status"
    # what the analyses read stays: ids, types, the rating, the conversation
    assert by_eid["IMPRESSION"]["sunbird.edata.pageid"] == "status"
    assert by_eid["INTERACT"]["sunbird.edata.id"] == "pay"
    assert by_eid["INTERACT"]["sunbird.object.type"] == "Applicant"
    assert by_eid["INTERACT"]["sunbird.tags"] == [None, "demo"]
    assert by_eid["INTERACT"]["sunbird.cdata.Conversation"] == "conv-1"
    assert by_eid["FEEDBACK"]["sunbird.edata.rating"] == 4
    assert by_eid["FEEDBACK"]["sunbird.object.id"] == "sample-bot"
    assert by_eid["SEARCH"]["sunbird.edata.filters.state"] == "pb"
    assert by_eid["START"]["sunbird.edata.uaspec.agent"] == "Chrome"


@pytest.mark.parametrize("served", [PrivacyPolicy(log_personal_information=True)], indirect=True)
def test_an_opened_policy_stores_them_redacted(served: CollectorThread) -> None:
    text, by_eid = stored(served)
    for secret in ["9876543210", "grace@example.org", "ABCPD1234F", "okaxis"]:
        assert secret not in text, secret
    assert "Grace Hopper" in text  # names are allowed
    assert by_eid["IMPRESSION"]["sunbird.edata.uri"].startswith(
        "https://portal.example/citizen/status?mobile=[REDACTED]"
    )


def test_an_invalid_event_is_kept_in_the_failed_set_without_them(served: CollectorThread) -> None:
    made = events()
    for each in made:
        each["edata"]["duration"] = "long"  # a number expected: every event fails
        each["mid"] = ""
        each["mid"] = mid_of(each)
    status, answer, _ = post(served.url, bundle(made))
    assert status == 200 and answer["result"]["failed"] == 5, answer
    failed = get(served.url, "/api/client-events?failed=true")
    assert len(failed) == 5
    text = json.dumps(failed)
    for secret in SECRETS:
        assert secret not in text, secret
    assert "https://portal.example/citizen/status" in text and "Applicant" in text
