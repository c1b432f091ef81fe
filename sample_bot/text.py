"""Text normalisation shared by the nlu and qna services, so both see words the same way."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# A light suffix stripper: enough to make "tables"/"table" and "booking"/"book" meet
# without pulling in a stemming library. Longest suffix first; keep a stem of 3+ letters.
_SUFFIXES = ("ings", "ing", "ies", "ed", "es", "s")


def fold(text: str) -> str:
    """Lower case without accents: "Café" -> "cafe"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    """Folded words, apostrophe suffixes dropped: "What's on?" -> what, on."""
    return [w.split("'")[0] for w in _WORD.findall(fold(text))]


def stem(word: str) -> str:
    if word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix == "ies" else base
    return word


def tokens(text: str) -> list[str]:
    """Stemmed words: the unit both services match on."""
    return [stem(w) for w in words(text)]
