"""UI fixes found by a QA pass, in headless Chromium: lists the API cut say so, forms keep
their values on a bad input, the time window lives in the URL, and odd ids get plain
messages.

Screenshots go to test-artifacts/ui-fixes/ for a person to look at.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bot_telemetry import contract
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.browser import Page
from tests.support.otlp_messages import T0, logs_request, new_span_id, new_trace_id, spans_request
from tests.support.otlp_messages import post_otlp as post

MS = 1_000_000
TURN = (new_trace_id(), new_span_id())


def sunbird(eid: str, mid: str, edata: dict[str, Any]) -> dict[str, Any]:
    return {
        "eid": eid,
        "ets": T0 // MS + 1000,
        "ver": "3.0",
        "mid": mid,
        "actor": {"id": "user-1", "type": "User"},
        "context": {"channel": "web", "env": "chat", "pdata": {"id": "webchat", "ver": "1.0"}},
        "edata": edata,
    }


SUNBIRD_EVENTS = [
    sunbird("FEEDBACK", "m1", {"rating": 2, "comments": "meh"}),
    # Fails on its rating, which comes after the first 300 characters of the event.
    {
        "tags": [f"tag-number-{i}" for i in range(30)],
        **sunbird("FEEDBACK", "m2", {"rating": "five"}),
    },
    sunbird("INTERACT", "m3", {"type": "CLICK"}),  # fails: no id
]


def post_sunbird(url: str, events: list[dict[str, Any]]) -> None:
    body = {"id": "api.sunbird.telemetry", "ver": "3.0", "params": {"msgid": "b1"}}
    request = urllib.request.Request(
        f"{url}/v1/telemetry",
        data=json.dumps({**body, "ets": T0 // MS, "events": events}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    store = tmp_path_factory.mktemp("ui-fixes") / "store.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0)) as running:
        spans = [
            {"name": f"request {i}", "start": T0 + i * MS, "end": T0 + i * MS + MS}
            for i in range(55)
        ]
        post(running.url, "/v1/traces", spans_request(spans, service="api"))
        # A conversation whose Q&A lookup found no answer.
        turn = {
            "trace_id": TURN[0],
            "span_id": TURN[1],
            "name": contract.TURN_SPAN_NAME,
            "kind": 1,
            "attributes": {
                contract.ATTR_CONVERSATION_ID: "unanswered",
                contract.ATTR_ACTIVITY_TYPE: "message",
            },
        }
        post(running.url, "/v1/traces", spans_request([turn], service="bot"))
        qna = {
            "trace_id": TURN[0],
            "span_id": TURN[1],
            "time_unix_nano": T0 + MS // 2,
            "attributes": {
                contract.CUSTOM_EVENT_NAME: contract.QNA_MESSAGE,
                contract.CONVERSATION_ID: "unanswered",
                contract.ARTICLE_FOUND: False,
            },
        }
        post(running.url, "/v1/logs", logs_request([qna], service="bot"))
        post_sunbird(running.url, SUNBIRD_EVENTS)
        yield running


@pytest.fixture
def ui(browser: Any, collector: CollectorThread) -> Iterator[Page]:
    page = Page(browser, collector.url, artifacts="ui-fixes")
    yield page
    page.close()


def test_a_cut_trace_list_says_it_shows_only_the_latest(ui: Page) -> None:
    page = ui.open("#/traces")
    assert page.locator("#view tbody tr").count() == 50
    note = page.locator("#view .shown-count").inner_text()
    assert "latest 50 traces" in note and "may be more" in note
    page = ui.open("#/node/api")
    assert page.locator("#view table").nth(1).locator("tbody tr").count() == 20
    assert "latest 20 traces" in page.locator("#view .shown-count").inner_text()
    page = ui.open("#/traces?service=nobody")
    assert page.locator("#view .shown-count").inner_text() == "0 traces."


def submitted(ui: Page, form: str, route: str) -> Any:
    """Submit a form and wait until the page it leads to is drawn."""
    page = ui.page
    page.click(f"{form} button[type=submit]")
    page.wait_for_function(
        "route => location.hash.startsWith(route) && document.body.dataset.ready === location.hash",
        arg=route,
    )
    return page


def test_a_bad_funnel_window_keeps_the_form_and_says_why(ui: Page) -> None:
    page = ui.open("#/funnels")
    page.fill("#funnel-form textarea[name=steps]", "request 1\nrequest 2")
    page.fill("#funnel-form input[name=window]", "banana")
    page = submitted(ui, "#funnel-form", "#/funnels?")
    assert page.input_value("#funnel-form input[name=window]") == "banana"
    assert page.input_value("#funnel-form textarea[name=steps]") == "request 1\nrequest 2"
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("Conversion window: expected a duration like 30s"), said
    # Not "Window" beside the header's "Time window": two names for what read as one setting.
    labels = page.locator("#funnel-form label").all_inner_texts()
    assert any(label.startswith("Conversion window") for label in labels), labels
    ui.shot("funnel-bad-window")


def test_bad_paths_steps_keep_the_form_and_say_why(ui: Page) -> None:
    page = ui.open("#/paths")
    page.fill("#paths-form input[name=event]", "request 1")
    page.fill("#paths-form input[name=steps]", "-4")
    page = submitted(ui, "#paths-form", "#/paths?")
    assert page.input_value("#paths-form input[name=steps]") == "-4"
    assert page.input_value("#paths-form input[name=event]") == "request 1"
    assert page.locator("#view p.error").inner_text() != ""


def test_bad_retention_intervals_keep_the_form_and_say_why(ui: Page) -> None:
    page = ui.open("#/retention")
    page.fill("#retention-form input[name=intervals]", "-3")
    page = submitted(ui, "#retention-form", "#/retention?")
    assert page.input_value("#retention-form input[name=intervals]") == "-3"
    assert page.locator("#view p.error").inner_text() != ""


def test_the_time_window_is_in_the_address(ui: Page) -> None:
    page = ui.open("#/traces?failed=true")
    assert page.input_value("#window") == ""
    page.select_option("#window", "15m")
    ui.ready("#/traces?failed=true&window=15m")
    assert any("/api/traces?since=15m" in url for url in ui.requests)
    page.reload()
    ui.ready("#/traces?failed=true&window=15m")
    assert page.input_value("#window") == "15m"
    assert page.input_value("#trace-search select[name=failed]") == "true"
    # The nav and the links of a page keep it.
    page.click("nav a[data-view=conversations]")
    ui.ready("#/conversations?window=15m")
    assert page.input_value("#window") == "15m"
    page.go_back()
    ui.ready("#/traces?failed=true&window=15m")
    page.go_back()
    ui.ready("#/traces?failed=true")
    assert page.input_value("#window") == ""
    page.go_forward()
    ui.ready("#/traces?failed=true&window=15m")
    assert page.input_value("#window") == "15m"
    # A page's own search keeps it too, and "everything" leaves it out.
    page.click("#trace-search button[type=submit]")
    ui.ready("#/traces?failed=true&window=15m")
    page.select_option("#window", "")
    ui.ready("#/traces?failed=true")
    ui.open("#/appmap?window=1h")
    assert ui.page.input_value("#window") == "1h"


def test_a_qna_lookup_that_found_nothing_says_so(ui: Page) -> None:
    page = ui.open("#/conversation/unanswered")
    answer = page.locator("section.turn .chip.answer").inner_text()
    assert answer == "no answer found", answer


def test_the_failed_set_does_not_pretend_to_be_filtered_by_event(ui: Page) -> None:
    page = ui.open("#/client-events?eid=FEEDBACK")
    assert page.locator("#view tbody tr").count() == 1
    page.check("input[name=failed]")
    assert page.locator("select[name=eid]").is_disabled()
    page.click("form.search button[type=submit]")
    ui.ready("#/client-events?eid=FEEDBACK&failed=true")
    eids = page.locator("#view tbody tr td:nth-child(1)").all_inner_texts()
    assert sorted(eids) == ["FEEDBACK", "INTERACT"]
    # Every event's failures are listed: the select says so, it does not claim FEEDBACK.
    assert page.locator("select[name=eid]").is_disabled()
    assert "not for the failed set" in page.locator("form.search").inner_text()
    page.uncheck("input[name=failed]")
    assert page.locator("select[name=eid]").is_enabled()


def test_a_cut_event_as_sent_is_marked_and_shown_whole_on_request(ui: Page) -> None:
    page = ui.open("#/client-events?failed=true")
    row = page.locator("#view tbody tr", has_text="FEEDBACK")
    sent = row.locator("td").last
    assert "…" in sent.inner_text() and '"five"' not in sent.inner_text()
    button = sent.locator("button.show-all")
    assert "show all" in button.inner_text()
    button.click()
    assert '"rating":"five"' in sent.inner_text()
    assert "…" not in sent.inner_text()


REASONS_IN_SIGHT = """() => {
  const headings = [...document.querySelectorAll('#view thead th')].map((th) => th.textContent);
  const box = document.querySelector('#view .table-scroll').getBoundingClientRect();
  return [...document.querySelectorAll('#view tbody tr')].map((row) =>
    ['Eid', 'Field', 'Expected'].map((label) => {
      const cell = row.cells[headings.indexOf(label)].getBoundingClientRect();
      return [label, cell.left >= box.left && cell.right <= Math.min(box.right, innerWidth)];
    }));
}"""


def test_a_failed_event_s_reason_is_in_sight_on_a_phone(ui: Page) -> None:
    # Field and Expected, which say why an event failed, were the 4th and 5th columns: at
    # 420 px they were off-screen to the right, behind Received and Service.
    ui.page.set_viewport_size({"width": 420, "height": 860})
    page = ui.open("#/client-events?failed=true")
    rows = page.evaluate(REASONS_IN_SIGHT)
    ui.shot("client-events-failed-420")
    assert len(rows) == 2
    for row in rows:
        assert row == [["Eid", True], ["Field", True], ["Expected", True]], row
    assert "FEEDBACK" in page.locator("#view tbody").inner_text()


@pytest.mark.parametrize("hash_", ["#/traces", "#/node/api", "#/client-events?failed=true"])
def test_a_narrow_window_wraps_the_header_and_scrolls_tables_in_their_box(
    ui: Page, hash_: str
) -> None:
    ui.page.set_viewport_size({"width": 420, "height": 800})
    page = ui.open(hash_)
    box = page.locator("#window").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 420, box
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"the page is {width}px wide"
    frame = page.locator("#view .table-scroll").first
    assert frame.evaluate("node => node.scrollWidth > node.clientWidth")
    ui.shot(f"narrow-{hash_.split('/')[1].split('?')[0]}")


def test_odd_ids_in_the_address_get_plain_messages(ui: Page) -> None:
    page = ui.open("#/trace/")
    assert "undefined" not in page.locator("#view").inner_text()
    assert "No trace id" in page.locator("#view .error").inner_text()
    page = ui.open("#/trace/zz%zz")
    message = page.locator("#view .error").inner_text()
    assert "URI malformed" not in message and "zz%zz" in message, message
    page = ui.open("#/node/nonexistent")
    assert page.locator("#view table").count() == 0
    assert "No node nonexistent in this time window" in page.locator("#view .error").inner_text()


# ---- a refusal says the form's labels, not the API's field names --------------------------

EITHER = "BotMessageReceived|LuisIntent.Greeting"


def refused(ui: Page, form: str, route: str, **fields: str) -> str:
    """Fill the form's fields (by name), submit it and answer the error the page shows."""
    for name, value in fields.items():
        ui.page.fill(f"{form} [name={name}]", value)
    page = submitted(ui, form, route)
    said: str = page.locator("#view p.error").inner_text()
    return said


