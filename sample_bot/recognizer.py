"""``NluRecognizer``: a botbuilder ``Recognizer`` backed by the nlu service (LUIS v3 API)."""

from __future__ import annotations

from typing import Any

from botbuilder.core import IntentScore, Recognizer, RecognizerResult, TurnContext

from .http_clients import SharedSession
from .nlu_client import DEFAULT_APP_ID, NluClient, Recognition, to_recognition


class NluRecognizer(Recognizer):  # type: ignore[misc]
    """Asks ``endpoint``'s LUIS v3 prediction API for the activity's intent.

    recognizer = NluRecognizer("http://127.0.0.1:5101", session)
    result = await recognizer.recognize(turn_context)
    result.get_top_scoring_intent().intent  # "BookTable"
    """

    def __init__(self, endpoint: str, session: SharedSession, app_id: str = DEFAULT_APP_ID) -> None:
        self.client = NluClient(endpoint, session, app_id)
        self.endpoint = self.client.endpoint
        self.app_id = app_id

    @property
    def predict_url(self) -> str:
        return self.client.predict_url

    async def recognize(self, turn_context: TurnContext) -> RecognizerResult:
        return as_recognizer_result(await self.client.recognize(turn_context))


def to_recognizer_result(text: str, body: dict[str, Any]) -> RecognizerResult:
    """botbuilder's view of a LUIS v3 response, as ``LuisRecognizerV3`` builds it."""
    return as_recognizer_result(to_recognition(text, body))


def as_recognizer_result(recognition: Recognition) -> RecognizerResult:
    return RecognizerResult(
        text=recognition.text,
        altered_text=recognition.altered_text,
        intents={name: IntentScore(score=s.score) for name, s in recognition.intents.items()},
        entities=recognition.entities,
        properties=recognition.properties,
    )
