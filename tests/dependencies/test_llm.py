"""Model calls over httpx with ``llm_event_hooks()`` beyond a wrapper's chat completion: a call
the bot makes itself, a streamed answer, embeddings and the Responses API. The model is a local
server speaking OpenAI's protocol (tests/dependencies/language_services.py), SSE included."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
from botbuilder.core import TurnContext
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import TelemetryMiddleware, TelemetryQnA, llm_event_hooks
from tests.dependencies.language_services import (
    ANSWER_OPENING,
    ANSWER_PROMPT,
    AZURE_DEPLOYMENTS,
    LLM_KEY,
    Received,
    language_app,
)
from tests.dependencies.turns import bot_adapter, dependency_traces
from tests.support.ports import free_port
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

UTTERANCE = "book a flight to Paris for ada@example.com"
#: What the model writes, beside the user's words: in no signal.
WRITTEN = "We fly there daily"
DEADLINE = 10.0

GEN_AI_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 6,
}


@pytest.fixture
async def model() -> AsyncIterator[tuple[str, Received]]:
    received = Received()
    async with serving(language_app(received)) as base:
        yield base, received
        received.release.set()


@pytest.fixture
async def client(model: tuple[str, Received]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=model[0],
        timeout=DEADLINE,
        headers={"Authorization": f"Bearer {LLM_KEY}"},
        event_hooks=llm_event_hooks(),
    ) as opened:
        yield opened


def chat(text: str = UTTERANCE, **more: Any) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": f"{ANSWER_PROMPT} about our flights."},
        {"role": "user", "content": text},
    ]
    return {"model": "gpt-4o-mini", "messages": messages, **more}


async def run_turn(logic: Callable[[TurnContext], Awaitable[Any]], text: str = UTTERANCE) -> Any:
    adapter = bot_adapter(logic)
    adapter.use(TelemetryMiddleware())
    await adapter.receive_activity(text)
    return adapter


def model_span(telemetry: CapturedTelemetry) -> ReadableSpan:
    [span] = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]
    return span


def attributes_of(span: ReadableSpan, expected: dict[str, Any]) -> dict[str, Any]:
    attributes = dict(span.attributes or {})
    return {key: attributes.get(key) for key in expected}


def assert_private(telemetry: CapturedTelemetry) -> None:
    """Neither the prompt, nor the user's words, nor what the model wrote is in any signal."""
    values: list[str] = []
    for span in telemetry.spans():
        values += [span.name, str(span.status.description)]
        values += [str(v) for v in (span.attributes or {}).values()]
        for event in span.events:
            values += [str(v) for v in (event.attributes or {}).values()]
    for record in telemetry.logs():
        values.append(str(record.log_record.body))
        values += [str(v) for v in (record.log_record.attributes or {}).values()]
    words = ("Paris", "ada@", ANSWER_OPENING, WRITTEN, ANSWER_PROMPT)
    assert [v for v in values if any(word in v for word in words)] == []


async def test_a_model_call_outside_the_wrappers_is_a_dependency_span_of_the_turn(
    telemetry: CapturedTelemetry, model: tuple[str, Received], client: httpx.AsyncClient
) -> None:
    base, received = model

    async def logic(turn_context: TurnContext) -> None:
        response = await client.post("/v1/chat/completions", json=chat(turn_context.activity.text))
        await turn_context.send_activity(response.json()["choices"][0]["message"]["content"])

    adapter = await run_turn(logic)
    assert WRITTEN in adapter.activity_buffer[-1].text, "the bot still reads the answer"
    span = model_span(telemetry)
    turn = telemetry.span_named("bot.turn")
    assert span.name == "chat gpt-4o-mini"
    assert span.parent is not None and span.parent.span_id == turn.context.span_id
    assert attributes_of(span, GEN_AI_CHAT) == GEN_AI_CHAT
    attributes = dict(span.attributes or {})
    assert attributes["peer.service"] == "127.0.0.1", "the host, as an unnamed aiohttp call"
    assert attributes["server.port"] == int(base.rsplit(":", 1)[1])
    assert attributes["bot.dependency.component"] == "LLM"
    assert attributes["bot.dependency.result_code"] == "200"
    assert span.status.status_code is StatusCode.UNSET
    [traceparent] = received.traceparents("/v1/chat/completions")
    assert traceparent is not None
    assert traceparent[:52] == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}"
    [server] = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert server.parent is not None and server.parent.span_id == span.context.span_id
    [activity] = dependency_traces(adapter)
    assert activity.label == "chat gpt-4o-mini"
    assert activity.value["success"] is True
    assert activity.value["spanId"] == f"{span.context.span_id:016x}"
    assert_private(telemetry)


