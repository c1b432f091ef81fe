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
  the model answering is the one asked with ``MODEL_VERSION`` after it. With ``"stream":
  true`` the answer is server-sent events, a word a chunk, each event written in two halves
  (so lines are split across reads), the usage in a last chunk with no choices when
  ``stream_options.include_usage`` asks, then ``data: [DONE]``; ``pause`` in the text holds
  the stream after its first two events until the test releases it, ``gzip`` compresses it;
- ``POST /v1/embeddings`` and the Responses API's ``POST /v1/responses`` (streamed too: its
  ``response.created``, ``response.output_text.delta`` and ``response.completed`` events);
  ``long`` in the text makes the answer long (``LONG_REPEATS``);
- Azure OpenAI's ``POST /openai/deployments/{deployment}/chat/completions`` and
  ``.../embeddings`` (``?api-version=`` required, the key in ``api-key``): the body need not
  name a model, the deployment's (``AZURE_DEPLOYMENTS``) answers; an unknown one is a 404.

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


#: ``long`` in the text: an answer of about 110 KB, whose Responses API ``response.completed``
#: event (repeating the whole answer) is one line longer than a reader should gather.
LONG_REPEATS = 10_000


def pieces(content: str) -> list[str]:
    """How the answer streams: a word at a time, or 4 KB at a time when it is long."""
    if len(content) > 4096:
        return [content[i : i + 4096] for i in range(0, len(content), 4096)]
    return [word + " " for word in content.split(" ")]


CHAT_USAGE = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
#: Azure OpenAI deployments (named by their owner) and the model each deploys.
AZURE_DEPLOYMENTS = {"support-bot": "gpt-4o-mini", "search-vectors": "text-embedding-3-small"}


def answered(body: Any) -> Any:
    """The model that answers: the deployment's dated version, as OpenAI answers for an alias."""
    model = body.get("model")
    return f"{model}{MODEL_VERSION}" if isinstance(model, str) else model


@dataclass
class Received:
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    #: The bytes of every streamed answer, as written.
    streamed: bytearray = field(default_factory=bytearray)

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

    async def model_request(request: web.Request) -> tuple[Any, str, web.Response | None]:
        body = await remember(request)
        deployment = request.match_info.get("deployment")
        if deployment is not None:  # Azure OpenAI: its key header, and the deployment's model
            if request.headers.get("api-key") != LLM_KEY or "api-version" not in request.query:
                return body, "", unauthorized()
            if deployment not in AZURE_DEPLOYMENTS:
                error = {"code": "DeploymentNotFound", "message": "The deployment does not exist."}
                return body, "", web.json_response({"error": error}, status=404)
            body = {**body, "model": AZURE_DEPLOYMENTS[deployment]}
        elif request.headers.get("Authorization") != f"Bearer {LLM_KEY}":
            refused = web.json_response({"error": {"message": "Incorrect API key"}}, status=401)
            return body, "", refused
        messages = body.get("messages") or body.get("input")
        text = messages[-1]["content"] if isinstance(messages, list) else str(messages)
        return body, text, await _refused(request, received, text)

    def written(body: Any, text: str) -> str:
        messages = body.get("messages") or body.get("input")
        if isinstance(messages, list) and messages[0]["content"].startswith(ANSWER_PROMPT):
            # A written answer, repeating the user's words as models do.
            written = f"{ANSWER_OPENING} {text}. We fly there daily."
            return written + " Every day." * LONG_REPEATS if "long" in text else written
        return json.dumps({"intent": "BookFlight" if "flight" in text else "None", "score": 0.8})

    async def complete(request: web.Request) -> web.StreamResponse:
        body, text, refused = await model_request(request)
        if refused is not None:
            return refused
        content = written(body, text)
        if body.get("stream"):
            usage = (body.get("stream_options") or {}).get("include_usage", False)
            return await stream_chat(request, answered(body), content, text, usage=usage)
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": answered(body),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": CHAT_USAGE,
            }
        )

    async def stream_chat(
        request: web.Request, model: Any, content: str, text: str, *, usage: bool
    ) -> web.StreamResponse:
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0}
        base["model"] = model
        if usage:
            base["usage"] = None
        deltas = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece} for piece in pieces(content)]
        events: list[Any] = [
            {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            for delta in deltas
        ]
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if usage:
            events.append({**base, "choices": [], "usage": CHAT_USAGE})
        lines = [f"data: {json.dumps(event)}" for event in events] + ["data: [DONE]"]
        return await stream_events(request, lines, text)

    async def stream_events(request: web.Request, lines: list[str], text: str) -> Any:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        if "gzip" in text:
            response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        for number, line in enumerate(lines):
            payload = f"{line}\n\n".encode()
            received.streamed += payload
            half = len(payload) // 2
            await response.write(payload[:half])
            await response.write(payload[half:])
            if number == 1 and "pause" in text:
                await received.release.wait()
        await response.write_eof()
        return response

    async def embed(request: web.Request) -> web.Response:
        body, _, refused = await model_request(request)
        if refused is not None:
            return refused
        return web.json_response(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3]}],
                "model": body.get("model"),
                "usage": {"prompt_tokens": 9, "total_tokens": 9},
            }
        )

    async def respond(request: web.Request) -> web.StreamResponse:
        body, text, refused = await model_request(request)
        if refused is not None:
            return refused
        content = written(body, text)
        message = {"type": "output_text", "text": content, "annotations": []}
        done = {
            "id": "resp_1",
            "object": "response",
            "created_at": 0,
            "status": "completed",
            "model": answered(body),
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [message],
                }
            ],
            "usage": {"input_tokens": 14, "output_tokens": 7, "total_tokens": 21},
        }
        if not body.get("stream"):
            return web.json_response(done)
        started = {**done, "status": "in_progress", "output": [], "usage": None}
        events = [("response.created", {"type": "response.created", "response": started})]
        kind = "response.output_text.delta"
        events += [
            (kind, {"type": kind, "item_id": "msg_1", "delta": piece}) for piece in pieces(content)
        ]
        events.append(("response.completed", {"type": "response.completed", "response": done}))
        lines = [f"event: {kind}\ndata: {json.dumps(event)}" for kind, event in events]
        return await stream_events(request, lines, text)

    app = web.Application()
    instrument_app(app)
    app.router.add_post("/language/:analyze-conversations", analyze)
    app.router.add_post("/language/:query-knowledgebases", query)
    app.router.add_post("/v1/chat/completions", complete)
    app.router.add_post("/v1/embeddings", embed)
    app.router.add_post("/v1/responses", respond)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", complete)
    app.router.add_post("/openai/deployments/{deployment}/embeddings", embed)
    return app
