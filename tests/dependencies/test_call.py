"""The one dependency mechanism: span shape, outcome, exception handling, HTTP correlation."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import PrivacyPolicy
from bot_telemetry.correlation.dependency_context import current_dependency_span
from bot_telemetry.dependencies.call import (
    ATTR_COMPONENT,
    ATTR_RESULT_CODE,
    Target,
    dependency_call,
)
from tests.dependencies.conftest import Service
from tests.support.telemetry import CapturedTelemetry


class QuotaExceeded(Exception):
    status_code = 429


async def test_a_call_is_a_client_span_naming_its_peer(telemetry: CapturedTelemetry) -> None:
    target = Target.for_url("nlu", "http://10.1.2.3:8081/predict")
    async with dependency_call("Recognizer Query", target, component="Recognizer") as call:
        assert current_dependency_span() is call.span
    assert current_dependency_span() is None

    span = telemetry.span_named("Recognizer Query")
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        "peer.service": "nlu",
        "service.peer.name": "nlu",
        "server.address": "10.1.2.3",
        "server.port": 8081,
        ATTR_COMPONENT: "Recognizer",
        ATTR_RESULT_CODE: "OK",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.end_time is not None and span.start_time is not None
    assert span.end_time >= span.start_time


async def test_an_exception_is_recorded_and_re_raised_unchanged(
    telemetry: CapturedTelemetry,
) -> None:
    raised = QuotaExceeded("too many requests this minute")
    with pytest.raises(QuotaExceeded) as caught:
        async with dependency_call("QnA Query", Target("qna"), component="QnA"):
            raise raised
    assert caught.value is raised

    span = telemetry.span_named("QnA Query")
    assert span.status.status_code is StatusCode.ERROR
    # the default policy: no message anywhere (messages quote data), the type and frames
    assert span.status.description == "QuotaExceeded"
    attributes = span.attributes or {}
    assert attributes[ATTR_RESULT_CODE] == "429"
    assert attributes["error.type"] == "tests.dependencies.test_call.QuotaExceeded"
    [event] = span.events
    assert event.name == "exception"
    recorded = dict(event.attributes or {})
    assert recorded["exception.type"] == "tests.dependencies.test_call.QuotaExceeded"
    assert recorded["exception.escaped"] is True
    assert "exception.message" not in recorded
    assert "too many requests" not in recorded["exception.stacktrace"]
    assert (
        "in test_an_exception_is_recorded_and_re_raised_unchanged"
        in (recorded["exception.stacktrace"])
    )


async def test_with_personal_data_allowed_the_message_is_recorded_redacted(
    telemetry: CapturedTelemetry,
) -> None:
    opened = PrivacyPolicy(log_personal_information=True)
    with pytest.raises(QuotaExceeded):
        async with dependency_call("QnA Query", Target("qna"), component="QnA", privacy=opened):
            raise QuotaExceeded("too many requests from ada@example.org")
    span = telemetry.span_named("QnA Query")
    assert span.status.description == "QuotaExceeded: too many requests from [REDACTED]"
    [event] = span.events
    recorded = dict(event.attributes or {})
    assert recorded["exception.message"] == "too many requests from [REDACTED]"
    assert "ada@example.org" not in recorded["exception.stacktrace"]


async def test_without_a_status_the_result_code_is_the_exception_type(
    telemetry: CapturedTelemetry,
) -> None:
    with pytest.raises(KeyError):
        async with dependency_call("Storage Write", Target("MemoryStorage"), component="Storage"):
            raise KeyError("Etag conflict")
    assert (telemetry.span_named("Storage Write").attributes or {})[ATTR_RESULT_CODE] == "KeyError"


async def test_a_wrapper_can_set_the_result_code(telemetry: CapturedTelemetry) -> None:
    async with dependency_call("QnA Query", Target("qna"), component="QnA") as call:
        call.set_result_code(204)
        call.set_attribute("bot.qna.article_found", False)
    attributes = telemetry.span_named("QnA Query").attributes or {}
    assert attributes[ATTR_RESULT_CODE] == "204"
    assert attributes["bot.qna.article_found"] is False


async def test_in_process_work_is_internal_and_not_a_dependency_scope(
    telemetry: CapturedTelemetry,
) -> None:
    async with dependency_call(
        "Middleware Translator",
        Target("Translator"),
        component="Middleware",
        kind=SpanKind.INTERNAL,
    ):
        # Calls made by the rest of the pipeline must get spans of their own.
        assert current_dependency_span() is None
    assert telemetry.span_named("Middleware Translator").kind is SpanKind.INTERNAL


async def test_a_cancelled_call_is_recorded_and_stays_cancelled(
    telemetry: CapturedTelemetry,
) -> None:
    started = asyncio.Event()

    async def waiting() -> None:
        async with dependency_call("Recognizer Query", Target("nlu"), component="Recognizer"):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(waiting())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = telemetry.span_named("Recognizer Query")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[ATTR_RESULT_CODE] == "CancelledError"


async def test_the_callee_request_is_the_child_of_the_dependency_span(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    async with dependency_call(
        "Recognizer Query", Target.for_url("nlu", nlu.url), component="Recognizer"
    ) as call:
        async with (
            aiohttp.ClientSession() as session,
            session.post(nlu.url, json={"text": "hello"}) as response,
        ):
            assert response.status == 200
    context = call.span.get_span_context()

    spans = telemetry.spans()
    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert [s.name for s in clients] == ["Recognizer Query"], "no nested CLIENT span"
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.parent is not None and server.parent.span_id == context.span_id
    assert server.context.trace_id == context.trace_id
    [traceparent] = nlu.received.traceparents
    assert traceparent is not None
    assert traceparent.split("-")[1:3] == [f"{context.trace_id:032x}", f"{context.span_id:016x}"]
    attributes = telemetry.span_named("Recognizer Query").attributes or {}
    assert attributes[ATTR_RESULT_CODE] == "200"
    assert attributes["peer.service"] == "nlu", "the wrapper's peer name is kept"


async def test_a_failed_request_the_library_recovered_from_is_a_success(
    telemetry: CapturedTelemetry, nlu: Service
) -> None:
    missing = nlu.url.replace("/predict", "/no-such-route")
    async with dependency_call("Storage Read", Target("store"), component="Storage"):
        async with aiohttp.ClientSession() as session, session.get(missing) as response:
            assert response.status == 404  # e.g. a blob that is not there: an empty read

    span = telemetry.span_named("Storage Read")
    assert span.status.status_code is not StatusCode.ERROR
    assert (span.attributes or {})[ATTR_RESULT_CODE] == "OK"


def test_targets_parse_their_address_from_a_url() -> None:
    assert Target.for_url("luis", "https://westus.api.cognitive.microsoft.com/luis") == Target(
        "luis", "westus.api.cognitive.microsoft.com", 443
    )
    assert Target.for_url("x", "http://[::1]:99999/") == Target("x")  # port out of range
    assert Target.for_url("x", None) == Target("x")
    assert Target("store", db_system="memory").attributes() == {
        "peer.service": "store",
        "service.peer.name": "store",
        "db.system.name": "memory",
    }


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for this one")


async def test_an_exception_that_cannot_be_printed_still_propagates_itself(
    telemetry: CapturedTelemetry,
) -> None:
    with pytest.raises(Unprintable):
        async with dependency_call("QnA Query", Target("qna"), component="QnA"):
            raise Unprintable()
    span = telemetry.span_named("QnA Query")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Unprintable"
    assert (span.attributes or {})[ATTR_RESULT_CODE] == "Unprintable"
