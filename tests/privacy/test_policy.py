from __future__ import annotations

import pytest

from bot_telemetry import PrivacyPolicy


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
