"""The ``baggage`` header (W3C Baggage): members, properties, percent-encoding and limits.

parse_baggage(["user.tier=gold;ttl=60, lang=fr%20CA"])
# [Member(key="user.tier", value="gold", properties="ttl=60"),
#  Member(key="lang", value="fr CA", properties="")]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

MAX_MEMBERS = 64
MAX_BYTES = 8192
#: Combined inbound values above this are dropped unread (eight times the limit we keep).
MAX_INBOUND_BYTES = 8 * MAX_BYTES

_OWS = " \t"
# RFC 9110 token: the key and property names.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# baggage-octet: printable ASCII without space, '"', ',', ';' and '\'.
_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
# Characters a value may carry unencoded; '%' is always encoded.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\%')


@dataclass(frozen=True)
class Member:
    key: str
    value: str
    #: The member's properties as received, normalized (``a=1;b``), or "".
    properties: str = ""

    def encoded(self) -> str:
        text = f"{self.key}={quote(self.value, safe=_SAFE)}"
        return f"{text};{self.properties}" if self.properties else text


def parse_baggage(values: Sequence[str]) -> list[Member]:
    """The valid members of these header fields, within the limits.

    Malformed members are skipped (the others still count); once 64 members or 8192 bytes
    are reached, the remaining members are dropped whole, never cut.
    """
    if sum(len(value) for value in values) > MAX_INBOUND_BYTES:
        return []
    return list(within_limits(_members(values)))


def format_baggage(members: Iterable[Member]) -> str:
    return ",".join(member.encoded() for member in within_limits(members))


def within_limits(members: Iterable[Member]) -> Iterator[Member]:
    count = 0
    size = 0
    for member in members:
        length = len(member.encoded().encode()) + (1 if count else 0)
        if count == MAX_MEMBERS or size + length > MAX_BYTES:
            return
        count += 1
        size += length
        yield member


def valid_key(key: str) -> bool:
    return _TOKEN.fullmatch(key) is not None


def _members(values: Sequence[str]) -> Iterator[Member]:
    for value in values:
        for raw in value.split(","):
            member = _parse_member(raw)
            if member is not None:
                yield member


def _parse_member(raw: str) -> Member | None:
    head, *properties = raw.split(";")
    key, sep, value = head.partition("=")
    key = key.strip(_OWS)
    value = value.strip(_OWS)
    if not sep or not valid_key(key) or _VALUE.fullmatch(value) is None:
        return None
    normalized = [_parse_property(item) for item in properties]
    if any(item is None for item in normalized):
        return None
    # Invalid UTF-8 after decoding becomes U+FFFD, as the specification requires.
    decoded = unquote(value, encoding="utf-8", errors="replace")
    return Member(key, decoded, ";".join(item for item in normalized if item))


def _parse_property(raw: str) -> str | None:
    if not raw.strip(_OWS):
        return ""
    key, sep, value = raw.partition("=")
    key = key.strip(_OWS)
    value = value.strip(_OWS)
    if not valid_key(key) or (sep and _VALUE.fullmatch(value) is None):
        return None
    return f"{key}={value}" if sep else key
