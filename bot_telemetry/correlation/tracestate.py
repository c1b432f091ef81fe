"""The ``tracestate`` header (W3C Trace Context Level 2).

Parsing is all-or-nothing for what cannot be parsed, as the specification's test suite
expects: one malformed member or more than 32 members and the whole header is dropped (the
traceparent still counts). A repeated key is not malformed: the left-most (most recent)
member is kept and the later ones are discarded, which the specification allows ("deleting
duplicate keys") and its test suite checks. What we forward is the parsed list, cut to
whole members when it grows past ``PROPAGATED_LENGTH`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from opentelemetry.trace import TraceState

MAX_MEMBERS = 32
#: The combined length we forward; the specification asks for at least 512 characters.
PROPAGATED_LENGTH = 512
#: Members longer than this go first when the header has to be cut.
LONG_MEMBER = 128
#: Combined inbound values above this are dropped unread: 32 members of the largest legal
#: size, with generous room for optional whitespace, stay well below it.
MAX_INBOUND_LENGTH = 32 * 1024

_OWS = " \t"
# Level 2 key grammar: a lowercase letter or digit, then up to 255 of [a-z0-9_-*/@].
_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}")
# Printable ASCII except ',' and '=', up to 256 characters, not ending in a space.
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")


def valid_member(key: str, value: str) -> bool:
    return _KEY.fullmatch(key) is not None and _VALUE.fullmatch(value) is not None


def parse_tracestate(values: Sequence[str]) -> list[tuple[str, str]] | None:
    """The members of these header fields, in order; None when the header must be dropped.

    Several fields are one list joined by commas (RFC 9110); empty members are allowed. A
    key seen again keeps its first (left-most) value; the 32-member limit counts every
    member received, repeated ones included, since the list grammar caps the list itself.

    >>> parse_tracestate(["a=1,b=2,a=3"])
    [('a', '1'), ('b', '2')]
    """
    if sum(len(value) for value in values) > MAX_INBOUND_LENGTH:
        return None
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    received = 0
    for value in values:
        for raw in value.split(","):
            member = raw.strip(_OWS)
            if not member:
                continue
            key, sep, item = member.partition("=")
            if not sep or not valid_member(key, item):
                return None
            received += 1
            if received > MAX_MEMBERS:
                return None
            if key in seen:
                continue
            seen.add(key)
            members.append((key, item))
    return members


def format_tracestate(members: Iterable[tuple[str, str]], limit: int = PROPAGATED_LENGTH) -> str:
    """The header value for these members, cut to whole members when longer than ``limit``.

    Members longer than 128 characters are removed first, then members from the end.
    """
    entries = [f"{key}={value}" for key, value in members][:MAX_MEMBERS]
    if _joined_length(entries) > limit:
        entries = _without_long_members(entries, limit)
        while entries and _joined_length(entries) > limit:
            entries.pop()
    return ",".join(entries)


def _joined_length(entries: Sequence[str]) -> int:
    return sum(len(entry) for entry in entries) + max(len(entries) - 1, 0)


def _without_long_members(entries: list[str], limit: int) -> list[str]:
    # Drop the long ones from the end backwards only as far as needed, so a long member
    # near the front survives when removing later long ones is enough.
    kept = list(entries)
    for index in range(len(kept) - 1, -1, -1):
        if _joined_length(kept) <= limit:
            break
        if len(kept[index]) > LONG_MEMBER:
            del kept[index]
    return kept


class W3CTraceState(TraceState):
    """A ``TraceState`` holding members checked against the Level 2 grammar.

    OpenTelemetry's own ``TraceState`` validates keys against the older grammar (where
    ``@`` may appear once, with at most 14 characters after it) and silently drops the
    others; this one keeps what ``parse_tracestate`` accepted. The SDK hands a parent's
    trace state to its children unchanged, so the members travel through the span tree.
    """

    def __init__(self, entries: Sequence[tuple[str, str]] | None = None) -> None:
        super().__init__()
        for key, value in (entries or [])[:MAX_MEMBERS]:
            if valid_member(key, value) and key not in self._dict:
                self._dict[key] = value

    def to_header(self) -> str:
        return format_tracestate(self.items())
