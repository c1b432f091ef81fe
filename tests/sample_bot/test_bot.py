"""The sample bot's behaviour and telemetry, over real HTTP through the channel simulator,
on each runtime (botbuilder and the Microsoft 365 Agents SDK)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from sample_bot import booking_steps
from sample_bot import conversation as bot
from sample_bot.settings import CONNECTION_STRING_ENV, CONTAINER_ENV, RUNTIMES
from tests.sample_bot.stack import sample_stack
from tests.support.azurite import Azurite
from tests.support.telemetry import CapturedTelemetry


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _texts(replies: list[dict[str, Any]]) -> list[str]:
    return [reply.get("text", "") for reply in replies]


def _props(telemetry: CapturedTelemetry, name: str) -> list[dict[str, Any]]:
    return [dict(record.log_record.attributes or {}) for record in telemetry.events(name)]


async def test_welcome_and_small_talk(runtime: str, telemetry: CapturedTelemetry) -> None:
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Ana")
        replies = await stack.channel.say(conversation, "hello there")
        conversation_replies = await stack.channel.replies(conversation)
    assert _texts(replies) == [bot.REPLIES["Greeting"]]
    assert _texts(conversation_replies)[0] == bot.WELCOME
    [greeting] = _props(telemetry, "LuisIntent.Greeting")
    assert greeting["intent"] == "Greeting"
    assert greeting["conversationId"] == conversation
    assert len(telemetry.events("BotMessageReceived")) == 2  # conversationUpdate + message
    assert len(telemetry.events("BotMessageSend")) == 2
    # The runtime asked for is the one that ran the turns.
    scopes = {s.instrumentation_scope.name for s in telemetry.spans() if s.name == "bot.turn"}
    assert scopes == {"bot_telemetry.agents" if runtime == "agents" else "bot_telemetry.bot"}


async def test_booking_in_one_go_completes_the_waterfall(
    runtime: str, telemetry: CapturedTelemetry
) -> None:
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Ana")
        consent = await stack.channel.say(conversation, "book a table for 4 on friday")
        asked = await stack.channel.say(conversation, "yes")
        confirm = await stack.channel.say(conversation, "Ana")
        done = await stack.channel.say(conversation, "yes")
        # a second booking does not ask for consent again
        again = await stack.channel.say(conversation, "book a table for 2 on monday")
    # the confirm prompt adds its choices to the question
    assert _texts(consent) == [f"{booking_steps.CONSENT_QUESTION} (1) Yes or (2) No"]
    # Day and party size came with the first message: only the name is asked.
    assert _texts(asked) == ["What name is the booking under?"]
    assert "a table for 4 on friday, under the name Ana" in _texts(confirm)[0]
    assert _texts(done) == ["Booked: a table for 4 on friday, under the name Ana. See you then!"]
    assert _texts(again) == ["What name is the booking under?"]
    assert len(telemetry.events("WaterfallStart")) == 2
    assert len(telemetry.events("WaterfallComplete")) == 1
    assert len(telemetry.events("WaterfallStep")) == 6 + 4
    assert not telemetry.events("WaterfallCancel")
    # the consent decision, and one event per answered prompt
    (granted,) = _props(telemetry, "ConsentChanged")
    assert granted["consent"] == "granted"
    answered = _props(telemetry, "PromptAnswered")
    assert [(a["promptId"], a["questionScore"], a["eof"]) for a in answered] == [
        ("booking.consent", 1, False),
        ("booking.name", 1, False),
        ("booking.confirm", 1, True),
    ]
    assert {a["xPath"] for a in answered} == {
        f"booking/booking.steps/{a['promptId']}" for a in answered
    }


async def test_cancel_and_help_interrupt_a_booking(
    runtime: str, telemetry: CapturedTelemetry
) -> None:
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Finn")
        assert _texts(await stack.channel.say(conversation, "book a table")) == [
            f"{booking_steps.CONSENT_QUESTION} (1) Yes or (2) No"
        ]
        assert _texts(await stack.channel.say(conversation, "no")) == [
            "Which day would you like to come?"
        ]
        helped = await stack.channel.say(conversation, "help")
        assert _texts(await stack.channel.say(conversation, "sunday")) == ["How many people?"]
        cancelled = await stack.channel.say(conversation, "cancel")
        after = await stack.channel.say(conversation, "cancel")
    assert _texts(helped) == [bot.HELP, "Which day would you like to come?"]
    assert _texts(cancelled) == ["OK, I've cancelled the booking."]
    assert _texts(after) == [bot.REPLIES["Cancel"]]
    assert len(telemetry.events("WaterfallCancel")) == 1
    assert not telemetry.events("WaterfallComplete")


async def test_questions_answered_and_missed(runtime: str, telemetry: CapturedTelemetry) -> None:
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Ben")
        answered = await stack.channel.say(conversation, "do you have parking?")
        missed = await stack.channel.say(conversation, "what is the meaning of life")
    assert _texts(answered)[0].startswith("There is a public car park")
    assert _texts(missed) == [bot.NO_ANSWER]
    found, not_found = _props(telemetry, "QnAMessage")
    assert (found["articleFound"], found["questionId"]) == (True, "3")
    assert found["knowledgeBaseId"] == "restaurant-faq"
    assert not_found["articleFound"] is False
    # The user's words are personal: the default policy keeps them out.
    assert "question" not in found and "originalQuestion" not in found


async def test_a_thumbs_up_from_web_chat_is_a_turn_not_a_server_error(
    runtime: str, telemetry: CapturedTelemetry
) -> None:
    """Web Chat posts the vote as an event whose entity is the LikeAction the answer offered,
    with an @type and no type: the Agents SDK's Activity refused it, a 500 on every thumb."""
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Ben")
        await stack.channel.say(conversation, "do you have parking?")
        vote = {"@type": "LikeAction", "@id": "urn:vote:like:out-1", "name": "Like"}
        activity = {
            "type": "event",
            "name": "webchat:activity-status/feedback",
            "id": "in-vote",
            "channelId": "sample-channel",
            "serviceUrl": stack.urls["channel"],
            "conversation": {"id": conversation},
            "from": {"id": "u1", "name": "Ben"},
            "recipient": {"id": "bot", "name": "Sample Bot"},
            "entities": [vote],
        }
        async with aiohttp.ClientSession() as session:
            url = f"{stack.urls['bot']}/api/messages"
            async with session.post(url, json=activity) as response:
                assert response.status < 300, await response.text()
        after = await stack.channel.say(conversation, "do you have parking?")
    assert _texts(after)[0].startswith("There is a public car park")
    received = _props(telemetry, "BotMessageReceived")
    [vote_received] = [props for props in received if props["activityId"] == "in-vote"]
    assert vote_received["activityType"] == "event"


