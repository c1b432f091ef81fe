"""Reading header fields from the carriers we meet: aiohttp's multidicts and plain dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.propagators.textmap import Getter


def header_values(carrier: Any, name: str) -> list[str]:
    """Every field called ``name`` (any case), in order; repeated fields stay separate."""
    if carrier is None:
        return []
    getall = getattr(carrier, "getall", None)
    if callable(getall):
        # aiohttp's CIMultiDict(Proxy): case-insensitive, one entry per header field.
        values = getall(name, [])
        return [value for value in values if isinstance(value, str)]
    if not isinstance(carrier, Mapping):
        return []
    found: list[str] = []
    for key, value in carrier.items():
        if isinstance(key, str) and key.lower() == name:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, (list, tuple)):
                found.extend(item for item in value if isinstance(item, str))
    return found


class HeaderGetter(Getter[Any]):
    """A getter that finds header fields in any case and keeps repeated fields apart."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        values = header_values(carrier, key.lower())
        return values or None

    def keys(self, carrier: Any) -> list[str]:
        if isinstance(carrier, Mapping):
            return [str(key) for key in carrier]
        return []


header_getter = HeaderGetter()
