"""Outgoing calls: aiohttp sessions and botframework-connector's sender, over real HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import instrument_aiohttp_client
from bot_telemetry.correlation.client import TRACE_CONFIG, set_peer_service
from bot_telemetry.correlation.dependency_context import dependency_span_scope
from bot_telemetry.correlation.outgoing import channel_peer_scope
from tests.support.ports import free_port
from tests.support.processes import REPO
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry


@dataclass
class Target:
    """A downstream service that answers and keeps the headers of every request it got."""

    url: str = ""
    received: list[CIMultiDict[str]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def only(self) -> CIMultiDict[str]:
        assert len(self.received) == 1, self.received
        return self.received[0]


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    found = Target()

    async def record(request: web.Request) -> web.Response:
        found.received.append(CIMultiDict(request.headers))
        if request.path.endswith("/activities/a1"):
            return web.json_response({"id": "reply-1"})
        status = 500 if request.path == "/broken" else 200
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serving(app) as url:
        found.url = url
        yield found


@pytest.fixture(autouse=True)
def instrumented() -> None:
    instrument_aiohttp_client()


def client_spans(telemetry: CapturedTelemetry) -> list[ReadableSpan]:
    return [span for span in telemetry.spans() if span.kind == SpanKind.CLIENT]


def named_traceparent(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}"


async def get(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        await response.read()
        return response.status


async def test_each_request_gets_a_client_span_under_the_current_span(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    tracer = trace.get_tracer("test")
    token = context.attach(baggage.set_baggage("tier", "gold"))
    try:
        with tracer.start_as_current_span("turn") as turn:
            assert await get(f"{target.url}/api/x?token=secret") == 200
    finally:
        context.detach(token)
    (span,) = client_spans(telemetry)
    assert span.parent is not None and span.parent.span_id == turn.get_span_context().span_id
    assert span.name == "GET"
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "http.request.method": "GET",
        "url.full": f"{target.url}/api/x",
        "server.address": "127.0.0.1",
        "server.port": target.port,
        "http.response.status_code": 200,
    }
    headers = target.only()
    assert headers.getall("traceparent")[0].startswith(named_traceparent(span))
    assert len(headers.getall("traceparent")) == 1
    assert headers["baggage"] == "tier=gold"


async def test_the_random_flag_reaches_the_callee(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    with trace.get_tracer("test").start_as_current_span("turn"):
        await get(target.url)
    assert int(target.only()["traceparent"][-2:], 16) == 0x03


async def test_peer_service_comes_from_the_map(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    instrument_aiohttp_client({f"127.0.0.1:{target.port}": "nlu"})
    await get(f"{target.url}/predict")
    (span,) = client_spans(telemetry)
    assert span.attributes is not None
    assert span.attributes["peer.service"] == "nlu"
    assert span.attributes["service.peer.name"] == "nlu"


async def test_a_turns_channel_names_its_address_unless_the_map_does(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    with channel_peer_scope(f"{target.url}/", "msteams:COPILOT"):
        await get(f"{target.url}/v3/conversations/c1/activities")
        await get(f"http://localhost:{target.port}/x")  # another address: no name
    await get(f"{target.url}/v3/conversations/c1/activities")  # after the turn: no name
    with channel_peer_scope("not a url", "msteams"), channel_peer_scope(None, "msteams"):
        await get(target.url)
    set_peer_service(f"127.0.0.1:{target.port}", "channel")
    with channel_peer_scope(target.url, "msteams"):
        await get(target.url)
    names = [(s.attributes or {}).get("peer.service") for s in client_spans(telemetry)]
    assert names == ["msteams", None, None, None, "channel"]


async def test_peer_service_is_omitted_when_unknown(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    await get(f"http://localhost:{target.port}/x")
    (span,) = client_spans(telemetry)
    assert span.attributes is not None
    assert "peer.service" not in span.attributes
    set_peer_service("localhost", "anything-on-localhost")
    await get(f"http://localhost:{target.port}/x")
    later = client_spans(telemetry)[-1]
    assert later.attributes is not None
    assert later.attributes["peer.service"] == "anything-on-localhost"


async def test_credentials_query_and_fragment_stay_out_of_url_full(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    url = target.url.replace("http://", "http://user:password@") + "/x?key=secret#frag"
    await get(url)
    (span,) = client_spans(telemetry)
    assert span.attributes is not None
    assert span.attributes["url.full"] == f"{target.url}/x"


async def test_a_dependency_span_is_injected_instead_of_a_nested_client_span(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    instrument_aiohttp_client({f"127.0.0.1:{target.port}": "from-the-map"})
    tracer = trace.get_tracer("test")
    with (
        tracer.start_as_current_span(
            "LUIS", kind=SpanKind.CLIENT, attributes={"peer.service": "luis"}
        ) as dependency,
        dependency_span_scope(dependency),
    ):
        await get(f"{target.url}/luis")
    (span,) = client_spans(telemetry)
    assert span.name == "LUIS"
    assert target.only()["traceparent"].startswith(named_traceparent(span))
    assert span.attributes is not None
    assert span.attributes["peer.service"] == "luis"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["server.port"] == target.port
    # The wrapper describes the call; the URL (whose path may hold personal data) stays out.
    assert "url.full" not in span.attributes
    assert "http.request.method" not in span.attributes


async def test_an_error_answer_under_a_dependency_span_is_left_to_the_wrapper(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    tracer = trace.get_tracer("test")
    with (
        tracer.start_as_current_span("Storage Read", kind=SpanKind.CLIENT) as dependency,
        dependency_span_scope(dependency),
    ):
        assert await get(f"{target.url}/broken") == 500
    (span,) = client_spans(telemetry)
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 500
    assert "error.type" not in span.attributes
    assert span.status.status_code == StatusCode.UNSET


async def test_a_child_of_the_dependency_span_gets_its_own_client_span(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("LUIS") as dependency, dependency_span_scope(dependency):
        with tracer.start_as_current_span("inner"):
            await get(target.url)
    assert [span.name for span in client_spans(telemetry)] == ["GET"]


async def test_an_error_status_marks_the_span_failed(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    assert await get(f"{target.url}/broken") == 500
    (span,) = client_spans(telemetry)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "500"


async def test_a_connection_failure_is_recorded_and_raised_unchanged(
    telemetry: CapturedTelemetry,
) -> None:
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(f"http://127.0.0.1:{free_port()}/")
    (span,) = client_spans(telemetry)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "ClientConnectorError"


async def test_instrumenting_twice_adds_one_trace_config(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    instrument_aiohttp_client()
    instrument_aiohttp_client()
    async with aiohttp.ClientSession() as session:
        assert list(session.trace_configs).count(TRACE_CONFIG) == 1
        async with session.get(target.url) as response:
            await response.read()
    assert len(client_spans(telemetry)) == 1
    assert len(target.only().getall("traceparent")) == 1


async def test_a_sessions_own_trace_configs_are_kept(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    started: list[str] = []

    async def on_start(
        session: aiohttp.ClientSession, ctx: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        started.append(str(params.url))

    own = aiohttp.TraceConfig()
    own.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[own]) as session:
        async with session.get(target.url) as response:
            await response.read()
    assert started == [f"{target.url}"]
    assert len(client_spans(telemetry)) == 1


async def test_telemetry_failures_never_reach_the_caller(
    telemetry: CapturedTelemetry, target: Target, broken_propagator: None
) -> None:
    assert await get(target.url) == 200
    assert "traceparent" not in target.only()


async def test_connector_replies_carry_the_trace(
    telemetry: CapturedTelemetry, target: Target
) -> None:
    from botbuilder.schema import Activity
    from botframework.connector.aio import ConnectorClient
    from botframework.connector.auth import MicrosoftAppCredentials

    instrument_aiohttp_client({f"127.0.0.1:{target.port}": "channel"})
    client = ConnectorClient(MicrosoftAppCredentials.empty(), base_url=target.url)
    with trace.get_tracer("test").start_as_current_span("turn") as turn:
        reply = await client.conversations.reply_to_activity(
            "c1", "a1", Activity(type="message", text="hi")
        )
    assert reply.id == "reply-1"
    (span,) = client_spans(telemetry)
    assert span.parent is not None and span.parent.span_id == turn.get_span_context().span_id
    assert span.name == "POST"
    assert span.attributes is not None
    assert span.attributes["peer.service"] == "channel"
    assert span.attributes["url.full"] == f"{target.url}/v3/conversations/c1/activities/a1"
    assert span.attributes["http.response.status_code"] == 200
    assert target.only()["traceparent"].startswith(named_traceparent(span))


def test_msrest_is_not_imported_for_its_sender_but_wrapped_once_it_is() -> None:
    # A fresh interpreter: instrumenting first (as an Agents SDK bot does) loads no msrest;
    # a botbuilder bot that imports it later still gets its replies traced.
    script = (
        "import sys\n"
        "from bot_telemetry import instrument_aiohttp_client\n"
        "instrument_aiohttp_client()\n"
        "assert 'msrest' not in sys.modules, 'instrumenting imported msrest'\n"
        "from msrest.universal_http.async_requests import AsyncRequestsHTTPSender\n"
        "assert AsyncRequestsHTTPSender.send.__bot_telemetry__\n"
        # The synchronous sender too (botbuilder's TeamsConnectorClient sends through it).
        "from msrest.universal_http.requests import RequestsHTTPSender\n"
        "assert RequestsHTTPSender.send.__bot_telemetry__\n"
        "instrument_aiohttp_client()\n"
        "import botframework.connector\n"
        "assert not [f for f in sys.meta_path if 'WrapOnImport' in type(f).__name__]\n"
        "print('wrapped')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrapped"
