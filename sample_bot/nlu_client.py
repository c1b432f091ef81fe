"""``NluClient``: asks the nlu service (LUIS v3 prediction API) for a text's intent.

Runtime-neutral: botbuilder's ``NluRecognizer`` (``recognizer.py``) turns its answer into
a ``RecognizerResult``; the Agents SDK, which has no recognizer type, uses ``recognize``
here directly, whose ``Recognition`` has the same fields.

    client = NluClient("http://127.0.0.1:5101", session)
    result = await client.recognize(turn_context)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .http_clients import ServiceError, SharedSession

DEFAULT_APP_ID = "sample-restaurant"


@dataclass(frozen=True)
class IntentScore:
    score: float


@dataclass(frozen=True)
class Recognition:
    """A LUIS v3 result with botbuilder's ``RecognizerResult`` field names."""

    text: str
    intents: dict[str, IntentScore]
    entities: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    altered_text: str | None = None


class NluClient:
    def __init__(self, endpoint: str, session: SharedSession, app_id: str = DEFAULT_APP_ID) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.app_id = app_id
        self._session = session

    @property
    def predict_url(self) -> str:
        return f"{self.endpoint}/luis/prediction/v3.0/apps/{self.app_id}/slots/production/predict"

    async def predict(self, text: str) -> dict[str, Any]:
        """The service's JSON answer for ``text``; ``ServiceError`` if it fails."""
        try:
            async with self._session.get().get(
                self.predict_url, params={"query": text, "show-all-intents": "true"}
            ) as response:
                if response.status != 200:
                    # As aiohttp's raise_for_status words it: the URL, query (the user's
                    # text) included. The privacy policy keeps it out of telemetry.
                    raise ServiceError(
                        f"nlu answered {response.status} for {response.url}: "
                        f"{await response.text()}"
                    )
                body: dict[str, Any] = await response.json()
                return body
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServiceError(f"nlu at {self.endpoint} is unreachable: {error!r}") from error

    async def recognize(self, turn_context: Any) -> Recognition:
        text = (turn_context.activity.text or "").strip()
        if not text:
            return Recognition(text="", intents={"None": IntentScore(1.0)})
        return to_recognition(text, await self.predict(text))


def to_recognition(text: str, body: dict[str, Any]) -> Recognition:
    """The result ``LuisRecognizerV3`` would build from a LUIS v3 response."""
    prediction = body.get("prediction") or {}
    intents = {
        name: IntentScore(score=float((value or {}).get("score", 0.0)))
        for name, value in (prediction.get("intents") or {}).items()
    }
    properties: dict[str, Any] = {}
    if isinstance(prediction.get("sentiment"), dict):
        properties["sentiment"] = prediction["sentiment"]
    return Recognition(
        text=text,
        intents=intents,
        entities=prediction.get("entities") or {},
        properties=properties,
        altered_text=prediction.get("alteredQuery"),
    )
