from __future__ import annotations

import json
from enum import Enum

import pytest

from bot_telemetry import PrivacyPolicy
from bot_telemetry.privacy import Treatment


def test_default_drops_personal_keys_and_keeps_the_rest():
    kept = PrivacyPolicy().apply(
        {"text": "my card 4111 1111 1111 1111", "fromName": "Ada", "channelId": "msteams"}
    )
    assert kept == {"channelId": "msteams"}


def test_opened_policy_keeps_text_redacted():
    policy = PrivacyPolicy(log_personal_information=True)
    kept = policy.apply(
        {"text": "mail ada@example.org or call +44 20 7946 0958, card 4111-1111-1111-1111"}
    )
    assert "ada@example.org" not in kept["text"]
    assert "7946" not in kept["text"]
    assert "4111" not in kept["text"]
    assert kept["text"].startswith("mail [REDACTED]")


def test_user_patterns_and_no_redaction():
    policy = PrivacyPolicy(log_personal_information=True, redact=(), extra_patterns=(r"ID-\d+",))
    assert policy.apply({"text": "ID-42 ada@example.org"}) == {"text": "[REDACTED] ada@example.org"}


def test_allow_and_deny_lists():
    policy = PrivacyPolicy(allow_keys=frozenset({"channelId", "text"}), deny_keys={"locale"})
    assert policy.apply({"channelId": "c", "locale": "en", "other": 1, "text": "hi"}) == {
        "channelId": "c",
        "text": "hi",
    }


def test_pseudonyms_are_keyed_and_stable():
    one = PrivacyPolicy(pseudonymization_key="k1")
    two = PrivacyPolicy(pseudonymization_key="k2")
    assert one.pseudonymize("user-1") == one.pseudonymize("user-1")
    assert one.pseudonymize("user-1") != two.pseudonymize("user-1")
    assert "user-1" not in one.pseudonymize("user-1")


def test_values_are_bounded():
    policy = PrivacyPolicy(max_value_length=10)
    assert policy.apply({"channelId": "x" * 100}) == {"channelId": "x" * 10}


def test_long_json_is_cut_inside_its_strings_and_stays_valid():
    policy = PrivacyPolicy(max_value_length=10)
    value = json.dumps(["x" * 100, "y" * 100])
    assert json.loads(policy.apply({"matchedQuestion": value})["matchedQuestion"]) == [
        "x" * 10,
        "y" * 10,
    ]


def test_unknown_builtin_pattern_is_rejected():
    with pytest.raises(ValueError, match="unknown redaction pattern"):
        PrivacyPolicy(redact=("ssn",))


def test_user_ids_are_pseudonymized_even_when_personal_data_is_allowed():
    for policy in (
        PrivacyPolicy(pseudonymization_key="k"),
        PrivacyPolicy(pseudonymization_key="k", log_personal_information=True),
    ):
        kept = policy.apply({"fromId": "ada@example.org", "recipientId": "u-1", "channelId": "c"})
        assert kept == {
            "fromId": policy.pseudonymize("ada@example.org"),
            "recipientId": policy.pseudonymize("u-1"),
            "channelId": "c",
        }


def test_pseudonymous_keys_are_configurable():
    policy = PrivacyPolicy(pseudonymization_key="k", pseudonymous_keys=frozenset({"tenant"}))
    assert policy.apply({"tenant": "t-1", "fromId": "u-1"}) == {
        "tenant": policy.pseudonymize("t-1"),
        "fromId": "u-1",
    }


# --- keys the policy does not know --------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "userQuestion",
        "original_question",
        "guestName",
        "contactEmail",
        "phoneNumber",
        "feedbackText",
        "username",
        "customer",
    ],
)
def test_an_unknown_key_named_like_personal_data_is_personal(key: str) -> None:
    assert PrivacyPolicy().apply({key: "my_important_value", "channelId": "c"}) == {
        "channelId": "c"
    }
    opened = PrivacyPolicy(log_personal_information=True)
    assert opened.apply({key: "write to ada@example.org"}) == {key: "write to [REDACTED]"}


@pytest.mark.parametrize("key", ["questionId", "messageCount", "textLength", "StepName"])
def test_a_key_that_only_mentions_a_personal_word_is_not_personal(key: str) -> None:
    assert PrivacyPolicy().apply({key: "q-12"}) == {key: "q-12"}


