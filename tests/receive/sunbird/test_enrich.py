from __future__ import annotations

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.receive.sunbird.enrich import Sessions, fill_from_headers, private_edata
from bot_telemetry.receive.sunbird.validate import validate
from tests.receive.sunbird.events import event


def test_headers_fill_missing_context_only() -> None:
    made = event("START", did=None)
    del made["context"]["channel"]
    fill_from_headers(made, "dev-h", "chan-h", "app-h")
    context = made["context"]
    assert context["did"] == "dev-h" and context["channel"] == "chan-h"
    assert context["pdata"]["id"] == "webchat"  # the event's own wins
    assert context["pdata"]["pid"] == "sample-bot-webchat"


def test_headers_only_context_makes_an_event_valid() -> None:
    made = event("IMPRESSION", did=None, sid=None, conversation=None)
    del made["context"]
    made["context"] = {"env": "webchat"}
    assert validate(made) is not None
    fill_from_headers(made, "dev-h", "chan-h", "app-h")
    assert validate(made) is None
    assert made["context"]["pdata"] == {"id": "app-h", "pid": "app-h"}


def test_no_headers_change_nothing() -> None:
    made = event("START")
    before = repr(made)
    fill_from_headers(made, "", "", "")
    assert repr(made) == before


def test_a_session_ends_after_the_gap() -> None:
    sessions = Sessions(gap_seconds=60)
    first = sessions.session_for("u", "d", 0)
    assert sessions.session_for("u", "d", 59_000) == first
    assert sessions.session_for("u", "d", 100_000) == first  # 41 s after the last event
    later = sessions.session_for("u", "d", 161_000)
    assert later != first and later.startswith("srv-")
    assert sessions.session_for("v", "d", 161_000) != later  # another user


def test_sessions_are_bounded() -> None:
    sessions = Sessions(max_users=2)
    for user in "abc":
        sessions.session_for(user, "d", 0)
    assert len(sessions._open) == 2


def test_free_text_is_dropped_by_default_and_redacted_when_allowed() -> None:
    edata = {"rating": 5, "commenttxt": "mail me at ana@example.com", "commentid": "x"}
    assert private_edata("FEEDBACK", edata, PrivacyPolicy()) == {"rating": 5, "commentid": "x"}
    opened = private_edata("FEEDBACK", edata, PrivacyPolicy(log_personal_information=True))
    assert opened["commenttxt"] == "mail me at [REDACTED]"
    interact = {"type": "CLICK", "id": "x", "extra": {"value": "call +44 20 7946 0958"}}
    assert "extra" not in private_edata("INTERACT", interact, PrivacyPolicy())
    kept = private_edata("INTERACT", interact, PrivacyPolicy(log_personal_information=True))
    assert kept["extra"] == {"value": "call [REDACTED]"}
    assert private_edata("START", {"type": "x"}, PrivacyPolicy()) == {"type": "x"}


def test_a_row_fills_every_log_column_by_name() -> None:
    from bot_telemetry.receive.sunbird.rows import BundleInfo, add_rows, event_row
    from bot_telemetry.store.rows import LOG_COLUMNS, Batch

    row = event_row(event("START"), BundleInfo(None, None, 1, "t"), PrivacyPolicy())
    batch = Batch()
    add_rows(batch, [row])
    assert batch.log_count == 1
    assert batch.logs["event_name"] == ["START"] and batch.logs["record_id"] == [row.record_id]
    assert {name: len(batch.logs[name]) for name in LOG_COLUMNS} == dict.fromkeys(LOG_COLUMNS, 1)
