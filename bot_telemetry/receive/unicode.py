"""Text that is not valid Unicode, repaired rather than refused (as the OpenTelemetry Collector
does): a lone surrogate from a JSON escape (``"\\ud83d"``, half an emoji cut by a JavaScript
client) becomes U+FFFD, so one bad string costs neither its batch nor its store's insert.

    if may_hold_surrogates(body):
        document = without_surrogates(document)
"""

from __future__ import annotations

import re
from typing import Any

#: A \\uD800-\\uDFFF escape in JSON text: only then can a decoded string hold a lone surrogate.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def may_hold_surrogates(json_text: bytes) -> bool:
    """Whether JSON decoded from ``json_text`` may hold a lone surrogate."""
    return SURROGATE_ESCAPE.search(json_text) is not None


def without_surrogates(value: Any) -> Any:
    """``value`` (decoded JSON) with every lone surrogate, in keys and strings, as U+FFFD."""
    if isinstance(value, dict):
        return {
            SURROGATE.sub(REPLACEMENT, name): without_surrogates(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [without_surrogates(item) for item in value]
    if isinstance(value, str):
        return SURROGATE.sub(REPLACEMENT, value)
    return value
