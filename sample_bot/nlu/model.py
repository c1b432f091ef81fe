"""A small intent model: TF-IDF vectors over the training utterances, nearest by cosine.

Entities are found first (list entities from the training file, numbers) and replaced by
a placeholder word, so "a table for 4 on friday" and "a table for two tomorrow" look the
same to the intent matcher. An intent's score is the best cosine similarity between the
query and one of its utterances; below the file's threshold the top intent is ``None``,
as with LUIS. Everything is deterministic: the same file and query give the same answer.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..text import fold, tokens, words

DEFAULT_TRAINING_FILE = Path(__file__).resolve().parents[1] / "data" / "nlu_training.json"
NONE_INTENT = "None"
_PLACEHOLDER = re.compile(r"\$([a-z]+)")


@dataclass(frozen=True)
class EntityMatch:
    type: str
    value: str | int
    text: str
    start: int
    length: int


@dataclass(frozen=True)
class Prediction:
    query: str
    top_intent: str
    intents: dict[str, float]
    entities: list[EntityMatch] = field(default_factory=list)
    sentiment_label: str = "neutral"
    sentiment_score: float = 0.5

    def to_luis_v3(self) -> dict[str, Any]:
        """The body of a LUIS v3 ``predict`` response."""
        entities: dict[str, Any] = {}
        instances: dict[str, list[dict[str, Any]]] = {}
        for match in self.entities:
            # LUIS v3 puts list-entity values in a nested list ([["friday"]]), numbers flat.
            value: Any = match.value if match.type == "number" else [match.value]
            entities.setdefault(match.type, []).append(value)
            instances.setdefault(match.type, []).append(
                {
                    "type": "builtin.number" if match.type == "number" else match.type,
                    "text": match.text,
                    "startIndex": match.start,
                    "length": match.length,
                    "modelTypeId": 2 if match.type == "number" else 5,
                    "modelType": "Prebuilt Entity Extractor"
                    if match.type == "number"
                    else "List Entity Extractor",
                    "recognitionSources": ["model"],
                }
            )
        if instances:
            entities["$instance"] = instances
        return {
            "query": self.query,
            "prediction": {
                "topIntent": self.top_intent,
                "intents": {name: {"score": score} for name, score in self.intents.items()},
                "entities": entities,
                "sentiment": {"label": self.sentiment_label, "score": self.sentiment_score},
            },
        }


class IntentModel:
    """Trained from a training file; ``predict(text)`` gives a :class:`Prediction`.

    model = load_model()
    model.predict("book a table for 4 on friday").top_intent  # "BookTable"
    """

    def __init__(self, training: Mapping[str, Any]) -> None:
        try:
            intents: Mapping[str, Sequence[str]] = training["intents"]
            self.app_id: str = str(training.get("appId", "sample"))
            self.threshold = float(training.get("threshold", 0.4))
            self._lists = _list_entities(training.get("entities", {}))
            self._number_words: dict[str, int] = {
                fold(k): int(v) for k, v in training.get("numbers", {}).items()
            }
            sentiment = training.get("sentiment", {})
            self._positive = {fold(w) for w in sentiment.get("positive", [])}
            self._negative = {fold(w) for w in sentiment.get("negative", [])}
            self._negations = {fold(w) for w in sentiment.get("negations", [])}
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"malformed nlu training data: {error!r}") from error
        if not intents or any(not utterances for utterances in intents.values()):
            raise ValueError("nlu training data needs at least one utterance per intent")
        if NONE_INTENT in intents:
            raise ValueError(f"{NONE_INTENT!r} is implied and must not be trained")
        self.intent_names = list(intents)
        documents = [
            (intent, Counter(self._features(_PLACEHOLDER.sub(r"ent\1", text))))
            for intent, utterances in intents.items()
            for text in utterances
        ]
        frequency: Counter[str] = Counter()
        for _, counts in documents:
            frequency.update(counts.keys())
        count = len(documents)
        # Smoothed IDF (as scikit-learn's default): unseen words weigh most but are never infinite.
        self._idf = {w: math.log((1 + count) / (1 + df)) + 1 for w, df in frequency.items()}
        self._unseen_idf = math.log(1 + count) + 1
        self._vectors = [(intent, self._vector(counts)) for intent, counts in documents]

    def predict(self, query: str) -> Prediction:
        entities = self._entities(query)
        masked = _mask(fold(query), entities)
        vector = self._vector(Counter(self._features(masked)))
        scores = dict.fromkeys(self.intent_names, 0.0)
        for intent, utterance in self._vectors:
            similarity = sum(weight * utterance.get(word, 0.0) for word, weight in vector.items())
            scores[intent] = max(scores[intent], similarity)
        best = max(
            self.intent_names, key=lambda name: (scores[name], -self.intent_names.index(name))
        )
        top = best if scores[best] >= self.threshold else NONE_INTENT
        scores[NONE_INTENT] = 1.0 - scores[best]
        ordered = dict(sorted(((k, round(v, 4)) for k, v in scores.items()), key=lambda kv: -kv[1]))
        label, score = self._sentiment(query)
        return Prediction(query, top, ordered, entities, label, score)

    def _features(self, text: str) -> list[str]:
        return tokens(text)

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        weights = {w: n * self._idf.get(w, self._unseen_idf) for w, n in counts.items()}
        norm = math.sqrt(sum(v * v for v in weights.values()))
        return {w: v / norm for w, v in weights.items()} if norm else {}

    def _entities(self, query: str) -> list[EntityMatch]:
        folded = fold(query)
        found: list[EntityMatch] = []
        taken: list[tuple[int, int]] = []

        def add(kind: str, value: str | int, match: re.Match[str]) -> None:
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                return
            taken.append((start, end))
            found.append(EntityMatch(kind, value, query[start:end], start, end - start))

        for kind, synonyms in self._lists.items():
            for synonym, canonical in synonyms:
                for match in re.finditer(rf"\b{re.escape(synonym)}\b", folded):
                    add(kind, canonical, match)
        for match in re.finditer(r"\b\d+\b", folded):
            add("number", int(match.group()), match)
        # "twenty-two" as one number, before the "two" in it is taken as one on its own.
        tens = [w for w, n in self._number_words.items() if n in range(20, 100, 10)]
        units = {w: n for w, n in self._number_words.items() if n in range(1, 10) and " " not in w}
        if tens and units:
            pattern = (
                rf"\b({'|'.join(map(re.escape, tens))})[- ]({'|'.join(map(re.escape, units))})\b"
            )
            for match in re.finditer(pattern, folded):
                add("number", self._number_words[match[1]] + units[match[2]], match)
        for phrase, number in sorted(self._number_words.items(), key=lambda kv: -len(kv[0])):
            for match in re.finditer(rf"\b{re.escape(phrase)}\b", folded):
                add("number", number, match)
        return sorted(found, key=lambda entity: entity.start)

    def _sentiment(self, query: str) -> tuple[str, float]:
        positive = negative = 0
        negate_next = 0
        for word in words(query):
            if word in self._negations:
                negate_next = 2  # "not very good": a negation reaches two words ahead
                continue
            polarity = (word in self._positive) - (word in self._negative)
            if negate_next:
                polarity = -polarity
                negate_next -= 1
            positive += polarity > 0
            negative += polarity < 0
        # +1 in the denominator pulls single words towards neutral: "thanks" is mildly positive.
        score = round(0.5 + 0.5 * (positive - negative) / (positive + negative + 1), 4)
        label = "positive" if score >= 0.6 else "negative" if score <= 0.4 else "neutral"
        return label, score


def _list_entities(
    raw: Mapping[str, Mapping[str, Sequence[str]]],
) -> dict[str, list[tuple[str, str]]]:
    lists: dict[str, list[tuple[str, str]]] = {}
    for kind, values in raw.items():
        pairs = [(fold(s), canonical) for canonical, synonyms in values.items() for s in synonyms]
        # Longest synonym first so "tomorrow night" wins over "tomorrow".
        lists[kind] = sorted(pairs, key=lambda pair: -len(pair[0]))
    return lists


def _mask(folded: str, entities: Sequence[EntityMatch]) -> str:
    for entity in sorted(entities, key=lambda e: -e.start):
        folded = (
            f"{folded[: entity.start]} ent{entity.type} {folded[entity.start + entity.length :]}"
        )
    return folded


def load_model(path: str | Path | None = None) -> IntentModel:
    """Train the model from a JSON training file (the bundled one by default)."""
    source = Path(path) if path else DEFAULT_TRAINING_FILE
    try:
        training = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read nlu training file {source}: {error}") from error
    return IntentModel(training)
