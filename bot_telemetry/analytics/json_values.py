"""Values read from the store, made safe for JSON answers.

Attributes are stored as JSON; NaN and ±Infinity are stored as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (the protobuf JSON mapping's spelling), so every answer
is valid JSON for a browser's ``JSON.parse``. Stores written before that may hold bare
``NaN`` tokens, and metric values are DOUBLE columns that can hold them too: both are read
back as the same strings.

    load_json('{"x": NaN}')   # {'x': 'NaN'}
    number(float("inf"))      # 'Infinity'
"""

from __future__ import annotations

import json
import math
from typing import Any

_CONSTANTS = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}


def load_json(text: str | None) -> Any:
    """A stored JSON document; bare NaN/Infinity tokens come back as strings."""
    if not text:
        return None
    return json.loads(text, parse_constant=_CONSTANTS.__getitem__)


def load_object(text: str | None) -> dict[str, Any]:
    """A stored attribute set (a JSON object), or an empty dict."""
    loaded = load_json(text)
    return loaded if isinstance(loaded, dict) else {}


def number(value: float | int | None) -> float | int | str | None:
    """A number for a JSON answer: NaN and ±Infinity as strings, everything else as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    return value


def attribute_number(value: Any) -> float | None:
    """An attribute's value as a finite number, from a number or from its text (ClickHouse's
    tables keep every attribute value as text); None for anything else, bools included."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        found = float(value)
    except ValueError:
        return None
    return found if math.isfinite(found) else None
