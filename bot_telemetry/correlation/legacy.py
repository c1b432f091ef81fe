"""Application Insights' legacy ``Request-Id`` header, read when no ``traceparent`` came.

Older Application Insights SDKs send a hierarchical id ``|<root>.<part>.<part>.``. When the
root is 32 hex digits it is a W3C trace id and we continue that trace. The parent span id is
the next part when it is 16 hex digits (what W3C-aware SDKs send); otherwise it is derived
from the whole id, so that the same caller id always maps to the same parent.
"""

from __future__ import annotations

import hashlib
import re

from .traceparent import SAMPLED, Traceparent

HEADER = "request-id"
MAX_LENGTH = 1024

_ID = re.compile(r"\|([0-9a-fA-F]{32})(?:\.([^|]*))?")
_SPAN = re.compile(r"[0-9a-fA-F]{16}")


def parse_request_id(value: str) -> Traceparent | None:
    """The parent in a legacy ``Request-Id``, or None when it does not carry a W3C trace id.

    Legacy callers carry no sampling decision; they sampled the request in, so we do too.
    """
    if len(value) > MAX_LENGTH:
        return None
    match = _ID.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    trace_id = int(match.group(1), 16)
    if trace_id == 0:
        return None
    first = (match.group(2) or "").split(".", 1)[0]
    span_id = int(first, 16) if _SPAN.fullmatch(first) else 0
    if span_id == 0:
        digest = hashlib.sha256(value.strip(" \t").encode("utf-8", "replace")).digest()
        span_id = int.from_bytes(digest[:8], "big") or 1
    return Traceparent(trace_id, span_id, SAMPLED)
