"""``TelemetryQnA``: a Q&A client as a dependency with a ``QnAMessage`` event.

    qna = TelemetryQnA(QnAMaker(endpoint))
    answers = await qna.get_answers(turn_context)     # same answers, now traced

    qna = TelemetryQnA(my_async_answer_function, name="faq")

The client is botbuilder-ai's ``QnAMaker`` (or anything with its
``get_answers(turn_context, options)``) or an async callable taking the turn context and
returning answers. Answers are read as QnA Maker's: objects or dicts with ``answer``,
``score``, ``id`` and ``questions``, best first; or as Azure AI Language custom question
answering's (its SDK's ``KnowledgeBaseAnswer`` with ``confidence`` and ``qna_id``, or the
REST answer with ``confidenceScore``). ``id == -1`` (both services' "no good match"), no
answer or an empty list means nothing matched, reported as ``articleFound: false`` with no
answer fields. A model's answer (a string, or an OpenAI-compatible chat completion) is read
too.

A knowledge base's answer is its own text, recorded as ``answer``. An answer a model wrote
(an LLM) can repeat what the user said, so it is ``generatedAnswer``, personal like message
text: recorded only when the privacy policy allows message text. Unless ``generated=`` says,
an answer is taken as generated when it has no knowledge base id (QnA Maker's ``id``, the
question answering SDK's ``qna_id``) or a model was called for it (``llm_event_hooks``):
QnA Maker's client never is.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from .._deprecated import renamed
from .._private import qna_endpoint
from ..contract import (
    ANSWER,
    ARTICLE_FOUND,
    FALLBACK_NO_ANSWER,
    GENERATED_ANSWER,
    KNOWLEDGE_BASE_ID,
    MATCHED_QUESTION,
    ORIGINAL_QUESTION,
    QNA_MESSAGE,
    QUESTION,
    QUESTION_ID,
    SCORE,
    USERNAME,
)
from ..privacy import PrivacyPolicy
from ..signals.custom_events import track_custom_event
from ..signals.metrics import note_fallback
from ..signals.turn_context import TurnContextLike
from .call import DependencyCall, Target, dependency_call
from .events import number, string, turn_event_properties
from .llm import called_a_model
from .trace_activities import TraceActivities

COMPONENT: Final = "QnA"
SPAN_NAME: Final = "QnA Query"
ATTR_ARTICLE_FOUND: Final = "bot.qna.article_found"
ATTR_SCORE: Final = "bot.qna.score"
ATTR_KNOWLEDGE_BASE_ID: Final = "bot.qna.knowledge_base_id"
#: QnA Maker's id for "no answer in the knowledge base".
NO_MATCH_ID: Final = -1

_log = logging.getLogger(__name__)

AnswerFunction = Callable[..., Awaitable[Any]]


class TelemetryQnA:
    """Wraps a Q&A client; ``get_answers`` returns exactly what the client returned.

    ``name`` names the app-map node (default ``QnAMaker`` for botbuilder's client,
    the class name for other clients, ``QnA`` for a function); ``endpoint`` and
    ``knowledge_base_id`` default to a ``QnAMaker``'s own. ``generated=True`` records every
    answer as a model's (personal), ``False`` as a knowledge base's; by default an answer
    with no knowledge base id is a model's.
    """

    def __init__(
        self,
        client: Any,
        *,
        name: str | None = None,
        endpoint: str | None = None,
        knowledge_base_id: str | None = None,
        generated: bool | None = None,
        trace_activities: TraceActivities | str | None = None,
        privacy: PrivacyPolicy | None = None,
        service_name: str | None = None,
        policy: PrivacyPolicy | None = None,
    ) -> None:
        name = renamed("TelemetryQnA", "service_name", "name", service_name, name)
        privacy = renamed("TelemetryQnA", "policy", "privacy", policy, privacy)
        method = getattr(client, "get_answers", None)
        if _is_question_answering_client(client):
            # Its get_answers takes the question, project and deployment, not a turn: it
            # would be handed the turn context as its options and fail at the first turn.
            raise TypeError(
                "TelemetryQnA wraps a client with QnA Maker's get_answers(turn_context, "
                "options) or an async function taking the turn context; azure-ai-language-"
                "questionanswering's QuestionAnsweringClient is asked get_answers(question=..., "
                "project_name=..., deployment_name=...): wrap an async function that calls it "
                "with turn_context.activity.text (docs/dependencies.md, After LUIS and QnA Maker)"
            )
        if callable(method):
            self._ask: AnswerFunction = method
            default_name = type(client).__name__
        elif callable(client):
            self._ask = client
            default_name = COMPONENT
        else:
            raise TypeError(
                "TelemetryQnA wraps a Q&A client with get_answers(turn_context, options) or an "
                f"async callable taking the turn context, got {type(client).__name__}"
            )
        self.inner = client
        # QnA Maker answers from its knowledge base only.
        self._generated = False if generated is None and _is_qna_maker(client) else generated
        own_endpoint = qna_endpoint(client) if _is_qna_maker(client) else None
        url = endpoint or string(getattr(own_endpoint, "host", None))
        self._knowledge_base_id = knowledge_base_id or string(
            getattr(own_endpoint, "knowledge_base_id", None)
        )
        self._target = Target.for_url(name or default_name, url)
        self._trace_activities = TraceActivities.resolve(trace_activities)
        self._privacy = privacy

    async def get_answers(
        self, turn_context: TurnContextLike, options: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        """Ask the client; ``options`` and anything else are passed on unchanged."""
        extra = (options, *args) if options is not None or args else ()
        attributes = (
            {ATTR_KNOWLEDGE_BASE_ID: self._knowledge_base_id} if self._knowledge_base_id else {}
        )
        async with dependency_call(
            SPAN_NAME,
            self._target,
            component=COMPONENT,
            turn_context=turn_context,
            attributes=attributes,
            trace_activities=self._trace_activities,
            privacy=self._privacy,
        ) as call:
            answers = await self._ask(turn_context, *extra, **kwargs)
            self._report(answers, turn_context, call)
        return answers

    def _report(self, answers: Any, turn_context: TurnContextLike, call: DependencyCall) -> None:
        try:
            properties = turn_event_properties(turn_context, call.span)
            properties[KNOWLEDGE_BASE_ID] = self._knowledge_base_id
            best = best_answer(answers)
            properties[ARTICLE_FOUND] = best is not None
            if best is not None:
                score = number(_field(best, *_SCORE_FIELDS))
                question_id = _field(best, *_ID_FIELDS)
                generated = self._generated
                if generated is None:
                    # A knowledge base's answers have ids; a model's text has none. A model
                    # called in the call (llm_event_hooks) may have rewritten one that has.
                    generated = question_id is None or called_a_model(call.span)
                if generated:
                    properties[GENERATED_ANSWER] = _field(best, "answer")
                else:
                    properties[ANSWER] = _field(best, "answer")
                    properties[MATCHED_QUESTION] = _field(best, "questions")
                properties[SCORE] = score
                properties[QUESTION_ID] = _text(question_id)
                if score is not None:
                    call.set_attribute(ATTR_SCORE, score)
            call.set_attribute(ATTR_ARTICLE_FOUND, best is not None)
            activity = turn_context.activity
            text = getattr(activity, "text", None)
            properties[USERNAME] = getattr(getattr(activity, "from_property", None), "name", None)
            properties[ORIGINAL_QUESTION] = text
            properties[QUESTION] = text
        except Exception:  # answers we cannot read must not fail the turn
            _log.warning("could not read the Q&A answers for telemetry", exc_info=True)
            return
        track_custom_event(QNA_MESSAGE, properties, privacy=self._privacy, span=call.span)
        if best is None:
            note_fallback(FALLBACK_NO_ANSWER)


def best_answer(answers: Any) -> Any | None:
    """The first answer if it is a match, else None. A model's text (a string, or a chat
    completion's first choice) is an answer with no id.

    >>> best_answer([{"id": -1, "answer": "No good match found in KB.", "score": 0}]) is None
    True
    >>> best_answer({"choices": [{"message": {"role": "assistant", "content": "Hi"}}]})
    {'answer': 'Hi'}
    """
    written = _model_text(answers)
    if written is not None:
        return {"answer": written} if written.strip() else None
    if not isinstance(answers, Sequence) and hasattr(answers, "answers"):
        answers = answers.answers  # QnAMaker.get_answers_raw's QueryResults
    if not isinstance(answers, Sequence) or isinstance(answers, str) or not answers:
        return None
    first = answers[0]
    if _field(first, "answer") is None or _field(first, *_ID_FIELDS) == NO_MATCH_ID:
        return None
    return first


#: QnA Maker's name, then Azure AI Language question answering's: the SDK's
#: ``KnowledgeBaseAnswer`` and the REST answer (``confidenceScore``).
_SCORE_FIELDS: Final = ("score", "confidence", "confidenceScore")
#: QnA Maker's and the REST answer's ``id``; the question answering SDK's ``qna_id``.
_ID_FIELDS: Final = ("id", "qna_id")


def _model_text(answers: Any) -> str | None:
    """A model's answer: a string, or an OpenAI-compatible chat completion's first choice
    (the response's JSON, or the ``openai`` package's ``ChatCompletion``); else None."""
    if isinstance(answers, str):
        return answers
    choices = _field(answers, "choices") if not isinstance(answers, Sequence) else None
    if not isinstance(choices, Sequence) or isinstance(choices, str) or not choices:
        return None
    content = _field(_field(choices[0], "message"), "content")
    return content if isinstance(content, str) else None


def _field(answer: Any, *names: str) -> Any:
    """The first of ``names`` the answer has (a dict's key or an object's attribute)."""
    for name in names:
        value = answer.get(name) if isinstance(answer, Mapping) else getattr(answer, name, None)
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_question_answering_client(client: object) -> bool:
    # By name, the sync client and the aio one alike: the SDK is an optional extra.
    return any(
        kind.__name__ == "QuestionAnsweringClient"
        and kind.__module__.startswith("azure.ai.language.questionanswering")
        for kind in type(client).__mro__
    )


def _is_qna_maker(client: object) -> bool:
    # By name: botbuilder-ai is an optional extra, not imported unless the bot uses it.
    return any(kind.__name__ == "QnAMaker" for kind in type(client).__mro__)