async def test_a_named_model_outside_the_wrappers_is_that_node(
    telemetry: CapturedTelemetry, model: tuple[str, Received]
) -> None:
    async with httpx.AsyncClient(
        base_url=model[0],
        headers={"Authorization": f"Bearer {LLM_KEY}"},
        event_hooks=llm_event_hooks(name="LLM"),
    ) as named:

        async def logic(turn_context: TurnContext) -> None:
            await named.post("/v1/chat/completions", json=chat())

        await run_turn(logic)
    assert (model_span(telemetry).attributes or {})["peer.service"] == "LLM"


@pytest.mark.parametrize(
    ("text", "read_timeout", "code", "error_type"),
    [
        ("throttle: " + UTTERANCE, DEADLINE, "429", "429"),
        ("slow: " + UTTERANCE, 0.2, "ReadTimeout", "httpx.ReadTimeout"),
    ],
)
async def test_a_failed_model_call_outside_the_wrappers_is_a_failed_span(
    telemetry: CapturedTelemetry,
    model: tuple[str, Received],
    text: str,
    read_timeout: float,
    code: str,
    error_type: str,
) -> None:
    async with httpx.AsyncClient(
        base_url=model[0],
        timeout=read_timeout,
        headers={"Authorization": f"Bearer {LLM_KEY}"},
        event_hooks=llm_event_hooks(),
    ) as client:

        async def logic(turn_context: TurnContext) -> None:
            try:
                response = await client.post("/v1/chat/completions", json=chat(text))
                await turn_context.send_activity(f"status {response.status_code}")
            except httpx.HTTPError as error:
                await turn_context.send_activity(f"sorry ({type(error).__name__})")

        adapter = await run_turn(logic, text)
    span = model_span(telemetry)  # ended: it was exported
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["bot.dependency.result_code"] == code
    assert attributes["error.type"] == error_type
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert "gen_ai.response.model" not in attributes
    [activity] = dependency_traces(adapter)
    assert activity.value["success"] is False
    assert telemetry.span_named("bot.turn").status.status_code is not StatusCode.ERROR
    assert_private(telemetry)


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_model_nobody_answers_at_is_a_failed_span(
    telemetry: CapturedTelemetry, retries: int
) -> None:
    """With retries, the span ends by the last connect's failure."""
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(retries=retries),
        base_url=f"http://127.0.0.1:{free_port()}",
        event_hooks=llm_event_hooks(),
    ) as client:

        async def logic(turn_context: TurnContext) -> None:
            with pytest.raises(httpx.ConnectError):
                await client.post("/v1/chat/completions", json=chat())

        await run_turn(logic)
    span = model_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["bot.dependency.result_code"] == "ConnectError"


async def test_a_connect_the_transport_retries_ends_by_the_retry(
    telemetry: CapturedTelemetry,
) -> None:
    """``AsyncHTTPTransport(retries=1)``: the first connect is refused, the model's server
    starts (when httpcore's trace says the connect failed), the retry is answered: the span
    ends by that answer, not by the first ConnectError."""
    port = free_port()
    received = Received()
    async with contextlib.AsyncExitStack() as servers:

        async def start_on_refusal(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.failed":
                await servers.enter_async_context(serving(language_app(received), port))

        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(retries=1),
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {LLM_KEY}"},
            event_hooks=llm_event_hooks(),
        ) as client:

            async def logic(turn_context: TurnContext) -> None:
                request = client.build_request(
                    "POST",
                    "/v1/chat/completions",
                    json=chat(),
                    extensions={"trace": start_on_refusal},
                )
                response = await client.send(request)
                assert response.status_code == 200

            await run_turn(logic)
    span = model_span(telemetry)
    attributes = dict(span.attributes or {})
    assert len(received.requests) == 1, "answered on the retry"
    assert span.status.status_code is StatusCode.UNSET
    assert attributes["bot.dependency.result_code"] == "200"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"


