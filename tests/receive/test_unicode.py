"""Lone surrogates from JSON escapes become U+FFFD, in keys and values, nested or not."""

from __future__ import annotations

import json

from bot_telemetry.receive.unicode import may_hold_surrogates, without_surrogates


def test_lone_surrogates_become_the_replacement_character() -> None:
    text = b'{"a\\ud800": ["x\\udfff", {"k": "\\ud83d\\ude00 ok"}], "n": 1, "t": true}'
    assert may_hold_surrogates(text)
    repaired = without_surrogates(json.loads(text))
    # A pair that makes a whole character is kept; only the lone halves are replaced.
    assert repaired == {"a\ufffd": ["x\ufffd", {"k": "\U0001f600 ok"}], "n": 1, "t": True}
    assert json.dumps(repaired, ensure_ascii=False).encode("utf-8")


def test_text_without_a_surrogate_escape_is_not_looked_at() -> None:
    assert not may_hold_surrogates(b'{"a": "\\u00e9", "b": "\\ud7ff", "c": "\\ue000"}')
    value = {"a": ["b"]}
    assert without_surrogates(value) == value
