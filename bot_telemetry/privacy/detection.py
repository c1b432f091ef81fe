"""Finding personal data in values: the patterns, their validators, and what free text is.

Two jobs, both on values whose meaning we do not know:

* ``redact``: replace emails, phone and card numbers in text, and nothing that only looks
  like them: a score ``0.8446753``, a version ``10.0.19041``, a date, the tail of a GUID or
  an epoch in milliseconds survive. A card must pass the Luhn check and start like a card
  (2-6); a phone number needs 7 to 15 digits (12 without separators) and is not a decimal
  number, a date, or a dotted version or address. JSON is redacted inside its strings
  only, so it stays valid.
* ``personal``: whether a value might be personal data at all. Free text (anything with
  whitespace, or encoded whitespace) might be; so might anything the patterns find. Numbers,
  identifiers, GUIDs, timestamps, versions and other single tokens are not.

Both are pure functions of the text, so results are cached: values repeat turn after turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote_plus

# Not a Teams thread or chat id (``19:3fJk…@thread.tacv2``, ``19:meeting_…@thread.v2``,
# ``19:…@unq.gbl.spaces``: the conversation, team and channel ids of every Teams bot), whose
# ``…@thread.tacv`` looked like an email: a team's id was left out, and under an opened
# policy cut to ``19:[REDACTED]2``. An address after ``1:`` or at thread.com still is one.
EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])"
    r"(?:(?<!\d:)|(?=[A-Za-z0-9._%+-]+@(?!thread\.[A-Za-z0-9]+\b|unq\.gbl\.spaces\b)))"
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
)
# Cards before phones: a 16-digit card number also looks like a long phone number.
CARD: Final = re.compile(r"(?<![\w.-])(?:\d[ -]?){12,18}\d(?![\w-])")
# Not after a word character or an id's separator, so a GUID's last group is not a phone.
PHONE: Final = re.compile(r"(?<![\w+.\-/])\+?\(?\d[\d\s().-]{5,}\d(?![\w-])")

_DECIMAL = re.compile(r"\d+\.\d+")
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}")
_DOTTED = re.compile(r"\d+(?:\.\d+)+")
# Dotted phone numbers written the usual ways: 415.555.0132, 01.23.45.67.89.
_DOTTED_PHONE = re.compile(r"\d{3}\.\d{3}\.\d{4}|\d{2}(?:\.\d{2}){4}")
_SPACE = re.compile(r"\s")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?: ?(?:Z|[+-]\d{2}:?\d{2}|UTC))?"
)

#: How many distinct values the caches remember.
_CACHED_VALUES = 8192


def luhn(digits: str) -> bool:
    """The Luhn checksum every payment card number passes.

    >>> luhn("4111111111111111"), luhn("4111111111111112")
    (True, False)
    """
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card(candidate: str) -> bool:
    digits = "".join(ch for ch in candidate if ch.isdigit())
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn(digits)


def is_phone(candidate: str) -> bool:
    text = candidate.strip()
    digits = sum(ch.isdigit() for ch in text)
    # E.164 allows 15 digits; written without "+" or separators a phone number has at most
    # 12, and a longer run is an epoch in milliseconds or an id.
    if not 7 <= digits <= (12 if text.isdigit() else 15):
        return False
    if _DECIMAL.fullmatch(text) or _DATE.match(text):
        return False
    if _DOTTED.fullmatch(text):  # versions and addresses, unless written like a phone
        return _DOTTED_PHONE.fullmatch(text) is not None
    return True


#: The built-in patterns by name, each with the check a match must pass.
BUILTIN: Final[dict[str, tuple[re.Pattern[str], Callable[[str], bool] | None]]] = {
    "email": (EMAIL, None),
    "card": (CARD, is_card),
    "phone": (PHONE, is_phone),
}


def redact_text(
    text: str,
    patterns: tuple[tuple[re.Pattern[str], Callable[[str], bool] | None], ...],
    replacement: str,
) -> str:
    """``text`` with every validated match of ``patterns`` replaced.

    URL encoding hides a match (``grace%40example.org``, ``%2B44+20+7946+0958`` in a query
    string that an error message quotes): when decoding the text reveals one, the decoded
    text is returned, redacted.
    """
    redacted = _redact(text, patterns, replacement)
    if "%" in redacted or "+" in redacted:
        decoded = unquote_plus(redacted)
        if decoded != redacted:
            found = _redact(decoded, patterns, replacement)
            if found != decoded:
                return found
    return redacted


def _redact(
    text: str,
    patterns: tuple[tuple[re.Pattern[str], Callable[[str], bool] | None], ...],
    replacement: str,
) -> str:
    for pattern, valid in patterns:
        if valid is None:
            text = pattern.sub(replacement, text)
        else:
            text = pattern.sub(_replacer(valid, replacement), text)
    return text


def _replacer(valid: Callable[[str], bool], replacement: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        found = match.group()
        return replacement if valid(found) else found

    return replace


def looks_like_json(text: str) -> bool:
    stripped = text.strip()
    return len(stripped) >= 2 and (
        (stripped[0] == "{" and stripped[-1] == "}") or (stripped[0] == "[" and stripped[-1] == "]")
    )


def map_json_strings(text: str, change: Callable[[str], str | None]) -> str | None:
    """``text`` (JSON) with ``change`` applied to every string in it, keys included; a key
    changed to None drops its member, a value changed to None becomes ``null``. None if
    ``text`` does not parse. Unchanged text is returned as it was, formatting and all.
    """
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    changed = map_strings(parsed, change)
    if changed == parsed:
        return text
    return json.dumps(changed, ensure_ascii=False, separators=(",", ":"))


def map_strings(value: Any, change: Callable[[str], str | None]) -> Any:
    """``value`` (from JSON or an attribute: dicts, lists, scalars) with ``change`` applied
    to its strings. Numbers, booleans and nulls are never touched."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        found = {}
        for key, item in value.items():
            new_key = change(str(key))
            if new_key is not None:
                found[new_key] = map_strings(item, change)
        return found
    if isinstance(value, list | tuple):
        return [map_strings(item, change) for item in value]
    return value


@lru_cache(maxsize=_CACHED_VALUES)
def personal(text: str) -> bool:
    """Whether ``text`` might be personal data: free text, or a token the patterns find.

    >>> personal("Grace Hopper"), personal("0.8446753"), personal("myImportantValue")
    (True, False, False)
    """
    if not text:
        return False
    if _SPACE.search(text):
        return _TIMESTAMP.fullmatch(text.strip()) is None
    if ("%" in text or "+" in text) and _SPACE.search(unquote_plus(text)):
        return True  # URL-encoded free text: Grace%20Hopper, Grace+Hopper
    if "@" in text and EMAIL.search(text):
        return True
    if sum(ch.isdigit() for ch in text) < 7:
        return False
    return _found(text, CARD, is_card) or _found(text, PHONE, _phone_token)


def _found(text: str, pattern: re.Pattern[str], valid: Callable[[str], bool]) -> bool:
    return any(valid(match.group()) for match in pattern.finditer(text))


def _phone_token(candidate: str) -> bool:
    # A value that is only digits is a number or an id (a counter, an epoch, an order
    # number); in a token, a phone number is written with "+" or separators.
    stripped = candidate.strip()
    if stripped.isdigit():
        return False
    return is_phone(stripped)