async def read_stream(
    client: httpx.AsyncClient, received: Received, body: dict[str, Any], path: str
) -> bytes:
    """What the bot gets of a streamed answer; with ``pause`` in the text it first waits for
    the events the server sent before it holds the rest back (nothing buffers them)."""
    got = bytearray()
    async with client.stream("POST", path, json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.aiter_bytes()
        if "pause" in json.dumps(body):
            async with asyncio.timeout(DEADLINE):
                while got.count(b"\n\n") < 2:
                    got += await anext(chunks)
            assert got == received.streamed, "the first events, while the rest is held back"
            received.release.set()
        async for chunk in chunks:
            got += chunk
    return bytes(got)


@pytest.mark.parametrize("wrapped", [False, True], ids=["outside", "in TelemetryQnA"])
async def test_a_streamed_chat_answer_is_read_as_it_passes(
    telemetry: CapturedTelemetry,
    model: tuple[str, Received],
    client: httpx.AsyncClient,
    wrapped: bool,
) -> None:
    _, received = model
    body = chat("pause: " + UTTERANCE, stream=True, stream_options={"include_usage": True})
    got: list[bytes] = []

    async def answer(turn_context: TurnContext) -> str:
        got.append(await read_stream(client, received, body, "/v1/chat/completions"))
        return "streamed"

    async def logic(turn_context: TurnContext) -> None:
        if wrapped:
            await TelemetryQnA(answer, name="LLM").get_answers(turn_context)
        else:
            await answer(turn_context)

    await run_turn(logic, "pause: " + UTTERANCE)
    assert got == [bytes(received.streamed)], "every chunk, unchanged"
    assert b'"daily. ' in got[0], "what the model wrote, a word a chunk"
    span = model_span(telemetry)
    assert span.name == "chat gpt-4o-mini"
    assert attributes_of(span, GEN_AI_CHAT) == GEN_AI_CHAT
    assert (span.attributes or {})["bot.dependency.result_code"] == "200"
    assert_private(telemetry)


async def test_a_streamed_answer_without_usage_has_its_model_and_finish_reason(
    telemetry: CapturedTelemetry, model: tuple[str, Received], client: httpx.AsyncClient
) -> None:
    _, received = model

    async def logic(turn_context: TurnContext) -> None:
        await read_stream(client, received, chat(stream=True), "/v1/chat/completions")

    await run_turn(logic)
    attributes = dict(model_span(telemetry).attributes or {})
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "gen_ai.usage.output_tokens" not in attributes


async def test_a_compressed_stream_is_read_too(
    telemetry: CapturedTelemetry, model: tuple[str, Received], client: httpx.AsyncClient
) -> None:
    _, received = model
    body = chat("gzip: " + UTTERANCE, stream=True, stream_options={"include_usage": True})
    got: list[bytes] = []

    async def logic(turn_context: TurnContext) -> None:
        got.append(await read_stream(client, received, body, "/v1/chat/completions"))

    await run_turn(logic)
    assert got == [bytes(received.streamed)]
    assert attributes_of(model_span(telemetry), GEN_AI_CHAT) == GEN_AI_CHAT


async def test_a_stream_the_bot_stops_reading_still_ends_its_span(
    telemetry: CapturedTelemetry, model: tuple[str, Received], client: httpx.AsyncClient
) -> None:
    async def logic(turn_context: TurnContext) -> None:
        body = chat("pause: " + UTTERANCE, stream=True)
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for _ in response.aiter_lines():
                break  # the user went away: the rest is never read

    await run_turn(logic, "pause: " + UTTERANCE)
    span = model_span(telemetry)
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert "gen_ai.response.finish_reasons" not in attributes


async def ended_spans(telemetry: CapturedTelemetry) -> Sequence[ReadableSpan]:
    """The model's span once it ended: ``gc.collect()`` frees what the bot dropped (asyncio
    closes a dropped generator in a task of its own, so the loop turns between tries)."""
    async with asyncio.timeout(DEADLINE):
        while not (ended := [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]):
            gc.collect()
            await asyncio.sleep(0)
    return ended


@pytest.mark.parametrize("reads", [True, False], ids=["first chunk", "status only"])
async def test_a_stream_the_bot_drops_unread_and_unclosed_ends_its_span(
    telemetry: CapturedTelemetry,
    model: tuple[str, Received],
    client: httpx.AsyncClient,
    reads: bool,
) -> None:
    """Nothing reads it to the end nor closes it: the span ends when the response is
    garbage-collected, failed, saying the answer was not read to the end."""

    async def logic(turn_context: TurnContext) -> None:
        body = chat("pause: " + UTTERANCE, stream=True)
        request = client.build_request("POST", "/v1/chat/completions", json=body)
        response = await client.send(request, stream=True)
        assert response.status_code == 200
        if reads:
            async for _ in response.aiter_lines():
                break  # the first useful chunk; the response is dropped, never closed

    await run_turn(logic, "pause: " + UTTERANCE)
    [span] = await ended_spans(telemetry)
    attributes = dict(span.attributes or {})
    if reads:
        assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18", "what was read"
    assert attributes["bot.dependency.result_code"] == "NotReadToEnd"
    assert attributes["error.type"] == "NotReadToEnd"
    assert span.status.status_code is StatusCode.ERROR
    assert "not read to the end" in str(span.status.description)
    assert_private(telemetry)


async def test_a_request_that_failed_unseen_ends_its_span_when_dropped(
    telemetry: CapturedTelemetry, model: tuple[str, Received]
) -> None:
    """A pool timeout raises before httpcore's trace extension is called: no hook sees the
    failure, so the span ends, failed, once the request is garbage-collected."""
    base, received = model
    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(DEADLINE, pool=0.05)
    headers = {"Authorization": f"Bearer {LLM_KEY}"}
    hooks = llm_event_hooks()
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=timeout, headers=headers, event_hooks=hooks
    ) as client:
        body = chat("pause: " + UTTERANCE, stream=True)
        async with client.stream("POST", "/v1/chat/completions", json=body):
            # The only connection is busy with the held stream.
            with pytest.raises(httpx.PoolTimeout):
                await client.post("/v1/chat/completions", json=chat())
            [span] = await ended_spans(telemetry)
            received.release.set()
    attributes = dict(span.attributes or {})
    assert attributes["bot.dependency.result_code"] == "NoResponse"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert span.status.status_code is StatusCode.ERROR
    assert "no response was seen" in str(span.status.description)


