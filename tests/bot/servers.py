"""Local HTTP servers speaking the real wire protocols of the cloud edges we don't own.

LUIS and QnA Maker are retired cloud services; Application Insights ingestion and the Bot
Connector are Azure endpoints. Each server here answers the requests botbuilder and the
Azure Monitor exporter really send, on a free port, and keeps what it received.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    requests: list[dict[str, Any]] = field(default_factory=list)


# --- LUIS v3 prediction API -------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def empty_prediction(query: str) -> dict[str, Any]:
    """What LUIS answers when no intent or entity was found."""
    return {"query": query, "prediction": {"topIntent": "", "intents": {}, "entities": {}}}


def luis_app(
    recorded: Recorded, predict_for: Callable[[str], dict[str, Any]] | None = None
) -> web.Application:
    """POST /luis/prediction/v3.0/apps/{app}/slots/{slot}/predict, as LUIS answered it.

    ``predict_for(query)`` gives the response body; by default an email in the query is an
    entity and "flight" means BookFlight.
    """

    async def predict(request: web.Request) -> web.Response:
        body = await request.json()
        recorded.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "body": body,
                "headers": dict(request.headers),
            }
        )
        if not request.headers.get("Ocp-Apim-Subscription-Key"):
            return web.json_response({"error": {"code": "401"}}, status=401)
        query: str = body["query"]
        if predict_for is not None:
            return web.json_response(predict_for(query))
        entities: dict[str, Any] = {}
        instances: dict[str, Any] = {}
        email = _EMAIL.search(query)
        if email:
            entities["email"] = [email.group(0)]
            instances["email"] = [
                {
                    "type": "builtin.email",
                    "text": email.group(0),
                    "startIndex": email.start(),
                    "length": len(email.group(0)),
                    "modelTypeId": 2,
                    "modelType": "Prebuilt Entity Extractor",
                    "recognitionSources": ["model"],
                }
            ]
        if instances:
            entities["$instance"] = instances
        top = "BookFlight" if "flight" in query.lower() else "None"
        return web.json_response(
            {
                "query": query,
                "prediction": {
                    "topIntent": top,
                    "intents": {top: {"score": 0.97}, "Cancel": {"score": 0.02}},
                    "entities": entities,
                    "sentiment": {"label": "neutral", "score": 0.5},
                },
            }
        )

    app = web.Application()
    app.router.add_post("/luis/prediction/v3.0/apps/{app}/slots/{slot}/predict", predict)
    return app


# --- QnA Maker generateAnswer -----------------------------------------------------------


RESET_PASSWORD_ANSWER: dict[str, Any] = {
    "questions": ["How do I reset my password?"],
    "answer": "Use the reset link on the sign-in page.",
    "score": 87.5,
    "id": 12,
    "source": "faq.tsv",
    "metadata": [],
}


def qna_app(recorded: Recorded, answers: list[dict[str, Any]] | None = None) -> web.Application:
    """POST /qnamaker/knowledgebases/{kb}/generateAnswer, as QnA Maker answered it, with
    ``answers`` (default: one answer about resetting a password)."""

    async def generate_answer(request: web.Request) -> web.Response:
        body = await request.json()
        recorded.requests.append(
            {"path": request.path, "body": body, "headers": dict(request.headers)}
        )
        if not request.headers.get("Authorization", "").startswith("EndpointKey "):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        found = [RESET_PASSWORD_ANSWER] if answers is None else answers
        return web.json_response({"answers": found, "activeLearningEnabled": False})

    app = web.Application()
    app.router.add_post("/qnamaker/knowledgebases/{kb}/generateAnswer", generate_answer)
    return app


# --- Application Insights ingestion (Breeze) --------------------------------------------


@dataclass
class Ingestion:
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        return [e for e in self.envelopes if e["data"]["baseType"] == base_type]

    async def wait_for(self, condition: Callable[[Ingestion], bool], within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while not condition(self):
            if time.monotonic() > deadline:
                kinds = [e["data"]["baseType"] for e in self.envelopes]
                raise AssertionError(f"ingestion never met the condition; got {kinds}")
            await asyncio.sleep(0.05)


def ingestion_app(ingestion: Ingestion) -> web.Application:
    """POST /v2.1/track with JSON envelopes (gzip or not), answering like the service."""

    async def track(request: web.Request) -> web.Response:
        # Connection strings usually end the IngestionEndpoint with "/", so the exporter
        # posts to "//v2.1/track"; the service accepts that, and so do we.
        if re.sub("/+", "/", request.path) != "/v2.1/track":
            return web.json_response({"error": "not found"}, status=404)
        raw = await request.read()
        ingestion.raw_bodies.append(raw)
        if request.headers.get("Content-Encoding", "").lower() == "gzip" or raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8").strip()
        if text.startswith("["):
            items = json.loads(text)
        else:  # newline-delimited JSON, which the service also accepts
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        ingestion.envelopes.extend(items)
        return web.json_response(
            {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
        )

    app = web.Application()
    app.router.add_post("/{path:.*}", track)
    return app


# --- Bot Connector (replies from the bot) ----------------------------------------------


def connector_app(
    recorded: Recorded, members: Mapping[str, dict[str, Any]] | None = None
) -> web.Application:
    """The Bot Connector's send/reply routes (each reply gets a fresh activity id), its
    update (PUT) and delete (DELETE) routes, a conversation's member (``members``: by id,
    as botbuilder's ``TeamsInfo.get_member`` reads them; 404 for anyone else) and a team's
    details (``TeamsInfo.get_team_details``)."""

    async def member(request: web.Request) -> web.Response:
        recorded.requests.append(
            {
                "method": request.method,
                "conversation": request.match_info["conversation"],
                "reply_to": None,
                "activity": None,
                "headers": dict(request.headers),
            }
        )
        found = (members or {}).get(request.match_info["member"])
        return web.json_response(found) if found else web.json_response({}, status=404)

    async def team(request: web.Request) -> web.Response:
        # TeamsInfo.get_team_details: botbuilder's TeamsConnectorClient, a synchronous client
        recorded.requests.append(
            {
                "method": request.method,
                "conversation": request.match_info["team"],
                "reply_to": None,
                "activity": None,
                "headers": dict(request.headers),
            }
        )
        return web.json_response({"id": request.match_info["team"], "name": "A team"})

    async def send(request: web.Request) -> web.Response:
        activity = await request.json() if request.method != "DELETE" else None
        recorded.requests.append(
            {
                "method": request.method,
                "conversation": request.match_info["conversation"],
                "reply_to": request.match_info.get("activity"),
                "activity": activity,
                "headers": dict(request.headers),
            }
        )
        if request.method == "DELETE":
            return web.Response(status=200)
        return web.json_response(
            {
                "id": request.match_info.get("activity")
                if request.method == "PUT"
                else uuid.uuid4().hex
            }
        )

    app = web.Application()
    activity = "/v3/conversations/{conversation}/activities/{activity}"
    app.router.add_post(activity, send)
    app.router.add_put(activity, send)
    app.router.add_delete(activity, send)
    app.router.add_post("/v3/conversations/{conversation}/activities", send)
    app.router.add_get("/v3/conversations/{conversation}/members/{member}", member)
    app.router.add_get("/v3/teams/{team}", team)
    return app
