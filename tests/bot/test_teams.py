"""A Teams bot (botbuilder's TeamsActivityHandler) on CloudAdapter over real HTTP: Teams-shaped
activities in, the connector's REST API (replies, update, delete) a local server."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import ChannelAccount, Mention
from botbuilder.schema.teams import TaskModuleRequest
from opentelemetry.trace import StatusCode

from bot_telemetry import contract
from tests.bot.harness import RunningBot, running_bot
from tests.bot.servers import Recorded, connector_app
from tests.support.servers import serving_in_thread
from tests.support.telemetry import CapturedTelemetry

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
USER = {
    "id": "29:1AbCdEfGhIjKlMnOpQrStUvWxYz",
    "name": "Grace Hopper",
    "aadObjectId": "6b7a1f3e-1111-2222-3333-444455556666",
}
BOT = {"id": "28:8c5b6c0e-0000-4000-8000-000000000001", "name": "HelpBot"}
PERSONAL_CHAT = {"id": "a:1Zx9PersonalChat", "conversationType": "personal", "tenantId": TENANT}


def teams_activity(bot: RunningBot, kind: str, **fields: Any) -> dict[str, Any]:
    """An activity as Teams posts it to the bot's endpoint."""
    return {
        "type": kind,
        "id": f"1700000{uuid.uuid4().int % 10**6:06d}",
        "channelId": "msteams",
        "serviceUrl": bot.connector_url,
        "locale": "en-US",
        "from": USER,
        "recipient": BOT,
        "conversation": PERSONAL_CHAT,
        "channelData": {"tenant": {"id": TENANT}},
        **fields,
    }


class InvokeBot(TeamsActivityHandler):  # type: ignore[misc]
    """Answers invokes as Teams samples do; ``custom/unavailable`` as a bot whose backend is
    down would (a 500 it chose), ``task/fetch`` not at all (botbuilder answers 501)."""

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "custom/unavailable":
            return InvokeResponse(status=500)
        return await super().on_invoke_activity(turn_context)

    async def on_teams_task_module_submit(
        self, turn_context: TurnContext, task_module_request: TaskModuleRequest
    ) -> None:
        await turn_context.send_activity(MessageFactory.text("Saved."))


async def test_an_invoke_the_bot_answers_with_a_server_error_is_a_failed_turn(
    telemetry: CapturedTelemetry,
) -> None:
    bot_logic = InvokeBot()
    statuses: dict[str, int] = {}
    async with running_bot(bot_logic.on_turn) as bot:
        async with aiohttp.ClientSession() as http:
            for name in ("task/submit", "custom/unavailable", "task/fetch"):
                body = teams_activity(bot, "invoke", name=name, value={"data": {"id": 7}})
                async with http.post(bot.url, json=body) as response:
                    statuses[name] = response.status
    # What Teams got: the bot's answers, and botbuilder's 501 for an invoke nobody handles.
    assert statuses == {"task/submit": 200, "custom/unavailable": 500, "task/fetch": 501}

    turns = [span for span in telemetry.spans() if span.name == contract.TURN_SPAN_NAME]
    answered, unavailable, unhandled = sorted(turns, key=lambda span: span.start_time or 0)
    assert answered.status.status_code is StatusCode.UNSET
    for failed, status in ((unavailable, "500"), (unhandled, "501")):
        assert failed.status.status_code is StatusCode.ERROR
        assert failed.status.description == f"invoke answered {status}"
        assert (failed.attributes or {})["error.type"] == status