def test_unknown_keys_keep_tokens_and_numbers_and_drop_free_text() -> None:
    kept = PrivacyPolicy().apply(
        {
            "test": "testvalue",
            "MyImportantProperty": "myImportantValue",
            "id": "MyId",
            "items": 3,
            "ratio": 0.8446753,
            "ok": True,
            "note": "Grace Hopper booked it",
            "contact": "grace.hopper@navy.example.mil",
            "tel": "+44 20 7946 0958",
        }
    )
    assert kept == {
        "test": "testvalue",
        "MyImportantProperty": "myImportantValue",
        "id": "MyId",
        "items": 3,
        "ratio": 0.8446753,
        "ok": True,
    }


def test_structured_values_under_unknown_keys_keep_their_shape() -> None:
    kept = PrivacyPolicy().apply(
        {
            "order": {"id": "o-1", "guest": "Grace Hopper", "Ada Lovelace": 1, "seats": [1, 2]},
            "json": '{"id":"o-1","note":"call me on +44 20 7946 0958","score":0.5}',
        }
    )
    assert kept["order"] == {"id": "o-1", "guest": None, "seats": [1, 2]}
    assert json.loads(kept["json"]) == {"id": "o-1", "note": None, "score": 0.5}


def test_safe_keys_are_recorded_as_they_are() -> None:
    policy = PrivacyPolicy(safe_keys=frozenset({"dialogResult"}))
    assert policy.apply({"dialogResult": "Booking completed"}) == {
        "dialogResult": "Booking completed"
    }
    assert PrivacyPolicy().apply({"dialogResult": "Booking completed"}) == {}


def test_a_listed_key_is_vouched_for() -> None:
    policy = PrivacyPolicy(allow_keys=frozenset({"note", "channelId"}))
    assert policy.apply({"note": "Booking completed", "channelId": "c", "other": "x"}) == {
        "note": "Booking completed",
        "channelId": "c",
    }


def test_known_keys_are_recorded_without_value_checks() -> None:
    # the knowledge base's answer is bot content (conversation ids: their own rule, below)
    kept = PrivacyPolicy().apply({"answer": "Call us on +44 20 7946 0958", "intentScore": 0.9})
    assert kept == {"answer": "Call us on +44 20 7946 0958", "intentScore": 0.9}


def test_a_conversation_name_is_judged_by_its_value() -> None:
    policy = PrivacyPolicy()
    assert policy.apply({"conversationName": "support"}) == {"conversationName": "support"}
    assert policy.apply({"conversationName": "Grace's birthday"}) == {}


def test_enum_keys_become_their_values() -> None:
    class Keys(str, Enum):  # noqa: UP042 (botbuilder's kind: str() is not the value)
        question = "question"
        intent = "intent"

    kept = PrivacyPolicy().apply({Keys.question: "hello there", Keys.intent: "Greeting"})
    assert kept == {"intent": "Greeting"}
    assert [type(key) for key in kept] == [str]


def test_numeric_user_ids_are_pseudonymized_too() -> None:
    policy = PrivacyPolicy(pseudonymization_key="k")
    assert policy.apply({"userId": 12345}) == {"userId": policy.pseudonymize("12345")}


def test_decisions_are_remembered_per_key() -> None:
    policy = PrivacyPolicy()
    assert policy.treatment("guestName") is Treatment.DROP
    assert policy.treatment("test") is Treatment.DETECT
    assert policy.treatment("channelId") is Treatment.KEEP
    assert policy.treatment("fromId") is Treatment.HASH
    assert PrivacyPolicy(log_personal_information=True).treatment("test") is Treatment.REDACT
    assert set(policy._decisions) == {"guestName", "test", "channelId", "fromId"}


def test_known_safe_fields_of_our_own_maps() -> None:
    policy = PrivacyPolicy(deny_keys=frozenset({"spanId"}))
    report = {"name": "Recognizer Query", "target": "nlu", "spanId": "00f067aa0ba902b7"}
    assert policy.apply(report, known_safe={"name", "target", "spanId"}) == {
        "name": "Recognizer Query",
        "target": "nlu",
    }