def test_a_funnel_refusal_says_the_forms_labels(ui: Page) -> None:
    # They said "steps[1]: …", "exclusions[0].toStep: … after fromStep (1) …", "startTime: …".
    ui.open("#/funnels")
    said = refused(ui, "#funnel-form", "#/funnels?", steps=f"request 1\n{EITHER}")
    assert said.startswith("Steps, line 2: an event name cannot hold |"), said
    said = refused(
        ui, "#funnel-form", "#/funnels?", steps="request 1\nrequest 2", exclusions="request 3:1:0"
    )
    assert said.startswith("Exclusions, line 1, its TO: expected a step after FROM (1)"), said
    page = ui.open("#/funnels?window=banana")  # an edited address: the header's time window
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("Time window: expected an ISO 8601 time") and "banana" in said, said
    assert "startTime" not in said


def test_a_paths_refusal_says_the_forms_labels(ui: Page) -> None:
    # They said "startEvent: …", "stepLimit: …", "groupings[0]: …", "exclude[1]: …".
    ui.open("#/paths")
    said = refused(ui, "#paths-form", "#/paths?", event=EITHER)
    assert said.startswith("Event: an event name cannot hold |"), said
    said = refused(ui, "#paths-form", "#/paths?", event="request 1", steps="-4")
    assert said == "Steps: expected a whole number from 2 to 20, got -4", said
    said = refused(ui, "#paths-form", "#/paths?", steps="5", groupings="LuisIntent")
    assert said.startswith("Group, event 1: expected a pattern like LuisIntent.*"), said
    said = refused(ui, "#paths-form", "#/paths?", groupings="", exclude=f"request {EITHER}")
    assert said.startswith("Leave out, event 2: an event name cannot hold |"), said


