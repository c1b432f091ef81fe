"""The qna service's HTTP API, shaped like QnA Maker's generateAnswer.

POST /qnamaker/knowledgebases/{kbId}/generateAnswer
     {"question": "...", "top": 1, "scoreThreshold": 50}
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..faults import RequestLedger
from .knowledge_base import KnowledgeBase

GENERATE_ANSWER_ROUTE = "/qnamaker/knowledgebases/{kb_id}/generateAnswer"
MAX_QUESTION_LENGTH = 1000
KB_KEY = web.AppKey("knowledge_base", KnowledgeBase)


def build_app(kb: KnowledgeBase, ledger: RequestLedger | None = None) -> web.Application:
    app = web.Application(middlewares=[ledger.middleware] if ledger else [])
    app[KB_KEY] = kb
    app.router.add_post(GENERATE_ANSWER_ROUTE, generate_answer)
    return app


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def generate_answer(request: web.Request) -> web.Response:
    kb = request.app[KB_KEY]
    if request.match_info["kb_id"] != kb.id:
        return _error(
            404,
            "NotFound",
            f"no knowledge base {request.match_info['kb_id']!r}; this service serves {kb.id!r}",
        )
    try:
        body: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "BadArgument", 'the body must be JSON: {"question": "..."}')
    if not isinstance(body, dict):
        return _error(400, "BadArgument", "the body must be a JSON object")
    question = body.get("question")
    if not isinstance(question, str) or not question.strip():
        return _error(400, "BadArgument", "a non-empty 'question' is required")
    if len(question) > MAX_QUESTION_LENGTH:
        return _error(
            400, "BadArgument", f"the question is longer than {MAX_QUESTION_LENGTH} characters"
        )
    top, threshold = body.get("top", 1), body.get("scoreThreshold")
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 50:
        return _error(400, "BadArgument", "'top' must be a whole number from 1 to 50")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 100
    ):
        return _error(400, "BadArgument", "'scoreThreshold' must be a number from 0 to 100")
    answers = kb.answer(question, top=top, threshold=threshold)
    return web.json_response(
        {
            "answers": [a.to_generate_answer(kb.name) for a in answers],
            "activeLearningEnabled": False,
        }
    )
