from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sample_bot.qna.api import build_app
from sample_bot.qna.knowledge_base import KnowledgeBase, load_knowledge_base
from tests.support.servers import serving

GENERATE = "/qnamaker/knowledgebases/restaurant-faq/generateAnswer"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        ("where can I park?", 3),  # a variant word for word
        ("Do you have parking", 3),
        ("when do you open", 1),  # reworded
        ("are you open on sundays?", 1),
        ("can i bring my doggs", 6),  # misspelt
        ("is there wi-fi", 7),
    ],
)
def test_finds_the_entry(kb: KnowledgeBase, question: str, entry: int) -> None:
    best = kb.answer(question)[0]
    assert best.id == entry
    assert kb.threshold <= best.score <= 100


@pytest.mark.parametrize("question", ["what is the meaning of life", "tell me a joke", "hi"])
def test_misses_give_the_default_answer(kb: KnowledgeBase, question: str) -> None:
    assert kb.answer(question) == [kb.answer("zzz")[0]]
    miss = kb.answer(question)[0]
    assert (miss.id, miss.score, miss.answer) == (-1, 0.0, kb.default_answer)


def test_exact_variant_scores_highest(kb: KnowledgeBase) -> None:
    exact = kb.answer("Where can I park?")[0].score
    reworded = kb.answer("where could I park my car")[0].score
    assert exact == 100.0
    assert reworded < exact


def test_top_and_threshold(kb: KnowledgeBase) -> None:
    several = kb.answer("do you have vegetarian food", top=3, threshold=10)
    assert len(several) == 3
    assert [a.score for a in several] == sorted((a.score for a in several), reverse=True)
    assert several[0].id == 4
    assert kb.answer("do you have vegetarian food", threshold=100)[0].id == -1


def test_bad_knowledge_base_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read knowledge base"):
        load_knowledge_base(tmp_path / "none.json")
    with pytest.raises(ValueError, match="at least one question"):
        KnowledgeBase({"id": "x", "entries": [{"id": 1, "questions": [], "answer": "a"}]})
    with pytest.raises(ValueError, match="unique"):
        KnowledgeBase({"id": "x", "entries": [{"id": 1, "questions": ["q"], "answer": "a"}] * 2})
    with pytest.raises(ValueError, match="malformed"):
        KnowledgeBase({"entries": []})


async def _ask(url: str, body: Any, raw: bytes | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with session.post(url + GENERATE, **kwargs) as got:
            return got.status, await got.json()


async def test_generate_answer_shape(kb: KnowledgeBase) -> None:
    async with serving(build_app(kb)) as url:
        status, body = await _ask(url, {"question": "can I pay by card?", "top": 1})
        assert status == 200
        [answer] = body["answers"]
        assert answer["id"] == 9
        assert answer["answer"] == "We accept cards and cash."
        assert "Can I pay by card?" in answer["questions"]
        assert answer["metadata"] == [{"name": "topic", "value": "policies"}]
        assert answer["source"] == kb.name
        status, body = await _ask(url, {"question": "tell me a joke"})
        assert body["answers"] == [
            {
                "id": -1,
                "answer": kb.default_answer,
                "score": 0.0,
                "questions": [],
                "source": None,
                "metadata": [],
            }
        ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "x" * 1001},
        {"question": "hours", "top": 0},
        {"question": "hours", "top": True},
        {"question": "hours", "scoreThreshold": 101},
        ["hours"],
    ],
)
async def test_bad_requests_get_clear_errors(kb: KnowledgeBase, body: Any) -> None:
    async with serving(build_app(kb)) as url:
        status, answer = await _ask(url, body)
    assert status == 400
    assert answer["error"]["message"]


async def test_unknown_knowledge_base_and_broken_json(kb: KnowledgeBase) -> None:
    async with serving(build_app(kb)) as url, aiohttp.ClientSession() as session:
        async with session.post(
            url + GENERATE.replace("restaurant-faq", "nope"), json={"question": "hours"}
        ) as got:
            assert got.status == 404
        status, _ = await _ask(url, None, raw=json.dumps({"question": "x"})[:-1].encode())
        assert status == 400
