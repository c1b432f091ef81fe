"""Finding personal data in values we know nothing about, and leaving lookalikes alone."""

from __future__ import annotations

import json

import pytest

from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.privacy.detection import is_card, is_phone, luhn, personal
from tests.privacy.test_corpus import CORPUS, NAMES, PATTERNED

OPENED = PrivacyPolicy(log_personal_information=True)

#: Values that look like phone or card numbers to a plain pattern, and are not.
LOOKALIKES = [
    "0.8446753",  # an entity score
    "3.14159",
    "-12.5",
    "1714567890123",  # epoch milliseconds
    "1714567890123456789",  # epoch nanoseconds
    "2024-05-01T12:34:56.789Z",
    "2024-05-01 12:34:56",
    "2024-05-01",
    "4.17.1",
    "10.0.19041.1234",  # a Windows build
    "1.0.0b58",
    "123e4567-e89b-12d3-a456-426614174000",
    "b31aeaf3-3511-495b-a07f-571fc873214b",
    "4bf92f3577b34da6a3ce929d0e0e4736",  # a trace id
    "00f067aa0ba902b7",  # a span id
    "ORD-2024-000123",
    # Teams conversation, team, channel, meeting and chat ids: not email addresses
    "19:3fJk2lmnOPqrSTuv@thread.tacv2",
    "19:3fJk2lmnOPqrSTuv@thread.tacv2;messageid=1700000000001",
    "19:meeting_MjA1ZTAwYjUtOTQ@thread.v2",
    "19:5a1b2c3d-e4f5@unq.gbl.spaces",
    "19:a6e3bf18c8b24a31@thread.skype",
]


@pytest.mark.parametrize("value", LOOKALIKES)
def test_a_lookalike_survives_redaction_in_text(value: str) -> None:
    text = f"intent BookFlight at {value}, next"
    assert OPENED.redact_text(text) == text


@pytest.mark.parametrize("value", LOOKALIKES)
def test_a_lookalike_is_not_personal(value: str) -> None:
    assert not personal(value)
    assert PrivacyPolicy().apply({"measuredAt": value}) == {"measuredAt": value}


@pytest.mark.parametrize("_user, _name, text", CORPUS)
def test_every_pattern_in_the_corpus_is_redacted(_user: str, _name: str, text: str) -> None:
    redacted = OPENED.redact_text(text)
    assert "[REDACTED]" in redacted
    for secret in PATTERNED:
        assert secret not in redacted


@pytest.mark.parametrize(
    "value",
    [
        "grace.hopper@navy.example.mil",
        "+44 20 7946 0958",
        "+442079460958",
        "(415) 555-0132",
        "415.555.0132",
        "4111 1111 1111 1111",
        "4111111111111111",
        "5500-0000-0000-0004",
        "Grace Hopper",
        "Grace%20Hopper",
        "Grace+Hopper",
        "book a table for two",
    ],
)
def test_personal_values_are_found(value: str) -> None:
    assert personal(value)


def test_card_numbers_must_pass_luhn_and_start_like_a_card() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert is_card("4111 1111 1111 1111")
    assert not is_card("4111 1111 1111 1112")  # fails Luhn
    assert not is_card("1714567890123456789")  # an epoch: no card starts with 1


@pytest.mark.parametrize(
    ("candidate", "phone"),
    [
        ("(415) 555-0132", True),
        ("+44 20 7946 0958", True),
        ("415-555-0132", True),
        ("01.23.45.67.89", True),
        ("612 345 678", True),  # Spain's way
        ("98765 43210", True),  # India's
        # bare digits: only in a phone's shape (a mobile's, a trunk 0, an international 00)
        ("9876543210", True),
        ("919876543210", True),
        ("07700900123", True),
        ("0612345678", True),
        ("00442079460958", True),
        ("4155550132", False),  # a North American number without separators: a number
        ("48213579", False),
        ("125000000", False),
        ("1714567890", False),
        ("0012345", False),
        ("1 250 000", False),  # an amount grouped in thousands
        ("12 500 000", False),
        ("0.8446753", False),
        ("2024-05-01", False),
        ("10.0.19041.1234", False),
        ("192.168.100.200", False),
        ("1714567890123", False),
        ("555-01", False),
    ],
)
def test_phone_candidates(candidate: str, phone: bool) -> None:
    assert is_phone(candidate) is phone


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("views 3456789 1250000 total", "views 3456789 1250000 total"),
        ("call 9876543210 1250000", "call [REDACTED] 1250000"),
        ("call 9876 543210", "call [REDACTED]"),
        ("call 98765 43210", "call [REDACTED]"),
        ("paid 1250000 123456 today", "paid 1250000 123456 today"),
        ("call 9876543210 123456", "call [REDACTED] 123456"),
        ("call 030 12345678", "call [REDACTED]"),
        ("call +91 9876543210", "call [REDACTED]"),
    ],
)
def test_two_numbers_side_by_side_are_not_one_phone_number(text: str, redacted: str) -> None:
    # without "+" or a trunk 0, a space before or after 7 digits parts two numbers
    assert OPENED.redact_text(text) == redacted


def test_json_is_redacted_inside_its_strings_and_stays_valid() -> None:
    entities = {
        "email": ["ada@example.org"],
        "$instance": {"email": [{"score": 0.8446753, "startIndex": 8, "text": "ada@example.org"}]},
    }
    raw = json.dumps(entities)
    redacted = OPENED.redact_value(raw)
    assert json.loads(redacted) == {
        "email": ["[REDACTED]"],
        "$instance": {"email": [{"score": 0.8446753, "startIndex": 8, "text": "[REDACTED]"}]},
    }


def test_unchanged_json_keeps_its_formatting() -> None:
    raw = '{"a": [1, 2.5, "x"],  "b": null}'
    assert OPENED.redact_value(raw) == raw
    assert PrivacyPolicy().apply({"payload": raw}) == {"payload": raw}


def test_text_that_only_looks_like_json_is_redacted_as_text() -> None:
    assert OPENED.redact_value("[call +44 20 7946 0958]") == "[call [REDACTED]]"


def test_names_and_free_text_under_unknown_keys_are_left_out() -> None:
    for name in NAMES:
        assert PrivacyPolicy().apply({"guest": name, "party": 4}) == {"party": 4}


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("GET /predict?query=mail+grace%40example.org", "GET /predict?query=mail [REDACTED]"),
        ("tel=%2B44+20+7946+0958&x=1", "tel=[REDACTED]&x=1"),
        ("q=4111%201111%201111%201111", "q=[REDACTED]"),
        ("a+b=c%20d, nothing personal", "a+b=c%20d, nothing personal"),
    ],
)
def test_url_encoding_does_not_hide_a_match(text: str, redacted: str) -> None:
    assert OPENED.redact_text(text) == redacted


@pytest.mark.parametrize(
    "value", ["1:grace@example.org", "19:grace@example.org", "grace@thread.com", "g@thread.tacv2"]
)
def test_an_address_beside_a_teams_lookalike_is_still_an_email(value: str) -> None:
    assert personal(value)
    assert "[REDACTED]" in OPENED.redact_text(value)