def test_a_retention_refusal_says_the_forms_labels(ui: Page) -> None:
    # They said "totalIntervals: …", "cohortEvent: …", "returningEvent: …".
    ui.open("#/retention")
    said = refused(ui, "#retention-form", "#/retention?", intervals="-3")
    assert said.startswith("Intervals: expected a whole number from 1 to "), said
    said = refused(ui, "#retention-form", "#/retention?", intervals="4", cohortEvent=EITHER)
    assert said.startswith("Cohort event: an event name cannot hold |"), said
    said = refused(ui, "#retention-form", "#/retention?", cohortEvent="", returningEvent=EITHER)
    assert said.startswith("Returning event: an event name cannot hold |"), said


def test_a_measures_refusal_says_the_forms_labels(ui: Page) -> None:
    # They said "endTime: expected a time after startTime", "startTime: …" and
    # "measures[0].timeGranularity[0]: …".
    page = ui.open("#/measures?m=turns")
    page.fill("form.measures-form input[name=from]", "2026-11-05")
    page.fill("form.measures-form input[name=to]", "2026-11-01")
    page = submitted(ui, "form.measures-form", "#/measures?")
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("To: expected a time after From, found '2026-11-01"), said
    page.fill("form.measures-form input[name=from]", "banana")
    page.fill("form.measures-form input[name=to]", "")
    page = submitted(ui, "form.measures-form", "#/measures?")
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("From: expected an ISO 8601 time") and "banana" in said, said
    page = ui.open("#/measures?m=turns&g=fortnight")  # an edited address
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("Granularity: expected one of second, minute"), said


