"""A backend's refusal in its own words, without the refused item's data.

A backend's message may quote what it refused ("Actual: alice@example.com", "span 'Alice's
order'", ClickHouse's "Cannot parse string 'alice' as UInt8"): ``without_item_data`` keeps
the service's words and drops what follows ``Expected:``/``Actual:`` and any quoted value that
is not a field or type name. Used where a refusal is said: the exporters (``export.refusals``)
and ``serve`` on ClickHouse (``store.clickhouse_ingest``).
"""

from __future__ import annotations

import re

_ITS_DATA = re.compile(r"\s*(Expected|Actual)\s*:.*", re.DOTALL | re.IGNORECASE)
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_NAMED = re.compile(r"(field|type|property|key|attribute)\s*$", re.IGNORECASE)
_NAME = re.compile(r"[\w.]+")


def without_item_data(message: str, limit: int = 160) -> str:
    """``message`` without what may be the refused item's own data (see the module doc)."""
    text = _ITS_DATA.sub("", message).strip()

    def quoted(found: re.Match[str]) -> str:
        value = found.group(1) if found.group(1) is not None else found.group(2)
        named = _NAMED.search(text, 0, found.start())
        return found.group(0) if named and _NAME.fullmatch(value) else "'…'"

    return _QUOTED.sub(quoted, text).rstrip(" .,;")[:limit]
