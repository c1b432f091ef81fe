"""A policy document (``serve --privacy FILE``) takes every field ``PrivacyPolicy`` takes,
read from the class: a field the class gains is one a document can set."""

from __future__ import annotations

import dataclasses

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.privacy.document import policy_from_document

DOCUMENT = {
    "log_personal_information": True,
    "redact": ["email"],
    "extra_patterns": [r"ACCT-\d+"],
    "allow_keys": ["db.name"],
    "deny_keys": ["customer.account"],
    "pseudonymization_key": "a shared secret",
    "max_value_length": 256,
    "replacement": "***",
    "pseudonymous_keys": ["fromId"],
    "safe_keys": ["tenant"],
    "consent_mode": True,
}


def test_every_field_of_the_policy_can_be_set_from_a_document() -> None:
    settable = {field.name for field in dataclasses.fields(PrivacyPolicy) if field.init}
    assert set(DOCUMENT) == settable  # a new field: add it here, and check it converts
    policy = policy_from_document(DOCUMENT)
    default = PrivacyPolicy()
    for name, value in DOCUMENT.items():
        found = getattr(policy, name)
        assert found != getattr(default, name), name
        if isinstance(found, tuple | frozenset):
            assert sorted(found) == sorted(value), name
        else:
            assert found == value, name
    assert policy.redact_text("ACCT-20417 a@b.co 9876543210") == "*** *** 9876543210"
    assert isinstance(policy.allow_keys, frozenset) and policy_from_document({}) == default
    assert policy_from_document({"allow_keys": None}).allow_keys is None