# --- free text, URLs --------------------------------------------------------------------


def test_free_text_loses_the_turns_personal_values_unless_they_may_be_logged() -> None:
    known = ["Grace Hopper", "book a table for 2"]
    text = "Grace Hopper said: book a table for 2, mail grace@example.org"
    assert PrivacyPolicy().free_text(text, known) == "[REDACTED] said: [REDACTED], mail [REDACTED]"
    assert PrivacyPolicy(log_personal_information=True).free_text(text, known) == (
        "Grace Hopper said: book a table for 2, mail [REDACTED]"
    )
    # whatever the case the bot wrote the value in
    assert PrivacyPolicy().free_text("Thanks GRACE hopper, ana.", ["grace Hopper", "Ana"]) == (
        "Thanks [REDACTED], [REDACTED]."
    )


def test_urls_lose_credentials_and_under_the_default_policy_query_and_fragment() -> None:
    url = "https://user:secret@bot.example.net:8443/users/ada@example.org/x?q=Grace#f"
    assert PrivacyPolicy().url(url) == "https://bot.example.net:8443/users/[REDACTED]/x"
    assert PrivacyPolicy(log_personal_information=True).url(url) == (
        "https://bot.example.net:8443/users/[REDACTED]/x?q=Grace#f"
    )
    assert PrivacyPolicy().url("http://[::1]:80/a") == "http://[::1]:80/a"


# --- conversation ids -------------------------------------------------------------------


@pytest.mark.parametrize("personal", [False, True], ids=["default", "log_personal_information"])
def test_a_conversation_id_is_kept_unless_it_holds_personal_data(personal: bool) -> None:
    policy = PrivacyPolicy(pseudonymization_key=b"k", log_personal_information=personal)
    for kept in ("8bcQ2xJ-us", "a:1xYz-9", "19:abc123@thread.tacv2", "19:m@thread.v2;messageid=1"):
        assert policy.conversation_id(kept) == kept
        assert policy.apply({"conversationId": kept}) == {"conversationId": kept}
    # SMS and WhatsApp name a conversation after the user's number: a keyed hash, the same
    # everywhere (events, the turn span, URLs), and stable (a hash is kept as it is)
    for personal_id in ("whatsapp:+14155550123", "sms:+44 7700 900123", "ada@example.org"):
        hashed = policy.conversation_id(personal_id)
        assert hashed == policy.pseudonymize(personal_id)
        assert policy.conversation_id(hashed) == hashed
        for key in ("conversationId", "activity.conversation.id", "gen_ai.conversation.id"):
            assert policy.apply({key: personal_id}) == {key: hashed}


def test_a_long_running_policy_remembers_the_recent_values_and_no_more() -> None:
    # Conversations, users and paths come without end: past the bound the oldest is
    # forgotten (a memory that stopped growing judged every later value again, for good).
    from bot_telemetry.privacy import policy as module

    bound = module._REMEMBERED_VALUES
    policy = PrivacyPolicy(pseudonymization_key=b"k")
    ids = [f"whatsapp:+1415{n:07d}" for n in range(bound + 100)]
    first = [policy.conversation_id(each) for each in ids]
    users = [policy.pseudonymize(each) for each in ids]
    assert len(policy._conversation_ids) == bound and len(policy._pseudonyms) == bound
    assert ids[-1] in policy._conversation_ids and ids[0] not in policy._conversation_ids
    # The same answers, remembered or judged again.
    assert [policy.conversation_id(each) for each in ids] == first
    assert [policy.pseudonymize(each) for each in ids] == users
    assert first[0] == users[0] != ids[0]


def test_a_pseudonym_follows_the_environments_key(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = PrivacyPolicy()  # no key of its own: the environment's, read each time
    monkeypatch.setenv("BOT_TELEMETRY_PSEUDONYM_KEY", "one")
    first = policy.pseudonymize("user-1")
    monkeypatch.setenv("BOT_TELEMETRY_PSEUDONYM_KEY", "two")
    assert policy.pseudonymize("user-1") != first
    monkeypatch.setenv("BOT_TELEMETRY_PSEUDONYM_KEY", "one")
    assert policy.pseudonymize("user-1") == first
