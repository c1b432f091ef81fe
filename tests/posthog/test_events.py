"""Our events as capture events: who, which session, what uuid, what is left out."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from bot_telemetry.posthog import EventRecord, PostHogSettings, capture_event, event_uuid
from bot_telemetry.posthog.events import iso_time, session_uuid
from bot_telemetry.privacy import PrivacyPolicy

SETTINGS = PostHogSettings(api_key="phc_key", host="http://127.0.0.1:9")
NOW = 1_790_000_000_123_456_789
TURN = {
    "activityId": "a1",
    "conversationId": "conv-1",
    "channelId": "directline",
    "enduser.pseudo.id": "user-hash",
    "session.id": "session-hash",
}


def record(name: str = "QnAMessage", **attributes: object) -> EventRecord:
    return EventRecord(
        name, NOW, "ab" * 16, "cd" * 8, {**TURN, **attributes}, "bot", service_version="1.2.3"
    )


def test_a_turn_event_maps_to_the_user_session_conversation_and_trace() -> None:
    event = capture_event(record(score=0.9), SETTINGS, PrivacyPolicy())
    assert event["event"] == "QnAMessage"
    assert event["distinct_id"] == "user-hash"
    assert event["timestamp"] == "2026-09-21T14:13:20.123456Z"
    properties = event["properties"]
    assert properties["conversation_id"] == "conv-1"
    assert properties["channel"] == "directline"
    assert properties["trace_id"] == "ab" * 16 and properties["span_id"] == "cd" * 8
    assert properties["service"] == "bot" and properties["service_version"] == "1.2.3"
    assert properties["score"] == 0.9
    assert properties["$process_person_profile"] is False
    session = uuid.UUID(properties["$session_id"])
    assert session.version == 7


def test_person_profiles_always_leaves_persons_to_posthog() -> None:
    settings = PostHogSettings(api_key="k", host="http://h", person_profiles="always")
    assert (
        "$process_person_profile"
        not in capture_event(record(), settings, PrivacyPolicy())["properties"]
    )


def test_uuids_are_deterministic_and_differ_per_event() -> None:
    first, again = record(), record()
    assert event_uuid(first) == event_uuid(again)
    assert event_uuid(first).version == 5
    later = first._replace(time_ns=NOW + 1)
    other = first._replace(name="LuisIntent.Book")
    assert len({event_uuid(first), event_uuid(later), event_uuid(other)}) == 3


def test_a_client_event_uuid_comes_from_its_own_id_with_name_and_time() -> None:
    client = EventRecord("INTERACT", NOW, None, None, {"log.record.uid": "mid-1"}, "webchat")
    moved = client._replace(trace_id="ef" * 16)
    assert event_uuid(client) == event_uuid(moved), "the client's id, not where it was seen"
    assert event_uuid(client) != event_uuid(client._replace(time_ns=NOW + 1_000_000))


def test_the_session_is_one_uuid7_per_day_dated_at_midnight() -> None:
    same_day = session_uuid("s", NOW), session_uuid("s", NOW + 3600 * 10**9)
    assert same_day[0] == same_day[1]
    next_day = session_uuid("s", NOW + 86_400 * 10**9)
    assert next_day != same_day[0]
    assert session_uuid("t", NOW) != same_day[0]
    found = uuid.UUID(same_day[0])
    started_ms = found.int >> 80
    assert started_ms * 1_000_000 <= NOW < (started_ms + 86_400_000) * 1_000_000
    day = datetime.fromtimestamp(started_ms / 1000, UTC)
    assert (day.hour, day.minute, day.second) == (0, 0, 0)


def test_without_a_user_the_conversation_then_the_service_is_the_distinct_id() -> None:
    no_user = EventRecord("X", NOW, None, None, {"conversationId": "c9"}, "bot")
    assert capture_event(no_user, SETTINGS, PrivacyPolicy())["distinct_id"] == "conversation:c9"
    alone = EventRecord("X", NOW, None, None, {}, "nlu")
    assert capture_event(alone, SETTINGS, PrivacyPolicy())["distinct_id"] == "service:nlu"
    received = EventRecord("BotMessageReceived", NOW, None, None, {"fromId": "ab" * 16}, "bot")
    assert capture_event(received, SETTINGS, PrivacyPolicy())["distinct_id"] == "ab" * 16


def test_the_turn_span_supplies_user_and_session_for_older_events() -> None:
    old = EventRecord(
        "QnAMessage",
        NOW,
        None,
        None,
        {"conversationId": "c1"},
        "bot",
        turn={"enduser.pseudo.id": "u7", "session.id": "s7"},
    )
    event = capture_event(old, SETTINGS, PrivacyPolicy())
    assert event["distinct_id"] == "u7"
    assert event["properties"]["$session_id"] == session_uuid("s7", NOW)


def test_the_policy_applies_before_anything_leaves() -> None:
    personal = record(text="call me at +44 20 7946 0958", question="my card", answer="ok")
    closed = capture_event(personal, SETTINGS, PrivacyPolicy())["properties"]
    assert "text" not in closed and "question" not in closed and closed["answer"] == "ok"
    opened = capture_event(personal, SETTINGS, PrivacyPolicy(log_personal_information=True))
    assert opened["properties"]["text"] == "call me at [REDACTED]"
    denied = capture_event(personal, SETTINGS, PrivacyPolicy(deny_keys=frozenset({"answer"})))
    assert "answer" not in denied["properties"]


def test_user_ids_the_policy_made_are_not_hashed_again() -> None:
    # What the bot's signals and serve's client-event receiver store: the policy's pseudonyms.
    policy = PrivacyPolicy(pseudonymization_key="k")
    user, bot = policy.pseudonymize("29:1AliceRaw"), policy.pseudonymize("28:bot-raw")
    stored = {"fromId": user, "recipientId": bot, "userId": user, "TeamsUserAadObjectId": user}
    received = EventRecord("BotMessageReceived", NOW, None, None, stored, "bot")
    for applied in (policy, PrivacyPolicy(pseudonymization_key="k", log_personal_information=True)):
        event = capture_event(received, SETTINGS, applied)
        assert event["distinct_id"] == user
        assert {key: event["properties"][key] for key in stored} == stored
    denied = PrivacyPolicy(pseudonymization_key="k", deny_keys=frozenset({"recipientId"}))
    assert "recipientId" not in capture_event(received, SETTINGS, denied)["properties"]


def test_a_raw_id_or_free_text_recorded_past_the_policy_does_not_leave() -> None:
    # A log record made by other code: the raw ids are hashed, unknown free text judged.
    policy = PrivacyPolicy(pseudonymization_key="k")
    raw = {
        "fromId": "29:1AliceRaw",
        "recipientId": "28:bot-raw",
        "TeamsUserAadObjectId": "6f1c0a8e-1f55-4a55-9a52-3b1a4f0e8c21",
        "visitorNote": "Alice Smith, flat 4, ring twice",
        "tally": 3,
    }
    event = capture_event(EventRecord("X", NOW, None, None, raw, "bot"), SETTINGS, policy)
    assert event["distinct_id"] == policy.pseudonymize("29:1AliceRaw")
    properties = event["properties"]
    for key in ("fromId", "recipientId", "TeamsUserAadObjectId"):
        assert properties[key] == policy.pseudonymize(raw[key])
    assert "visitorNote" not in properties and properties["tally"] == 3
    sent = json.dumps(event)
    assert not any(str(raw[key]) in sent for key in ("fromId", "recipientId", "visitorNote"))
    assert "6f1c0a8e" not in sent


def test_include_and_exclude_by_name_or_pattern() -> None:
    settings = PostHogSettings(
        api_key="k", host="http://h", include=("BotMessage*", "LuisIntent.*"), exclude=("*Delete",)
    )
    assert settings.wants("BotMessageReceived") and settings.wants("LuisIntent.Book")
    assert not settings.wants("BotMessageDelete") and not settings.wants("QnAMessage")
    assert PostHogSettings(api_key="k").wants("anything")
    # serve's audit of exhaust downloads (the downloader's address) whatever the patterns.
    assert not PostHogSettings(api_key="k", include=("Exhaust*",)).wants("ExhaustDownloaded")


def test_settings_from_the_environment_and_clear_errors() -> None:
    assert PostHogSettings.from_environment({}) is None
    found = PostHogSettings.from_environment(
        {
            "POSTHOG_API_KEY": "phc_x",
            "POSTHOG_HOST": "https://eu.i.posthog.com/",
            "POSTHOG_EVENTS": "BotMessage*, QnAMessage",
            "POSTHOG_EXCLUDE_EVENTS": "BotMessageDelete",
        }
    )
    assert found is not None
    assert found.batch_url == "https://eu.i.posthog.com/batch/"
    assert found.include == ("BotMessage*", "QnAMessage")
    assert found.exclude == ("BotMessageDelete",)
    for bad, variable in (
        ({"POSTHOG_HOST": "eu.i.posthog.com"}, "POSTHOG_HOST"),
        ({"POSTHOG_PERSON_PROFILES": "sometimes"}, "POSTHOG_PERSON_PROFILES"),
        ({"POSTHOG_RETRY_SECONDS": "soon"}, "POSTHOG_RETRY_SECONDS"),
        # requests refuses a timeout of 0: every batch would fail.
        ({"POSTHOG_TIMEOUT": "0"}, "POSTHOG_TIMEOUT"),
        # A batch retried for ever (the queue behind it filling up), a timeout requests
        # refuses on every request: no number of seconds.
        ({"POSTHOG_RETRY_SECONDS": "inf"}, "POSTHOG_RETRY_SECONDS"),
        ({"POSTHOG_RETRY_SECONDS": "nan"}, "POSTHOG_RETRY_SECONDS"),
        ({"POSTHOG_TIMEOUT": "inf"}, "POSTHOG_TIMEOUT"),
        ({"POSTHOG_TIMEOUT": "NaN"}, "POSTHOG_TIMEOUT"),
    ):
        try:
            PostHogSettings.from_environment({"POSTHOG_API_KEY": "k", **bad})
        except ValueError as error:
            assert variable in str(error)
        else:
            raise AssertionError(f"{bad} accepted")


def test_timestamps_are_iso_utc_with_microseconds() -> None:
    now = time.time_ns()
    parsed = datetime.fromisoformat(iso_time(now).replace("Z", "+00:00"))
    assert abs(parsed.timestamp() * 1e9 - now) < 2_000


def test_the_uuid_sent_is_the_uuid5_of_the_event() -> None:
    for item in (record(), record("LuisIntent.Book", n=1), record()._replace(key="span:x:y")):
        sent = capture_event(item, SETTINGS, PrivacyPolicy())["uuid"]
        assert sent == str(event_uuid(item)) and uuid.UUID(sent).version == 5


def test_the_vaults_ciphertext_of_a_real_id_never_goes_to_posthog() -> None:
    # ConsentChanged carries a consenting user's real id encrypted, for the private exhaust
    # (which hides it once they withdraw). PostHog would keep it whatever they decide later.
    token = "v1:k1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"
    granted = record("ConsentChanged", consent="granted", encryptedUserId=token)
    for policy in (PrivacyPolicy(), PrivacyPolicy(log_personal_information=True)):
        event = capture_event(granted, SETTINGS, policy)
        assert event["properties"]["consent"] == "granted"
        assert event["distinct_id"] == "user-hash"
        assert "encryptedUserId" not in event["properties"]
        assert token not in json.dumps(event)
