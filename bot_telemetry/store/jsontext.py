"""JSON text exactly as the standard library's encoder writes it (compact, UTF-8, ``str()`` of
anything else), made by orjson when that gives the same text: about five times faster on an
event's attributes, the largest per-event cost of encoding rows.

    to_json({"a": [1, 2.5, "é"]})  # '{"a":[1,2.5,"é"]}'

orjson writes the same text for str, int, float, bool, None, dict, list and tuple, with
these exceptions, each handed to the standard library (``_orjson_text``; ``document_json``
looks at its float columns instead):

- what orjson refuses: a lone surrogate (``"\\ud800"``), an int beyond 64 bits, a non-str
  dict key, an object of another type (``default=str``), a subclass of str/int/dict/list,
  a date or a dataclass (orjson would write its own form, not ``str()``'s);
- NaN and ±Infinity, which orjson writes as ``null`` (the standard library as ``NaN``,
  ``Infinity``): text with a ``null`` in it is written again by the standard library;
- a float under 1e-4 in magnitude, which orjson spells ``1e-7`` or ``0.00001`` where Python
  spells ``1e-07`` and ``1e-05``: text with such a number (or something like one in a string)
  is written again.

A plain ``Enum`` member is the one value written differently (orjson writes its value, the
standard library its ``str()``); none reaches the store (its values are decoded JSON and
protobuf).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_STDLIB = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_DOCUMENT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
_OPTIONS |= orjson.OPT_PASSTHROUGH_DATACLASS

# Where orjson may have written a number under 1e-4 in magnitude: its fixed form (0.0000ddd,
# any such text sends the value to the standard library) or its exponent (d[.ddd]e-d, when a
# mantissa comes before it: ``_small_exponent``).
_EXPONENT = re.compile(rb"e-[0-9]")
_DIGITS = frozenset(b"0123456789")
_MANTISSA = frozenset(b"0123456789.")
_BEFORE_NUMBER = frozenset(b":,[-")


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def to_json(value: Any, *, finite: bool = False) -> str:
    """``value`` as compact JSON text, as ``json.dumps(value, separators=(",", ":"),
    ensure_ascii=False, default=str)`` writes it. ``finite=True`` says the value holds no NaN
    or ±Infinity float (JSON as ``parse_bundle`` decodes it), so a ``null`` in orjson's text
    needs no second look (a scan of the text, ~1 µs an event)."""
    text = _orjson_text(value, nulls=finite)
    return _STDLIB(value) if text is None else text


def document_json(columns: dict[str, list[Any]], floats: tuple[str, ...]) -> str:
    """The store's document of column lists, as ``json.dumps(columns, separators=(",", ":"),
    ensure_ascii=False)`` writes it. Only the ``floats`` columns (of floats, or lists of
    floats) hold floats, the others ints, text and flags: the floats orjson writes otherwise
    (non-finite, under 1e-4) are looked for there, not in the text (its nulls are empty cells,
    and a scan of it cost more than orjson's encoding)."""
    if all(_plain(columns.get(name) or ()) for name in floats):
        try:
            return orjson.dumps(columns, default=_refuse, option=_OPTIONS).decode()
        except TypeError:
            pass
    return _DOCUMENT(columns)


def _orjson_text(value: Any, *, nulls: bool) -> str | None:
    # orjson's text when it is the standard library's; None when that has to write it.
    try:
        text = orjson.dumps(value, default=_refuse, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one: the standard library decides
        return None
    if not nulls and b"null" in text:  # a None, or a NaN/±Infinity written as null
        return None
    if b"0.0000" in text or (_EXPONENT.search(text) and _small_exponent(text)):
        return None
    return text.decode()


def _small_exponent(text: bytes) -> bool:
    # Whether a number such as 1.5e-7 may be in the text (a string that looks like one counts
    # too: the standard library then writes it, the same text). Searched for from its literal
    # "e-": a pattern with the context before the number took ~40 µs an event.
    for found in _EXPONENT.finditer(text):
        end = found.end()
        if (end == len(text) or text[end] not in _DIGITS) and _number_starts(text, found.start()):
            return True
    return False


def _number_starts(text: bytes, end: int) -> bool:
    # Whether text[:end] ends with a number's mantissa that starts the text or follows one of
    # ':', ',', '[', '-'.
    index = end - 1
    while index >= 0 and text[index] in _MANTISSA:
        index -= 1
    return index < end - 1 and (index < 0 or text[index] in _BEFORE_NUMBER)


def _plain(cells: Any) -> bool:
    # No float orjson writes otherwise: non-finite, or under 1e-4 and not 0.
    for cell in cells:
        if type(cell) is float:
            if cell - cell != 0 or (abs(cell) < 1e-4 and cell != 0):
                return False
        elif type(cell) is list and not _plain(cell):
            return False
    return True
