from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from sample_bot.nlu.api import build_app
from sample_bot.nlu.model import IntentModel, load_model
from sample_bot.qna.knowledge_base import DEFAULT_KB_FILE
from tests.support.servers import serving

PREDICT = "/luis/prediction/v3.0/apps/sample-restaurant/slots/production/predict"


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return load_model()


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("Hello there!", "Greeting"),
        ("could you book us a table for 6 on saturday", "BookTable"),
        ("I'd like to reserve a table tomorrow night", "BookTable"),
        ("cancel that please", "Cancel"),
        ("what can you do?", "Help"),
        ("ok bye", "Goodbye"),
        # The knowledge base's questions, as a dispatch model (LUIS + QnA Maker) has them:
        # the bot asks the Q&A service, and the turn is no fallback.
        ("what is the wifi password", "Faq"),
        # Answers to the booking's questions.
        ("yes", "Confirm"),
        ("no", "Reject"),
        ("saturday", "BookTable"),
        ("2", "BookTable"),
        ("tell me a joke", "None"),
        ("what is the meaning of life", "None"),
        ("Ana", "None"),
    ],
)
def test_top_intent(model: IntentModel, query: str, intent: str) -> None:
    assert model.predict(query).top_intent == intent


def test_every_knowledge_base_question_is_the_faq_intent(model: IntentModel) -> None:
    """The Faq intent holds the knowledge base's questions, as the Dispatch tool copies a QnA
    Maker knowledge base into the LUIS app: a question added to one is added to the other."""
    knowledge = json.loads(DEFAULT_KB_FILE.read_text())
    questions = [q for entry in knowledge["entries"] for q in entry["questions"]]
    assert questions
    for question in questions:
        prediction = model.predict(question)
        assert (prediction.top_intent, prediction.intents["Faq"]) == ("Faq", 1.0), question


def test_scores_cover_every_intent_best_first(model: IntentModel) -> None:
    prediction = model.predict("book a table")
    assert set(prediction.intents) == {*model.intent_names, "None"}
    scores = list(prediction.intents.values())
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_entities_with_positions_in_the_original_text(model: IntentModel) -> None:
    query = "Table for Four on Friday, please"
    found = {(e.type, e.value, e.text) for e in model.predict(query).entities}
    assert found == {("number", 4, "Four"), ("day", "friday", "Friday")}
    for entity in model.predict(query).entities:
        assert query[entity.start : entity.start + entity.length] == entity.text


def test_tens_and_their_compounds_are_read_whole(model: IntentModel) -> None:
    """'twenty-two' was read as the 'two' in it: a booking for 22 quietly became one for 2."""

    def numbers(query: str) -> list[tuple[int, str]]:
        return [(e.value, e.text) for e in model.predict(query).entities if e.type == "number"]

    assert numbers("a table for Twenty-Two on friday") == [(22, "Twenty-Two")]
    assert numbers("twenty one of us") == [(21, "twenty one")]
    assert numbers("we are fifteen") == [(15, "fifteen")]
    assert numbers("thirty people") == [(30, "thirty")]
    assert numbers("four") == [(4, "four")]


def test_longest_synonym_wins(model: IntentModel) -> None:
    entities = model.predict("tomorrow night for 2").entities
    assert [(e.type, e.text) for e in entities] == [("day", "tomorrow night"), ("number", "2")]


def test_sentiment_follows_words_and_negation(model: IntentModel) -> None:
    assert model.predict("great, thanks, I love it").sentiment_label == "positive"
    assert model.predict("this is terrible and slow").sentiment_label == "negative"
    assert model.predict("not good").sentiment_label == "negative"
    assert model.predict("book a table").sentiment_label == "neutral"


def test_deterministic(model: IntentModel) -> None:
    again = load_model()
    for query in ("hi", "book for 3 on monday", "something else entirely"):
        assert model.predict(query) == again.predict(query)


def test_bad_training_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read nlu training file"):
        load_model(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"intents": {"Greeting": []}}))
    with pytest.raises(ValueError, match="at least one utterance"):
        load_model(broken)
    with pytest.raises(ValueError, match="implied"):
        IntentModel({"intents": {"None": ["x"]}})


async def test_luis_v3_response_shape(model: IntentModel) -> None:
    async with serving(build_app(model)) as url, aiohttp.ClientSession() as session:
        async with session.get(url + PREDICT, params={"query": "a table for 2 on sunday"}) as got:
            assert got.status == 200
            body = await got.json()
        async with session.post(url + PREDICT, json={"query": "a table for 2 on sunday"}) as got:
            assert await got.json() == body
    prediction = body["prediction"]
    assert body["query"] == "a table for 2 on sunday"
    assert prediction["topIntent"] == "BookTable"
    assert prediction["intents"]["BookTable"]["score"] > prediction["intents"]["None"]["score"]
    assert prediction["entities"]["number"] == [2]
    assert prediction["entities"]["day"] == [["sunday"]]
    instance = prediction["entities"]["$instance"]["day"][0]
    assert (instance["text"], instance["startIndex"], instance["length"]) == ("sunday", 17, 6)
    assert prediction["sentiment"]["label"] in ("positive", "neutral", "negative")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (PREDICT, {}, 400),
        (PREDICT, {"query": "   "}, 400),
        (PREDICT, {"query": "x" * 501}, 414),
        (PREDICT.replace("sample-restaurant", "other-app"), {"query": "hi"}, 404),
        (PREDICT.replace("production", "nightly"), {"query": "hi"}, 400),
    ],
)
async def test_bad_requests_get_clear_errors(
    model: IntentModel, path: str, params: dict[str, str], status: int
) -> None:
    async with serving(build_app(model)) as url, aiohttp.ClientSession() as session:
        async with session.get(url + path, params=params) as got:
            assert got.status == status
            assert (await got.json())["error"]["message"]


async def test_post_body_must_be_json(model: IntentModel) -> None:
    async with serving(build_app(model)) as url, aiohttp.ClientSession() as session:
        async with session.post(url + PREDICT, data=b"{not json") as got:
            assert got.status == 400
