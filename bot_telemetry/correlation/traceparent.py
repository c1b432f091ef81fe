"""The ``traceparent`` header (W3C Trace Context Level 2): parse strictly, emit version 00.

parse_traceparent(["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"])
# Traceparent(trace_id=0x4bf9..., span_id=0x00f0..., flags=3)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SAMPLED = 0x01
RANDOM_TRACE_ID = 0x02
#: The flags this version defines; the others are reserved and must be sent as zero.
KNOWN_FLAGS = SAMPLED | RANDOM_TRACE_ID

#: Longer values are refused before any parsing: a valid one is 55 characters, and a future
#: version may add fields, but nothing legitimate comes near this.
MAX_LENGTH = 512

_OWS = " \t"
_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# A future version: the same fixed fields, then either the end or a dash and unknown fields.
_FUTURE = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?", re.S)


@dataclass(frozen=True)
class Traceparent:
    trace_id: int
    span_id: int
    flags: int

    def header(self) -> str:
        return format_traceparent(self.trace_id, self.span_id, self.flags)


def parse_traceparent(values: Sequence[str]) -> Traceparent | None:
    """The parent in these header values, or None when they must be ignored.

    More than one ``traceparent`` field makes the header invalid, so does any deviation from
    the version 00 grammar; a higher version is read by its fixed fields (version ``ff`` is
    forbidden).
    """
    if len(values) != 1:
        return None
    value = values[0]
    if not isinstance(value, str) or len(value) > MAX_LENGTH:
        return None
    value = value.strip(_OWS)
    match = _VERSION_00.fullmatch(value)
    if match is None:
        match = _FUTURE.fullmatch(value)
        if match is None or match.group(1) in ("00", "ff"):
            return None
        trace_hex, span_hex, flags_hex = match.group(2, 3, 4)
    else:
        trace_hex, span_hex, flags_hex = match.groups()
    trace_id = int(trace_hex, 16)
    span_id = int(span_hex, 16)
    if trace_id == 0 or span_id == 0:
        return None
    return Traceparent(trace_id, span_id, int(flags_hex, 16))


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """A version 00 header; reserved flag bits are cleared."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & KNOWN_FLAGS:02x}"