def test_an_exhaust_refusal_says_the_forms_labels(ui: Page) -> None:
    # They said "request.datasetConfig.endDate: … is before startDate …",
    # "request.requestedBy: …" and "tag: …".
    page = ui.open("#/exhausts")
    said = page.locator("#exhaust-form + p.error")
    for name, value in {"conversationId": "bot", "requestedChannel": "ORG_001"}.items():
        page.fill(f"#exhaust-form [name={name}]", value)
    page.fill("#exhaust-form [name=startDate]", "2026-03-01")
    page.fill("#exhaust-form [name=endDate]", "2026-02-01")
    page.click("#exhaust-form button[type=submit]")
    said.wait_for(state="visible")
    assert said.inner_text() == "Requested by: is missing: expected a non-empty string"
    page.fill("#exhaust-form [name=requestedBy]", "analyst-1")
    page.click("#exhaust-form button[type=submit]")
    page.locator("#exhaust-form + p.error", has_text="To (included)").wait_for()
    assert said.inner_text() == "To (included): 2026-02-01 is before From 2026-03-01"
    page.fill("#exhaust-lookup [name=tag]", "no-such-tag")
    page.click("#exhaust-lookup button[type=submit]")
    ui.ready("#/exhausts/no-such-tag")
    listed = page.locator(".exhaust-jobs p.error")
    listed.wait_for()
    assert listed.inner_text() == "Jobs of the tag: no job has the tag 'no-such-tag'"


