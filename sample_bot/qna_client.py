"""``QnaClient``: asks the qna service (generateAnswer API) the activity's text, for a
turn of either runtime (it reads only ``turn_context.activity.text``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .http_clients import ServiceError, SharedSession

DEFAULT_KB_ID = "restaurant-faq"


@dataclass(frozen=True)
class QnaAnswer:
    """One answer, with QnA Maker's field names (``id == -1``: no match)."""

    id: int
    answer: str
    score: float
    questions: list[str] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)


class QnaClient:
    """Has QnA Maker's ``get_answers(turn_context)``, so ``TelemetryQnA`` can wrap it.

    answers = await QnaClient("http://127.0.0.1:5102", session).get_answers(turn_context)
    """

    def __init__(
        self,
        endpoint: str,
        session: SharedSession,
        knowledge_base_id: str = DEFAULT_KB_ID,
        score_threshold: float | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.knowledge_base_id = knowledge_base_id
        self.score_threshold = score_threshold
        self._session = session

    @property
    def generate_answer_url(self) -> str:
        return f"{self.endpoint}/qnamaker/knowledgebases/{self.knowledge_base_id}/generateAnswer"

    async def get_answers(self, turn_context: Any, top: int = 1) -> list[QnaAnswer]:
        question = (turn_context.activity.text or "").strip()
        if not question:
            return []
        request: dict[str, Any] = {"question": question, "top": top}
        if self.score_threshold is not None:
            request["scoreThreshold"] = self.score_threshold
        try:
            async with self._session.get().post(self.generate_answer_url, json=request) as response:
                if response.status != 200:
                    raise ServiceError(
                        f"qna answered {response.status} to {question!r}: {await response.text()}"
                    )
                body: dict[str, Any] = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServiceError(f"qna at {self.endpoint} is unreachable: {error!r}") from error
        return [
            QnaAnswer(
                id=int(raw.get("id", -1)),
                answer=str(raw.get("answer", "")),
                score=float(raw.get("score", 0.0)),
                questions=list(raw.get("questions") or []),
                metadata=list(raw.get("metadata") or []),
            )
            for raw in body.get("answers") or []
        ]
