"""Finding personal data in values: the patterns, their validators, and what free text is.

Two jobs, both on values whose meaning we do not know:

* ``redact``: replace emails, UPI payment addresses, IBANs, Aadhaar numbers, phone and
  card numbers and Indian PAN in text, and nothing that only looks like them: a score
  ``0.8446753``, a version ``10.0.19041``, a date, the tail of a GUID, an amount, a count or
  an order number survive. A card must pass the Luhn check and start like a card (2-6); an
  IBAN its mod-97 check and name a country; an Aadhaar number (12 digits) or virtual id
  (16) the Verhoeff check; a phone number needs 7 to 15 digits and a phone's shape: ``+``
  or separators, or in bare digits an Indian mobile's (10 digits from 6-9, after 91), a
  national number's trunk 0 (``07700900123``) or an international call's 00; it is not a
  decimal number, a date, an amount grouped in thousands, or a dotted version or address.
  JSON is redacted inside its strings only, so it stays valid.
* ``personal``: whether a value might be personal data at all. Free text (anything with
  whitespace, or encoded whitespace) might be; so might anything the patterns find, a
  number only in digits the patterns would take (a card's, an Aadhaar number or virtual id,
  a phone number in the bare shapes above), a public IP address (an online identifier
  of the user's device or network), an IPv6 address of any scope holding its device's MAC
  (EUI-64) and a British postcode written as one token (``SW1A1AA``: some 40 people share
  one). Other numbers, identifiers, GUIDs, timestamps,
  versions and other single tokens are not.

Both are pure functions of the text, so results are cached: values repeat turn after turn.
"""

from __future__ import annotations

import ipaddress
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
# A UPI payment address (India): a handle, "@" and its bank's name with no dot after it
# (``grace.h@okaxis``, ``9876543210@ybl``), so neither an email (matched first) nor a Teams
# id (``…@thread.tacv2``) nor an image digest (``…@sha256:…``) nor a package's version.
UPI: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}(?![\w.@/-]|:\S)"
)
# An IBAN, compact or in groups of four (``DE89 3704 0044 0532 0130 00``); ``is_iban`` checks
# its country and mod-97 check digits. Before cards and phones, which would take its digits.
IBAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# An Indian PAN: five letters (the fourth the holder's kind: P a person, H a family, ...),
# four digits, a letter.
PAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?![A-Za-z0-9])", re.IGNORECASE
)
# Cards before phones: a 16-digit card number also looks like a long phone number.
CARD: Final = re.compile(r"(?<![\w.-])(?:\d[ -]?){12,18}\d(?![\w-])")
# An Aadhaar number (12 digits) or virtual id (16), bare or in groups of four; never 0 or 1
# first. Before phones, which would take a 12-digit one written bare. The first digit
# comes before the look behind it, so the search skips to digits from 2-9.
AADHAAR: Final = re.compile(r"[2-9](?<![\w.+-].)\d{3}([ -]?)\d{4}\1\d{4}(?:\1\d{4})?(?![\w-])")
# Not after a word character or an id's separator, so a GUID's last group is not a phone.
# A number written with "+" or its trunk 0 runs on over any spaces; any other stops at a
# space before or after 7 digits, which no phone's group has without "+" or 0 (98765 43210,
# 9876 543210, 612 345 678): "3456789 1250000" is a count and an amount, "1250000 123456"
# an amount and a number, and "9876543210 123456" a mobile number and a number.
PHONE: Final = re.compile(
    r"(?<![\w+.\-/])"
    r"(?:\+\(?\d[\d\s().-]{5,}|\(?0[\d\s().-]{5,}"
    r"|\(?[1-9](?:[\d().-]|(?<!\d{7})\s(?!\d{7})){5,})"
    r"\d(?![\w-])"
)

_DECIMAL = re.compile(r"\d+\.\d+")
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}")
_DOTTED = re.compile(r"\d+(?:\.\d+)+")
# Dotted phone numbers written the usual ways: 415.555.0132, 01.23.45.67.89.
_DOTTED_PHONE = re.compile(r"\d{3}\.\d{3}\.\d{4}|\d{2}(?:\.\d{2}){4}")
# An amount grouped in thousands by spaces (1 250 000, 12 500 000): no phone is written
# so without "+" (a national number starts with its trunk 0; Spain's 612 345 678 starts
# with three digits, so it is still a phone).
_THOUSANDS = re.compile(r"[1-9]\d?(?:[ \u00a0\u202f]\d{3})+")
_SPACE = re.compile(r"\s")
# What an IP address can be written with: a dotted quad (with a port, perhaps), or IPv6's
# hex groups and colons; ``ipaddress`` decides.
_IPV4 = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?")
_IPV6 = re.compile(r"\[?([0-9A-Fa-f:]{2,39}(?:\.\d{1,3}){0,4})\]?(?::\d{1,5})?")
#: The middle of an EUI-64 interface id: bytes 11 and 12 of an IPv6 address.
_EUI64: Final = b"\xff\xfe"
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?: ?(?:Z|[+-]\d{2}:?\d{2}|UTC))?"
)