async def test_failing_dependencies_degrade_the_answer_not_the_turn(
    runtime: str,
    telemetry: CapturedTelemetry,
) -> None:
    async with sample_stack(nlu_fail_every=1, qna_fail_every=1, runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Dan")
        replies = await stack.channel.say(conversation, "when are you open?")
    assert _texts(replies) == [bot.QNA_DOWN]
    assert stack.nlu.stats()["failures"] == 1
    assert stack.qna.stats()["failures"] == 1
    failed = {
        s.name
        for s in telemetry.spans()
        if s.kind == SpanKind.CLIENT and s.status.status_code == StatusCode.ERROR
    }
    assert {"Recognizer Query", "QnA Query"} <= failed
    turns = [s for s in telemetry.spans() if s.name == "bot.turn"]
    assert all(s.status.status_code != StatusCode.ERROR for s in turns)


async def test_the_hops_are_one_trace(runtime: str, telemetry: CapturedTelemetry) -> None:
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Ben")
        await stack.channel.say(conversation, "can I pay by card?")
    spans = telemetry.spans()
    [qna_call] = [s for s in spans if s.name == "QnA Query"]
    trace = [s for s in spans if s.context.trace_id == qna_call.context.trace_id]
    [bot_request] = [s for s in trace if s.name == "POST /api/messages"]
    by_id = {s.context.span_id: s for s in trace}
    channel_call = by_id[bot_request.parent.span_id]
    assert channel_call.kind == SpanKind.CLIENT
    assert channel_call.attributes["peer.service"] == "bot"
    for route, caller in (
        ("GET /luis/prediction/v3.0/apps/{app_id}/slots/{slot}/predict", "Recognizer Query"),
        ("POST /qnamaker/knowledgebases/{kb_id}/generateAnswer", "QnA Query"),
        ("POST /v3/conversations/{conversation_id}/activities/{activity_id}", "POST"),
    ):
        [served] = [s for s in trace if s.name == route]
        parent = by_id[served.parent.span_id]
        assert (parent.name, parent.kind) == (caller, SpanKind.CLIENT)


async def test_state_in_azure_blob_storage(
    runtime: str, telemetry: CapturedTelemetry, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONNECTION_STRING_ENV, azurite.connection_string)
    monkeypatch.setenv(CONTAINER_ENV, "sample-bot-test")
    async with sample_stack(runtime=runtime) as stack:
        conversation = await stack.channel.start("u1", "Cleo")
        await stack.channel.say(conversation, "book a table for 2")
        await stack.channel.say(conversation, "no")
        # The dialog's place survives between turns only through the store.
        assert _texts(await stack.channel.say(conversation, "monday")) == [
            "What name is the booking under?"
        ]
    storage = [s for s in telemetry.spans() if s.name.startswith("Storage ")]
    assert {s.name for s in storage} >= {"Storage Read", "Storage Write"}
    for span in storage:
        assert span.attributes["db.system.name"] == "azure.blob"
        assert span.attributes["db.namespace"] == "sample-bot-test"
        assert span.attributes["peer.service"] == "devstoreaccount1"
