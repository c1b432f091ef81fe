"""``NluRecognizer``: a botbuilder ``Recognizer`` backed by the nlu service (LUIS v3 API)."""

from __future__ import annotations

from typing import Any

import aiohttp
from botbuilder.core import IntentScore, Recognizer, RecognizerResult, TurnContext

from .http_clients import ServiceError, SharedSession

DEFAULT_APP_ID = "sample-restaurant"


class NluRecognizer(Recognizer):  # type: ignore[misc]
    """Asks ``endpoint``'s LUIS v3 prediction API for the activity's intent.

    recognizer = NluRecognizer("http://127.0.0.1:5101", session)
    result = await recognizer.recognize(turn_context)
    result.get_top_scoring_intent().intent  # "BookTable"
    """

    def __init__(self, endpoint: str, session: SharedSession, app_id: str = DEFAULT_APP_ID) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.app_id = app_id
        self._session = session

    @property
    def predict_url(self) -> str:
        return f"{self.endpoint}/luis/prediction/v3.0/apps/{self.app_id}/slots/production/predict"

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        text = (turn_context.activity.text or "").strip()
        if not text:
            return RecognizerResult(text="", intents={"None": IntentScore(1.0)}, entities={})
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
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ServiceError(f"nlu at {self.endpoint} is unreachable: {error!r}") from error
        return to_recognizer_result(text, body)


def to_recognizer_result(text: str, body: dict[str, Any]) -> RecognizerResult:
    """botbuilder's view of a LUIS v3 response, as ``LuisRecognizerV3`` builds it."""
    prediction = body.get("prediction") or {}
    intents = {
        name: IntentScore(score=float((value or {}).get("score", 0.0)))
        for name, value in (prediction.get("intents") or {}).items()
    }
    properties: dict[str, Any] = {}
    if isinstance(prediction.get("sentiment"), dict):
        properties["sentiment"] = prediction["sentiment"]
    return RecognizerResult(
        text=text,
        altered_text=prediction.get("alteredQuery"),
        intents=intents,
        entities=prediction.get("entities") or {},
        properties=properties,
    )
