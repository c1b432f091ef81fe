"""Local services the dependency tests call over real HTTP, and a recognizer that calls one.

- an NLU prediction service (the shape of the sample's recognizer service): POST /predict
  with {"text"} answers intents, entities and sentiment; "crash" in the text answers 500;
- QnA Maker's generateAnswer, answering a match for password questions and nothing for
  anything else, 401 without an endpoint key.
Each records the ``traceparent`` it received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import IntentScore, Recognizer, RecognizerResult, TurnContext

from bot_telemetry import instrument_app

KNOWLEDGE_BASE = "kb-faq"
ENDPOINT_KEY = "test-endpoint-key"


@dataclass
class Received:
    traceparents: list[str | None] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def nlu_app(received: Received) -> web.Application:
    async def predict(request: web.Request) -> web.Response:
        body = await request.json()
        received.bodies.append(body)
        received.traceparents.append(request.headers.get("traceparent"))
        text: str = body["text"]
        if "crash" in text:
            return web.json_response({"error": "model unavailable"}, status=500)
        if "flight" in text:
            return web.json_response(
                {
                    "intents": {"BookFlight": 0.91, "Cancel": 0.04},
                    "entities": {
                        "city": ["Paris"],
                        "date": ["tomorrow"],
                        "$instance": {"city": [{"startIndex": 15}]},
                    },
                    "sentiment": {"label": "positive", "score": 0.83},
                }
            )
        return web.json_response({"intents": {"Greeting": 0.7}, "entities": {}})

    app = web.Application()
    instrument_app(app)
    app.router.add_post("/predict", predict)
    return app


class HttpRecognizer(Recognizer):  # type: ignore[misc]
    """A botbuilder Recognizer that asks the NLU service over HTTP."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        text = turn_context.activity.text
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.endpoint, json={"text": text}) as response,
        ):
            response.raise_for_status()
            body = await response.json()
        return RecognizerResult(
            text=text,
            intents={name: IntentScore(score) for name, score in body["intents"].items()},
            entities=body["entities"],
            properties={"sentiment": body["sentiment"]} if "sentiment" in body else {},
        )


def qna_maker_app(received: Received) -> web.Application:
    async def generate_answer(request: web.Request) -> web.Response:
        body = await request.json()
        received.bodies.append(body)
        received.traceparents.append(request.headers.get("traceparent"))
        if request.headers.get("Authorization") != f"EndpointKey {ENDPOINT_KEY}":
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        if "password" in body["question"]:
            answers = [
                {
                    "questions": ["How do I reset my password?"],
                    "answer": "Use the reset link on the sign-in page.",
                    "score": 87.5,
                    "id": 12,
                    "source": "faq.tsv",
                    "metadata": [],
                }
            ]
        else:
            answers = [
                {
                    "questions": [],
                    "answer": "No good match found in KB.",
                    "score": 0.0,
                    "id": -1,
                    "metadata": [],
                }
            ]
        return web.json_response({"answers": answers, "activeLearningEnabled": False})

    app = web.Application()
    instrument_app(app)
    app.router.add_post("/knowledgebases/{kb}/generateAnswer", generate_answer)
    return app
