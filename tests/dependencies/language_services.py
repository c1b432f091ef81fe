"""LUIS's and QnA Maker's successors, served locally over real HTTP in their own protocols.

- Azure AI Language conversational language understanding (CLU):
  ``POST /language/:analyze-conversations?api-version=2023-04-01`` (what
  ``azure-ai-language-conversations`` 1.1's ``analyze_conversation`` sends), answering a
  ``ConversationResult`` with ``topIntent``, ``intents`` (``category``, ``confidenceScore``)
  and ``entities``;
- custom question answering:
  ``POST /language/:query-knowledgebases?projectName=..&deploymentName=..&api-version=2021-10-01``
  (``azure-ai-language-questionanswering``'s ``get_answers``), answering ``answers`` with
  ``confidenceScore`` and ``id``; no match is the service's default answer, id -1;
- an OpenAI-compatible ``POST /v1/chat/completions``, the way bots call an LLM today: an
  intent as JSON, or (system prompt ``ANSWER_PROMPT``) a written answer quoting the user;
  the model answering is the one asked with ``MODEL_VERSION`` after it.

Each checks the key header the real service wants (401 otherwise) and records what it
received. A text containing ``throttle`` is answered 429 with ``Retry-After``, ``slow``
waits until the test releases it (``Received.release``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot_telemetry import instrument_app

LANGUAGE_KEY = "test-language-key"
LLM_KEY = "sk-test-llm-key"
NO_ANSWER = "No answer found"
#: A system prompt starting so asks the LLM for a written answer (else it recognizes an intent).
ANSWER_PROMPT = "Answer the user's question"
ANSWER_OPENING = "You asked:"
MODEL_VERSION = "-2024-07-18"


@dataclass
class Received:
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def traceparents(self, path: str) -> list[str | None]:
        return [headers.get("traceparent") for at, headers, _ in self.requests if at == path]


async def _refused(request: web.Request, received: Received, text: str) -> web.Response | None:
    if "throttle" in text:
        return web.json_response(
            {"error": {"code": "429", "message": "Rate limit is exceeded."}},
            status=429,
            headers={"Retry-After": "7"},
        )
    if "slow" in text:
        await received.release.wait()
    return None


def language_app(received: Received) -> web.Application:
    async def remember(request: web.Request) -> Any:
        raw = await request.text()
        received.requests.append((request.path, dict(request.headers), raw))
        return json.loads(raw)

    def unauthorized() -> web.Response:
        message = "Access denied due to invalid subscription key or wrong API endpoint."
        return web.json_response({"error": {"code": "401", "message": message}}, status=401)

    async def analyze(request: web.Request) -> web.Response:
        body = await remember(request)
        if request.headers.get("Ocp-Apim-Subscription-Key") != LANGUAGE_KEY:
            return unauthorized()
        text = body["analysisInput"]["conversationItem"]["text"]
        refused = await _refused(request, received, text)
        if refused is not None:
            return refused
        if "flight" in text:
            intents = [
                {"category": "BookFlight", "confidenceScore": 0.92},
                {"category": "None", "confidenceScore": 0.05},
            ]
            entities = [
                {
                    "category": "Destination",
                    "text": "Paris",
                    "offset": 17,
                    "length": 5,
                    "confidenceScore": 1,
                },
            ]
        else:
            intents = [
                {"category": "None", "confidenceScore": 0.61},
                {"category": "BookFlight", "confidenceScore": 0.2},
            ]
            entities = []
        prediction = {
            "projectKind": "Conversation",
            "topIntent": intents[0]["category"],
            "intents": intents,
            "entities": entities,
        }
        return web.json_response(
            {"kind": "ConversationResult", "result": {"query": text, "prediction": prediction}}
        )

    async def query(request: web.Request) -> web.Response:
        body = await remember(request)
        if request.headers.get("Ocp-Apim-Subscription-Key") != LANGUAGE_KEY:
            return unauthorized()
        refused = await _refused(request, received, body["question"])
        if refused is not None:
            return refused
        if "password" in body["question"]:
            answer = {
                "questions": ["How do I reset my password?"],
                "answer": "Use the reset link on the sign-in page.",
                "confidenceScore": 0.87,
                "id": 12,
                "source": "faq.tsv",
                "metadata": {},
            }
        else:
            answer = {
                "questions": [],
                "answer": NO_ANSWER,
                "confidenceScore": 0.0,
                "id": -1,
                "metadata": {},
            }
        return web.json_response({"answers": [answer]})

    async def complete(request: web.Request) -> web.Response:
        body = await remember(request)
        if request.headers.get("Authorization") != f"Bearer {LLM_KEY}":
            return web.json_response({"error": {"message": "Incorrect API key"}}, status=401)
        text = body["messages"][-1]["content"]
        refused = await _refused(request, received, text)
        if refused is not None:
            return refused
        if body["messages"][0]["content"].startswith(ANSWER_PROMPT):
            # A written answer, repeating the user's words as models do.
            content = f"{ANSWER_OPENING} {text}. We fly there daily."
        else:
            intent = {"intent": "BookFlight" if "flight" in text else "None", "score": 0.8}
            content = json.dumps(intent)
        model = body.get("model")
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                # The deployment's dated version, as OpenAI answers for an alias.
                "model": f"{model}{MODEL_VERSION}" if isinstance(model, str) else model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
            }
        )

    app = web.Application()
    instrument_app(app)
    app.router.add_post("/language/:analyze-conversations", analyze)
    app.router.add_post("/language/:query-knowledgebases", query)
    app.router.add_post("/v1/chat/completions", complete)
    return app