async def test_an_embedding_is_an_embeddings_span(
    telemetry: CapturedTelemetry, model: tuple[str, Received], client: httpx.AsyncClient
) -> None:
    async def logic(turn_context: TurnContext) -> None:
        body = {"model": "text-embedding-3-small", "input": turn_context.activity.text}
        response = await client.post("/v1/embeddings", json=body)
        assert len(response.json()["data"][0]["embedding"]) == 3

    await run_turn(logic)
    span = model_span(telemetry)
    expected = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "text-embedding-3-small",
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": None,
    }
    assert span.name == "embeddings text-embedding-3-small"
    assert attributes_of(span, expected) == expected
    assert_private(telemetry)


RESPONSE = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.request.max_tokens": 100,
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "resp_1",
    "gen_ai.usage.input_tokens": 14,
    "gen_ai.usage.output_tokens": 7,
}


@pytest.mark.parametrize(
    ("stream", "text"),
    [(False, UTTERANCE), (True, UTTERANCE), (True, "long: " + UTTERANCE)],
    ids=["whole", "streamed", "streamed long"],
)
async def test_a_responses_api_call_is_a_chat_span(
    telemetry: CapturedTelemetry,
    model: tuple[str, Received],
    client: httpx.AsyncClient,
    stream: bool,
    text: str,
) -> None:
    """A long answer's last event (the whole response again, over 100 KB in one line) is
    not gathered: its usage is read from the end of the line."""
    _, received = model
    messages = chat(text)["messages"]
    body = {"model": "gpt-4o-mini", "input": messages, "max_output_tokens": 100}
    got: list[bytes] = []

    async def logic(turn_context: TurnContext) -> None:
        if stream:
            got.append(
                await read_stream(client, received, {**body, "stream": True}, "/v1/responses")
            )
        else:
            response = await client.post("/v1/responses", json=body)
            got.append(response.content)

    await run_turn(logic, text)
    assert b"daily" in got[0]
    if stream:
        assert got[0] == bytes(received.streamed)
    span = model_span(telemetry)
    assert span.name == "chat gpt-4o-mini"
    assert attributes_of(span, RESPONSE) == RESPONSE
    assert_private(telemetry)


@pytest.mark.parametrize(
    ("path", "body", "operation", "answered"),
    [
        ("chat/completions", {}, "chat", "gpt-4o-mini-2024-07-18"),
        ("chat/completions", {"stream": True}, "chat", "gpt-4o-mini-2024-07-18"),
        ("embeddings", {}, "embeddings", "text-embedding-3-small"),
    ],
    ids=["chat", "streamed chat", "embeddings"],
)
async def test_an_azure_openai_deployment_is_the_requested_model(
    telemetry: CapturedTelemetry,
    model: tuple[str, Received],
    path: str,
    body: dict[str, Any],
    operation: str,
    answered: str,
) -> None:
    """Azure OpenAI's request names no model: the deployment in its path is the model asked
    for, as the conventions' ``gen_ai.request.model`` (and tokenUsage, keyed on it) want."""
    deployment = "support-bot" if operation == "chat" else "search-vectors"
    assert deployment in AZURE_DEPLOYMENTS
    async with httpx.AsyncClient(
        base_url=f"{model[0]}/openai/deployments/{deployment}",
        params={"api-version": "2024-10-21"},
        headers={"api-key": LLM_KEY},
        event_hooks=llm_event_hooks(),
    ) as azure:

        async def logic(turn_context: TurnContext) -> None:
            text = turn_context.activity.text
            sent = {**body, "input": text} if operation == "embeddings" else chat(text, **body)
            sent.pop("model", None)
            async with azure.stream("POST", path, json=sent) as response:
                assert response.status_code == 200
                await response.aread()

        await run_turn(logic)
    span = model_span(telemetry)
    expected = {
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": deployment,
        "gen_ai.response.model": answered,
    }
    assert span.name == f"{operation} {deployment}"
    assert attributes_of(span, expected) == expected
    assert_private(telemetry)