# A British postcode: an area, its district, and the inward code (a digit and two letters,
# never C, I, K, M, O or V); the area must be one of the postcode areas, so a product
# code of the same shape (XY12AB) is not one.
_UK_POSTCODE = re.compile(r"([A-Z]{1,2})\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}", re.IGNORECASE)
_UK_POSTCODE_AREAS: Final = frozenset(
    "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN "
    "DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY "
    "L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM "
    "S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN "
    "WR WS WV YO ZE".split()
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


# Countries whose banks issue IBANs (SWIFT's registry), with each one's length.
_IBAN_LENGTHS: Final = dict(
    (entry[:2], int(entry[2:]))
    for entry in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 "
        "DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 "
        "HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 "
        "MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 "
        "RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 "
        "VG24 XK20 YE30"
    ).split()
)


def is_iban(candidate: str) -> bool:
    """Whether ``candidate`` is an IBAN: its country's length, and mod 97 of its digits
    (letters as 10-35, the first four moved to the end) is 1."""
    compact = candidate.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


# The Verhoeff check's tables: the dihedral group D5's products and the digit permutations.
_VERHOEFF_D: Final = tuple(
    tuple(int(d) for d in row)
    for row in "0123456789 1234067895 2340178956 3401289567 4012395678 "
    "5987604321 6598710432 7659821043 8765932104 9876543210".split()
)
_VERHOEFF_P: Final = tuple(
    tuple(int(d) for d in row)
    for row in "0123456789 1576283094 5803796142 8916043527 9453126870 "
    "4286573901 2793806415 7046913258".split()
)


def is_aadhaar(digits: str) -> bool:
    """Whether 12 digits are an Aadhaar number, or 16 its virtual id: not starting with 0
    or 1, and passing the Verhoeff check (so 1 in 10 other such numbers from 2-9 look like
    one)."""
    if len(digits) not in (12, 16) or digits[0] in "01" or not digits.isdigit():
        return False
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[index % 8][ord(char) - 48]]
    return check == 0


def is_aadhaar_match(candidate: str) -> bool:
    return is_aadhaar(candidate.replace(" ", "").replace("-", ""))


def is_bare_phone(digits: str) -> bool:
    """Whether a number written only in digits has a phone number's shape: an Indian mobile
    number (10 digits from 6-9, or after 91 as WhatsApp gives it), a national number after
    its trunk 0 (10-12 digits: ``07700900123`` in Britain, ``0612345678`` in France,
    ``09876543210`` in India), or an international one after 00 (``00442079460958``).
    Amounts, counts, order numbers and epochs (which start with 1 until 2033) are not."""
    length = len(digits)
    first = digits[:1]
    if first == "0":
        if digits[1:2] == "0":
            # 00, a country code (never 0) and at most E.164's 15 digits
            return 11 <= length <= 17 and digits[2] != "0"
        return 10 <= length <= 12
    if length == 10:
        return first in "6789"
    return length == 12 and digits[:2] == "91" and digits[2] in "6789"


def is_personal_number(digits: str) -> bool:
    """Whether a number written only in digits is one the patterns would take: a card's, an
    Aadhaar number or virtual id, or a phone number in a bare phone's shape."""
    return is_card(digits) or is_aadhaar(digits) or is_bare_phone(digits)


def is_phone(candidate: str) -> bool:
    text = candidate.strip()
    if text.isdigit():
        # bare digits are a number (an amount in paise, a count, an order number, an epoch)
        # unless shaped like a phone number
        return is_bare_phone(text)
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15:  # E.164 allows 15 digits
        return False
    if _DECIMAL.fullmatch(text) or _DATE.match(text) or _THOUSANDS.fullmatch(text):
        return False
    if _DOTTED.fullmatch(text):  # versions and addresses, unless written like a phone
        return _DOTTED_PHONE.fullmatch(text) is not None
    return True


