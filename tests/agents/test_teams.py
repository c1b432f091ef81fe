"""Teams-shaped traffic on the Microsoft 365 Agents SDK (AgentApplication on its CloudAdapter,
real HTTP): an invoke answered with a 5xx is a failed turn, and a reply, its update and its
delete share the id the connector gave the reply, as on botbuilder (tests/bot/test_teams.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from opentelemetry.trace import StatusCode

from bot_telemetry import contract
from tests.agents.harness import running_agent
from tests.support.telemetry import CapturedTelemetry


async def answer_invoke(context: TurnContext, state: TurnState) -> None:
    status = 500 if context.activity.name == "custom/unavailable" else 200
    await context.send_activity(
        Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=status))
    )


async def edit_reply(context: TurnContext, state: TurnState) -> None:
    sent = await context.send_activity("Working on it")
    done = Activity(type="message", text="Done", id=sent.id)
    await context.update_activity(done)
    await context.delete_activity(sent.id)


def with_invokes(app: AgentApplication[TurnState]) -> None:
    app.activity("invoke")(answer_invoke)


def teams(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**body, "channelId": "msteams", **fields}


async def test_an_invoke_answered_with_a_server_error_is_a_failed_turn(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(edit_reply, configure_app=with_invokes) as agent:
        async with aiohttp.ClientSession() as http:
            statuses = []
            for name in ("task/submit", "custom/unavailable"):
                body = teams(agent.activity("", "a:1Zx9"), type="invoke", name=name, value={})
                statuses.append(await agent.send(http, body))
    assert statuses == [200, 500]
    turns = [span for span in telemetry.spans() if span.name == contract.TURN_SPAN_NAME]
    answered, unavailable = sorted(turns, key=lambda span: span.start_time or 0)
    assert answered.status.status_code is StatusCode.UNSET
    assert unavailable.status.status_code is StatusCode.ERROR
    assert unavailable.status.description == "invoke answered 500"
    assert (answered.attributes or {})[contract.ATTR_ACTIVITY_NAME] == "task/submit"


async def test_a_reply_its_update_and_its_delete_share_the_connectors_id(
    telemetry: CapturedTelemetry,
) -> None:
    async with running_agent(edit_reply) as agent:
        async with aiohttp.ClientSession() as http:
            message = teams(agent.activity("report", "a:1Zx9"))
            assert await agent.send(http, message) in (200, 201, 202)
    put = [r for r in agent.connector.requests if r["method"] == "PUT"]
    assert len(put) == 1
    reply_id = put[0]["reply_to"]

    def activity_id(name: str) -> Any:
        (event,) = telemetry.events(name)
        return (event.log_record.attributes or {})[contract.ACTIVITY_ID]

    assert activity_id(contract.BOT_MESSAGE_SEND) == reply_id
    assert activity_id(contract.BOT_MESSAGE_UPDATE) == reply_id
    assert activity_id(contract.BOT_MESSAGE_DELETE) == reply_id
    assert activity_id(contract.BOT_MESSAGE_RECEIVED) == message["id"] != reply_id
