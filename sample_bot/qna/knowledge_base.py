"""A knowledge base of question variants and answers, searched by fuzzy matching.

A variant's score (0-100, as QnA Maker reports it) blends two views of the match:
- word overlap, weighted by inverse document frequency over all variants so "the" counts
  for little and "parking" for a lot, where each query word may match a variant word
  approximately (difflib ratio >= 0.8: "vegitarian" still finds "vegetarian");
- character similarity of the whole strings, which rewards word order and near-spellings.
An entry's score is its best variant's. Below the threshold there is no answer, and the
response carries the knowledge base's default answer with score 0, as QnA Maker does.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..text import fold, tokens

DEFAULT_KB_FILE = Path(__file__).resolve().parents[1] / "data" / "qna_kb.json"
_WORD_MATCH = 0.8
_WORD_WEIGHT = 0.7


@dataclass(frozen=True)
class Answer:
    id: int
    answer: str
    score: float
    questions: list[str]
    matched_question: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def to_generate_answer(self, source: str) -> dict[str, Any]:
        """One element of a generateAnswer response's ``answers``."""
        return {
            "id": self.id,
            "answer": self.answer,
            "score": self.score,
            "questions": self.questions,
            "source": source if self.id >= 0 else None,
            "metadata": [{"name": k, "value": v} for k, v in self.metadata.items()],
        }


@dataclass(frozen=True)
class _Entry:
    id: int
    questions: list[str]
    answer: str
    metadata: dict[str, str]


class KnowledgeBase:
    """Question variants -> answers.

    kb = load_knowledge_base()
    kb.answer("where can i park?")[0].id  # 3
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        try:
            self.id = str(data["id"])
            self.name = str(data.get("name", self.id))
            self.threshold = float(data.get("threshold", 50))
            self.default_answer = str(data.get("defaultAnswer", "No good match found in KB."))
            self._entries = [
                _Entry(
                    int(raw["id"]),
                    [str(q) for q in raw["questions"]],
                    str(raw["answer"]),
                    {str(k): str(v) for k, v in raw.get("metadata", {}).items()},
                )
                for raw in data["entries"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"malformed knowledge base: {error!r}") from error
        if not self._entries or any(not entry.questions for entry in self._entries):
            raise ValueError("a knowledge base needs entries, each with at least one question")
        ids = [entry.id for entry in self._entries]
        if len(set(ids)) != len(ids) or min(ids) < 0:
            raise ValueError("knowledge base entry ids must be unique and not negative")
        variants = [set(tokens(q)) for entry in self._entries for q in entry.questions]
        frequency: Counter[str] = Counter(w for variant in variants for w in variant)
        count = len(variants)
        self._idf = {w: math.log((1 + count) / (1 + df)) + 1 for w, df in frequency.items()}
        self._unseen_idf = math.log(1 + count) + 1
        self._vocabulary = sorted(frequency)

    def answer(self, question: str, top: int = 1, threshold: float | None = None) -> list[Answer]:
        """The best ``top`` answers scoring at least ``threshold``, or the default answer."""
        limit = self.threshold if threshold is None else threshold
        scored: list[Answer] = []
        for entry in self._entries:
            score, variant = max((self._score(question, q), q) for q in entry.questions)
            score = round(score * 100, 2)
            if score >= limit and score > 0:
                scored.append(
                    Answer(entry.id, entry.answer, score, entry.questions, variant, entry.metadata)
                )
        scored.sort(key=lambda a: (-a.score, a.id))
        if not scored:
            return [Answer(-1, self.default_answer, 0.0, [])]
        return scored[: max(1, top)]

    def _score(self, question: str, variant: str) -> float:
        asked, known = tokens(question), tokens(variant)
        if not asked or not known:
            return 0.0
        matched = 0.0
        for word in set(asked):
            similarity = max((_similar(word, k) for k in known), default=0.0)
            if similarity >= _WORD_MATCH:
                matched += similarity * self._weight(word)
        asked_weight = sum(self._weight(w) for w in set(asked))
        known_weight = sum(self._weight(w) for w in set(known))
        precision, recall = matched / asked_weight, min(1.0, matched / known_weight)
        overlap = 2 * precision * recall / (precision + recall) if matched else 0.0
        characters = SequenceMatcher(None, fold(question).strip(), fold(variant).strip()).ratio()
        return _WORD_WEIGHT * overlap + (1 - _WORD_WEIGHT) * characters

    def _weight(self, word: str) -> float:
        return self._idf.get(word, self._unseen_idf)


@lru_cache(maxsize=4096)
def _similar(a: str, b: str) -> float:
    return 1.0 if a == b else SequenceMatcher(None, a, b).ratio()


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load a knowledge-base JSON file (the bundled one by default)."""
    source = Path(path) if path else DEFAULT_KB_FILE
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read knowledge base {source}: {error}") from error
    if not isinstance(data, Mapping):
        raise ValueError(f"knowledge base {source} must be a JSON object")
    return KnowledgeBase(data)