def is_ip_address(text: str) -> bool:
    """Whether a token is a public IP address, v4 (perhaps with a port) or v6: an online
    identifier of a user's device or network. Private, loopback, link-local and
    documentation addresses are a deployment's own, unless their interface id is built
    from the device's MAC (EUI-64); a dotted quad ending in 0 names a network, or is a
    version (``131.0.0.0``, a browser's reduced user agent)."""
    if text.count(":") >= 2:
        found = _IPV6.fullmatch(text)
        if found is None:
            return False
        try:
            v6 = ipaddress.IPv6Address(found.group(1))
        except ValueError:
            return False
        if v6.ipv4_mapped is not None:
            return v6.ipv4_mapped.is_global
        # An interface id built from the device's MAC (EUI-64: ff:fe in its middle) names
        # the hardware, in any scope: fe80::21a:2bff:fe3c:4d5e is a phone, not a network.
        return v6.is_global or v6.packed[11:13] == _EUI64
    if text.count(".") != 3:  # most dotted values: a decimal, a version, a host name
        return False
    found = _IPV4.fullmatch(text)
    if found is None or found.group(1).endswith(".0"):
        return False
    try:
        return ipaddress.IPv4Address(found.group(1)).is_global
    except ValueError:  # a part over 255 or with a leading 0: a version, a build
        return False


def is_uk_postcode(text: str) -> bool:
    """Whether ``text`` is a British postcode (``SW1A 1AA``, ``sw1a1aa``) in a real area."""
    found = _UK_POSTCODE.fullmatch(text)
    return found is not None and found.group(1).upper() in _UK_POSTCODE_AREAS


def is_dotted_quad(text: str) -> bool:
    """Whether ``text`` is four numbers joined by dots, the shape IPv4 addresses and
    versions share (``4.17.1.2``)."""
    found = _IPV4.fullmatch(text)
    return found is not None and found.end(1) == len(text)


#: A pattern, the check a match must pass (or None), and a character every match holds
#: ("" for none): text without it is not searched, which halves the cost of the two "@"
#: patterns on values that hold none (most).
Finder = tuple[re.Pattern[str], Callable[[str], bool] | None, str]

#: The built-in patterns by name, in the order they are applied.
BUILTIN: Final[dict[str, Finder]] = {
    "email": (EMAIL, None, "@"),
    "upi": (UPI, None, "@"),
    "iban": (IBAN, is_iban, ""),
    "card": (CARD, is_card, ""),
    "aadhaar": (AADHAAR, is_aadhaar_match, ""),
    "phone": (PHONE, is_phone, ""),
    "pan": (PAN, None, ""),
}


def redact_text(text: str, patterns: tuple[Finder, ...], replacement: str) -> str:
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


def _redact(text: str, patterns: tuple[Finder, ...], replacement: str) -> str:
    for pattern, valid, needs in patterns:
        if needs not in text:
            continue
        if valid is None:
            text = pattern.sub(replacement, text)
        else:
            text = pattern.sub(_replacer(valid, replacement), text)
    return text


# One per pattern and replacement, not a closure made for every pattern of every text.
@lru_cache(maxsize=64)
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
    return map_json(text, lambda parsed: map_strings(parsed, change))


def map_json(text: str, transform: Callable[[Any], Any]) -> str | None:
    """``text`` (JSON) parsed, transformed and written again; None if it does not parse.
    Unchanged text is returned as it was, formatting and all."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    changed = transform(parsed)
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
    if "@" in text and (EMAIL.search(text) or UPI.search(text)):
        return True
    if ("." in text or ":" in text) and is_ip_address(text):
        return True
    if 5 <= len(text) <= 7 and is_uk_postcode(text):
        return True
    digits = sum(ch.isdigit() for ch in text)
    if digits < 4:
        return False
    if len(text) >= 10 and PAN.search(text):
        return True
    if digits < 7:
        return False
    if digits == len(text):  # a number: only one the patterns would take
        return is_personal_number(text)
    return (
        _found(text, IBAN, is_iban)
        or _found(text, CARD, is_card)
        or _found(text, PHONE, _phone_token)
    )


def _found(text: str, pattern: re.Pattern[str], valid: Callable[[str], bool]) -> bool:
    return any(valid(match.group()) for match in pattern.finditer(text))


def _phone_token(candidate: str) -> bool:
    # Digits alone are a number or an id (a counter, an epoch, an order number), unless
    # shaped like a phone number or an Aadhaar (``?mobile=9876543210``, ``tel:9876543210``);
    # in a token, another phone number is written with "+" or separators.
    stripped = candidate.strip()
    if stripped.isdigit():
        return is_personal_number(stripped)
    return is_phone(stripped)