class EditingBot(TeamsActivityHandler):  # type: ignore[misc]
    """Replies, then edits its reply and takes it back, as Teams samples' update/delete do."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        sent = await turn_context.send_activity(MessageFactory.text("Working on it"))
        done = MessageFactory.text("Done")
        done.id = sent.id
        await turn_context.update_activity(done)
        await turn_context.delete_activity(sent.id)


async def test_a_reply_its_update_and_its_delete_carry_the_id_the_connector_gave_the_reply(
    telemetry: CapturedTelemetry,
) -> None:
    bot_logic = EditingBot()
    async with running_bot(bot_logic.on_turn) as bot:
        message = teams_activity(bot, "message", text="<at>HelpBot</at> report")
        async with aiohttp.ClientSession() as http:
            async with http.post(bot.url, json=message) as response:
                assert response.status in (200, 201)
    # The connector named the reply; the bot updated and deleted it by that id.
    post, put, delete = bot.connector.requests
    assert (post["method"], put["method"], delete["method"]) == ("POST", "PUT", "DELETE")
    reply_id = put["reply_to"]
    assert delete["reply_to"] == reply_id != message["id"]

    def properties(name: str) -> dict[str, Any]:
        (event,) = telemetry.events(name)
        return dict(event.log_record.attributes or {})

    sent = properties(contract.BOT_MESSAGE_SEND)
    assert sent[contract.ACTIVITY_ID] == reply_id  # D13: botbuilder's send has no id
    assert sent[contract.REPLY_ACTIVITY_ID] == message["id"]
    assert properties(contract.BOT_MESSAGE_UPDATE)[contract.ACTIVITY_ID] == reply_id
    assert properties(contract.BOT_MESSAGE_DELETE)[contract.ACTIVITY_ID] == reply_id
    assert properties(contract.BOT_MESSAGE_RECEIVED)[contract.ACTIVITY_ID] == message["id"]


TEAM = {"id": "19:teamAbC2d3@thread.tacv2", "name": "Contoso Finance", "aadGroupId": "0a1b2c3d"}
CHANNEL = "19:3fJk2lmnOPqrSTuv@thread.tacv2"
CHANNEL_THREAD = {
    "id": f"{CHANNEL};messageid=1700000000001",
    "conversationType": "channel",
    "isGroup": True,
    "tenantId": TENANT,
    "name": "Payroll for Grace Hopper",
}
MEMBER = {
    "id": USER["id"],
    "name": "Grace Hopper",
    "givenName": "Grace",
    "email": "grace.hopper@contoso.com",
    "userPrincipalName": "grace.hopper@contoso.com",
    "aadObjectId": USER["aadObjectId"],
    "tenantId": TENANT,
}
#: What none of the bot's telemetry may hold under the default policy (not "Ada": keyed
#: hashes are hex, and may spell it).
PERSONAL = (
    "Grace",
    "Hopper",
    "grace.hopper",
    "Lovelace",
    "salary",
    USER["aadObjectId"],
    TENANT,
)


class TeamsInfoBot(TeamsActivityHandler):  # type: ignore[misc]
    """Looks the sender up (TeamsInfo) and answers with an @mention, as Teams samples do."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        member = await TeamsInfo.get_member(turn_context, turn_context.activity.from_property.id)
        TurnContext.remove_recipient_mention(turn_context.activity)
        reply = MessageFactory.text(f"<at>{member.name}</at>, about {turn_context.activity.text}")
        reply.entities = [
            Mention(
                mentioned=ChannelAccount(id=member.id, name=member.name),
                text=f"<at>{member.name}</at>",
                type="mention",
            )
        ]
        await turn_context.send_activity(reply)