@pytest.mark.parametrize(
    "route", ["traces", "appmap", "conversations", "metrics", "client-events", "node/api"]
)
def test_a_bad_time_window_in_the_address_is_named_by_its_label(ui: Page, route: str) -> None:
    # The API's message named nothing ("'banana' is neither a duration …").
    page = ui.open(f"#/{route}?window=banana")
    said = page.locator("#view p.error").inner_text()
    assert said.startswith("Time window: 'banana' is neither a duration"), said


def test_a_bad_outcome_in_the_address_is_named_by_its_label(ui: Page) -> None:
    # It said "failed must be true or false, not 'maybe'".
    page = ui.open("#/traces?failed=maybe")
    said = page.locator("#view p.error").inner_text()
    assert said == "Outcome: must be true or false, not 'maybe'", said


def test_showing_the_jobs_of_no_tag_says_what_it_needs(ui: Page) -> None:
    # Show with an empty (or blank) tag did nothing at all.
    page = ui.open("#/exhausts")
    field = page.locator("#exhaust-lookup [name=tag]")
    field.fill("   ")
    page.click("#exhaust-lookup button[type=submit]")
    said = field.evaluate("node => node.validationMessage")
    assert said == "Type the tag of a request to list its jobs.", said
    assert page.evaluate("document.activeElement.name") == "tag"
    assert page.url.endswith("#/exhausts")
    field.fill("no-such-tag")  # typing clears it, and Show goes on
    page.click("#exhaust-lookup button[type=submit]")
    ui.ready("#/exhausts/no-such-tag")


def test_a_number_field_that_is_not_a_number_is_refused_not_replaced(ui: Page) -> None:
    # "abc" in Intervals or Steps was quietly sent as the default (8, 5) and the form then
    # showed the default, as though it had been typed.
    ui.open("#/retention")
    said = refused(ui, "#retention-form", "#/retention?", intervals="abc")
    assert said == "Intervals: expected a whole number from 1 to 120, got 'abc'", said
    assert ui.page.input_value("#retention-form input[name=intervals]") == "abc"
    ui.open("#/paths")
    said = refused(ui, "#paths-form", "#/paths?", steps="3.5")
    assert said == "Steps: expected a whole number from 2 to 20, got '3.5'", said
    assert ui.page.input_value("#paths-form input[name=steps]") == "3.5"
    # Empty is the default, as before.
    ui.open("#/retention")
    ui.page.fill("#retention-form input[name=intervals]", "")
    page = submitted(ui, "#retention-form", "#/retention?")
    assert page.input_value("#retention-form input[name=intervals]") == "8"


def test_an_exclusion_line_without_its_steps_says_so(ui: Page) -> None:
    # "request 3" went as an exclusion with no event and NaN steps; "request 3:a:b" quietly
    # as one over the whole funnel.
    page = ui.open("#/funnels")
    page.fill("#funnel-form textarea[name=steps]", "request 1\nrequest 2\nrequest 4")
    field = page.locator("#funnel-form textarea[name=exclusions]")
    field.fill("request 3")
    page.click("#funnel-form button[type=submit]")
    said = field.evaluate("node => node.validationMessage")
    assert said.startswith("Exclusions, line 1: expected EVENT:FROM:TO"), said
    assert page.url.endswith("#/funnels")
    said = refused(ui, "#funnel-form", "#/funnels?", exclusions="request 3:0:2\nrequest 3:a:1")
    assert said == "Exclusions, line 2, its FROM: expected a whole number from 0 to 2, got 'a'"
    assert page.input_value("#funnel-form textarea[name=exclusions]").endswith("request 3:a:1")


@pytest.mark.parametrize("width", [1280, 420])
def test_the_failed_set_checkbox_sits_beside_its_words(ui: Page, width: int) -> None:
    # It sat above "failed set (N)", in the column the other labels use.
    ui.page.set_viewport_size({"width": width, "height": 860})
    page = ui.open("#/client-events")
    box = page.locator("input[name=failed]").bounding_box()
    words = page.locator("label:has(> input[name=failed])").bounding_box()
    assert box and words
    assert words["height"] < box["height"] * 2.5, (box, words)  # one line
    assert abs((box["y"] + box["height"] / 2) - (words["y"] + words["height"] / 2)) < 4