async def test_a_channel_thread_message_leaves_no_name_email_or_object_id_and_keeps_teams_ids(
    telemetry: CapturedTelemetry,
) -> None:
    bot_logic = TeamsInfoBot()
    async with running_bot(bot_logic.on_turn, members={USER["id"]: MEMBER}) as bot:
        message = teams_activity(
            bot,
            "message",
            text="<at>HelpBot</at> Grace Hopper's salary, mail grace.hopper@contoso.com",
            conversation=CHANNEL_THREAD,
            entities=[
                {"type": "mention", "mentioned": BOT, "text": "<at>HelpBot</at>"},
                {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"},
            ],
            channelData={
                "tenant": {"id": TENANT},
                "team": TEAM,
                "channel": {"id": CHANNEL, "name": "Payroll for Grace"},
                "teamsChannelId": CHANNEL,
                "teamsTeamId": TEAM["id"],
                # keys we have never seen, as Teams adds them
                "onBehalfOf": [{"itemId": 0, "mri": USER["id"], "displayName": "Ada Lovelace"}],
                "userPrincipalName": "grace.hopper@contoso.com",
                "source": {"name": "message"},
            },
        )
        async with aiohttp.ClientSession() as http:
            async with http.post(bot.url, json=message) as response:
                assert response.status in (200, 201)
    assert [r["method"] for r in bot.connector.requests] == ["GET", "POST"]

    spans = telemetry.spans()
    logs = telemetry.logs()
    recorded = [dict(span.attributes or {}) for span in spans]
    recorded += [dict(event.attributes or {}) for span in spans for event in span.events]
    recorded += [dict(record.log_record.attributes or {}) for record in logs]
    recorded += [{"body": str(record.log_record.body)} for record in logs]
    for attributes in recorded:
        for key, value in attributes.items():
            for word in PERSONAL:
                assert word.lower() not in f"{key}={value}".lower(), (key, value)

    (received,) = telemetry.events(contract.BOT_MESSAGE_RECEIVED)
    properties = dict(received.log_record.attributes or {})
    # The tenant and the user's directory object as keyed hashes: they still group.
    privacy = telemetry.handle.privacy
    assert properties[contract.TEAMS_TENANT_ID] == privacy.pseudonymize(TENANT)
    assert properties[contract.TEAMS_USER_AAD_OBJECT_ID] == privacy.pseudonymize(
        USER["aadObjectId"]
    )
    # The team's own ids are kept (its name is judged personal: free text): not taken for
    # an email address.
    assert json.loads(str(properties[contract.TEAMS_TEAM_INFO])) == {
        "id": TEAM["id"],
        "name": None,
        "aadGroupId": TEAM["aadGroupId"],
    }
    # One conversation id, as Teams sent it, on the turn, its events and the connector calls.
    (turn,) = [span for span in spans if span.name == contract.TURN_SPAN_NAME]
    assert (turn.attributes or {})[contract.ATTR_CONVERSATION_ID] == CHANNEL_THREAD["id"]
    for event in telemetry.events():
        attributes = event.log_record.attributes or {}
        assert attributes[contract.CONVERSATION_ID] == CHANNEL_THREAD["id"]
    calls = [
        span
        for span in spans
        if str((span.attributes or {}).get("url.full", "")).startswith(bot.connector_url)
    ]
    assert len(calls) == 2
    for call in calls:
        url = str((call.attributes or {})["url.full"])
        assert f"/v3/conversations/{CHANNEL_THREAD['id']}/" in url


async def test_an_invoke_turn_and_its_event_name_what_was_invoked(
    telemetry: CapturedTelemetry,
) -> None:
    bot_logic = InvokeBot()
    async with running_bot(bot_logic.on_turn) as bot:
        async with aiohttp.ClientSession() as http:
            invoke = teams_activity(bot, "invoke", name="task/submit", value={"data": {}})
            message = teams_activity(bot, "message", text="hi")
            for body in (invoke, message):
                async with http.post(bot.url, json=body) as response:
                    assert response.status in (200, 201)

    turns = [span for span in telemetry.spans() if span.name == contract.TURN_SPAN_NAME]
    invoked, said = sorted(turns, key=lambda span: span.start_time or 0)
    assert (invoked.attributes or {})[contract.ATTR_ACTIVITY_NAME] == "task/submit"
    assert contract.ATTR_ACTIVITY_NAME not in (said.attributes or {})
    received = {
        (event.log_record.attributes or {})[contract.ACTIVITY_TYPE]: event.log_record.attributes
        for event in telemetry.events(contract.BOT_MESSAGE_RECEIVED)
    }
    assert (received["invoke"] or {})[contract.ACTIVITY_NAME] == "task/submit"
    assert contract.ACTIVITY_NAME not in (received["message"] or {})


class TeamDetailsBot(TeamsActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        details = await TeamsInfo.get_team_details(turn_context)
        await turn_context.send_activity(f"This is {details.name}")


async def test_a_teams_info_call_through_botbuilders_synchronous_teams_client_is_in_the_turn(
    telemetry: CapturedTelemetry,
) -> None:
    bot_logic = TeamDetailsBot()
    # The client blocks the event loop while it waits: the connector answers from a thread,
    # as the real one answers from elsewhere.
    connector = Recorded()
    with serving_in_thread(connector_app(connector)) as connector_url:
        async with running_bot(bot_logic.on_turn) as bot:
            message = teams_activity(
                bot,
                "message",
                text="<at>HelpBot</at> which team?",
                conversation=CHANNEL_THREAD,
                channelData={"tenant": {"id": TENANT}, "team": TEAM},
                serviceUrl=connector_url,
            )
            async with aiohttp.ClientSession() as http:
                async with http.post(bot.url, json=message) as response:
                    assert response.status in (200, 201)
    team_request, reply = connector.requests
    assert team_request["conversation"] == TEAM["id"]
    assert reply["activity"]["text"] == "This is A team"

    spans = telemetry.spans()
    (turn,) = [span for span in spans if span.name == contract.TURN_SPAN_NAME]
    (call,) = [
        span
        for span in spans
        if str((span.attributes or {}).get("url.full", "")).startswith(f"{connector_url}/v3/teams/")
    ]
    assert call.parent is not None and call.parent.span_id == turn.context.span_id
    assert (call.attributes or {})["peer.service"] == "msteams"
    assert (call.attributes or {})["http.response.status_code"] == 200
    # The connector got the call's own context.
    trace_id, span_id = team_request["headers"]["traceparent"].split("-")[1:3]
    assert (int(trace_id, 16), int(span_id, 16)) == (turn.context.trace_id, call.context.span_id)


class ReactionBot(TeamsActivityHandler):  # type: ignore[misc]
    async def on_reactions_added(self, message_reactions: Any, turn_context: TurnContext) -> None:
        await turn_context.send_activity("Thanks for the feedback")


async def test_a_reaction_says_which_reactions_to_which_reply(
    telemetry: CapturedTelemetry,
) -> None:
    bot_logic = ReactionBot()
    async with running_bot(bot_logic.on_turn) as bot:
        reaction = teams_activity(
            bot,
            "messageReaction",
            conversation=CHANNEL_THREAD,
            replyToId="1700000000777",
            reactionsAdded=[{"type": "like"}, {"type": "heart"}],
        )
        removed = teams_activity(
            bot,
            "messageReaction",
            conversation=CHANNEL_THREAD,
            replyToId="1700000000777",
            reactionsRemoved=[{"type": "heart"}],
        )
        async with aiohttp.ClientSession() as http:
            for body in (reaction, removed):
                async with http.post(bot.url, json=body) as response:
                    assert response.status in (200, 201)

    added, taken_back = sorted(
        (
            dict(event.log_record.attributes or {})
            for event in telemetry.events(contract.BOT_MESSAGE_RECEIVED)
        ),
        key=lambda properties: properties[contract.ACTIVITY_ID] != reaction["id"],
    )
    assert added[contract.REACTIONS_ADDED] == "like,heart"  # D14
    assert contract.REACTIONS_REMOVED not in added
    assert taken_back[contract.REACTIONS_REMOVED] == "heart"
    assert contract.REACTIONS_ADDED not in taken_back
    # The reply they are about: a funnel or a query can join them to it.
    assert added[contract.REPLY_ACTIVITY_ID] == taken_back[contract.REPLY_ACTIVITY_ID]
    assert added[contract.REPLY_ACTIVITY_ID] == "1700000000777"
