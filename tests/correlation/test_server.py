"""The SERVER span of each aiohttp request, over real HTTP."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp import web
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bot_telemetry import instrument_app, telemetry_middleware
from tests.correlation.servers import raw_request
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry

T = "4bf92f3577b34da6a3ce929d0e0e4736"
S = "00f067aa0ba902b7"
TP = f"00-{T}-{S}-01"


class Boom(Exception):
    pass


async def _item(request: web.Request) -> web.Response:
    span_context = trace.get_current_span().get_span_context()
    return web.json_response(
        {
            "baggage": {k: str(v) for k, v in baggage.get_all().items()},
            "tracestate": dict(span_context.trace_state.items()),
        }
    )


async def _fail(request: web.Request) -> web.Response:
    raise Boom("handler failed")


async def _bad(request: web.Request) -> web.Response:
    raise web.HTTPBadRequest(text="no")


async def _unavailable(request: web.Request) -> web.Response:
    return web.Response(status=503)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/items/{id}", _item)
    app.router.add_get("/fail", _fail)
    app.router.add_get("/bad", _bad)
    app.router.add_get("/unavailable", _unavailable)
    instrument_app(app)
    return app


def server_span(telemetry: CapturedTelemetry) -> ReadableSpan:
    spans = [span for span in telemetry.spans() if span.kind == SpanKind.SERVER]
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


async def test_one_server_span_per_request_with_http_semantics(
    telemetry: CapturedTelemetry,
) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/items/42?q=secret", [("traceparent", TP)])
    assert response.status == 200
    span = server_span(telemetry)
    port = int(url.rsplit(":", 1)[1])
    assert span.name == "GET /items/{id}"
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "http.request.method": "GET",
        "http.route": "/items/{id}",
        "url.path": "/items/42",
        "url.scheme": "http",
        "server.address": "127.0.0.1",
        "server.port": port,
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
    }
    assert span.status.status_code == StatusCode.UNSET


async def test_the_span_continues_the_callers_trace(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        await raw_request(url, "/items/1", [("traceparent", TP)])
    span = server_span(telemetry)
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == int(T, 16)
    assert span.parent.span_id == int(S, 16)
    assert span.parent.is_remote


async def test_traceresponse_names_the_server_span(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/items/1", [("traceparent", f"00-{T}-{S}-03")])
    span = server_span(telemetry)
    assert span.context is not None
    assert response.headers["traceresponse"] == f"00-{T}-{span.context.span_id:016x}-03"


@pytest.mark.parametrize(
    "headers",
    [
        [("traceparent", f"ff-{T}-{S}-01"), ("tracestate", "foo=1")],
        [("traceparent", TP), ("traceparent", f"00-{T[:-1]}1-{S}-01"), ("tracestate", "foo=1")],
        [("traceparent", f"00-{T.upper()}-{S}-01"), ("tracestate", "foo=1")],
    ],
    ids=["bad version", "two traceparents", "uppercase"],
)
async def test_an_invalid_traceparent_starts_a_new_trace_without_tracestate(
    telemetry: CapturedTelemetry, headers: list[tuple[str, str]]
) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/items/1", headers)
    span = server_span(telemetry)
    assert span.parent is None
    assert span.context is not None and span.context.trace_id != int(T, 16)
    assert json.loads(response.body)["tracestate"] == {}


async def test_tracestate_and_baggage_reach_the_handler(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(
            url,
            "/items/1",
            [("traceparent", TP), ("tracestate", "congo=1,a@b@c=2"), ("baggage", "tier=gold")],
        )
    assert json.loads(response.body) == {
        "baggage": {"tier": "gold"},
        "tracestate": {"congo": "1", "a@b@c": "2"},
    }


async def test_a_legacy_request_id_continues_its_trace(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        await raw_request(url, "/items/1", [("Request-Id", f"|{T}.{S}.")])
    span = server_span(telemetry)
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == int(T, 16)
    assert span.parent.span_id == int(S, 16)


async def test_traceparent_wins_over_request_id(telemetry: CapturedTelemetry) -> None:
    other = "11111111111111111111111111111111"
    async with serving(make_app()) as url:
        await raw_request(url, "/items/1", [("traceparent", TP), ("Request-Id", f"|{other}.1.")])
    assert server_span(telemetry).context.trace_id == int(T, 16)  # type: ignore[union-attr]


async def test_a_5xx_response_marks_the_span_failed(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/unavailable")
    assert response.status == 503
    span = server_span(telemetry)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 503
    assert span.attributes["error.type"] == "503"


async def test_an_http_exception_is_a_response_not_a_fault(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/bad")
    assert response.status == 400
    assert "traceresponse" in response.headers
    span = server_span(telemetry)
    assert span.status.status_code == StatusCode.UNSET
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 400


async def test_an_unknown_route_is_named_by_method_only(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/nowhere")
    assert response.status == 404
    span = server_span(telemetry)
    assert span.name == "GET"
    assert span.attributes is not None and "http.route" not in span.attributes


async def test_an_exception_is_recorded_and_reraised_unchanged(
    telemetry: CapturedTelemetry,
) -> None:
    seen: list[BaseException] = []

    @web.middleware
    async def outer(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:  # type: ignore[name-defined]
        try:
            return await handler(request)
        except Boom as error:
            seen.append(error)
            return web.Response(status=500, text="caught")

    app = web.Application(middlewares=[outer, telemetry_middleware])
    app.router.add_get("/fail", _fail)
    async with serving(app) as url:
        response = await raw_request(url, "/fail")
    assert response.status == 500 and response.body == b"caught"
    assert len(seen) == 1 and str(seen[0]) == "handler failed"
    span = server_span(telemetry)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "Boom"
    assert span.attributes["http.response.status_code"] == 500
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    # the default policy: type and frames, no message (it may quote the request)
    assert event.attributes["exception.type"] == "tests.correlation.test_server.Boom"
    assert "exception.message" not in event.attributes
    assert "handler failed" not in str(event.attributes["exception.stacktrace"])
    assert "in _fail" in str(event.attributes["exception.stacktrace"])
    assert span.status.description == "Boom"


async def test_an_unknown_method_is_reported_as_other(telemetry: CapturedTelemetry) -> None:
    app = web.Application()
    app.router.add_route("*", "/any", _item)
    instrument_app(app)
    async with serving(app) as url:
        await raw_request(url, "/any", method="PROPFIND")
    span = server_span(telemetry)
    assert span.name == "HTTP /any"
    assert span.attributes is not None
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "PROPFIND"


def test_instrument_app_is_idempotent_and_refuses_a_running_app() -> None:
    app = web.Application()
    instrument_app(app)
    instrument_app(app)
    assert list(app.middlewares).count(telemetry_middleware) == 1
    other = web.Application()
    other.freeze()
    with pytest.raises(RuntimeError, match="before the application starts"):
        instrument_app(other)


HOSTILE = [
    ("traceparent", "x" * 100_000),
    ("tracestate", "a=" + "b" * 100_000),
    ("baggage", "k=" + "v" * 100_000),
    ("Request-Id", "|" + "f" * 100_000),
    ("User-Agent", "u" * 100_000),
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def assert_bounded(span: ReadableSpan) -> None:
    for key, value in (span.attributes or {}).items():
        if isinstance(value, str):
            assert len(value) <= 2048, key
            assert not _CONTROL.search(value), key


async def test_100kb_headers_never_raise_and_stay_bounded(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app(), max_field_size=200_000, max_line_size=200_000) as url:
        response = await raw_request(url, "/items/" + "p" * 50_000, HOSTILE)
    assert response.status == 200
    span = server_span(telemetry)
    assert span.parent is None
    assert_bounded(span)
    assert span.attributes is not None
    assert len(str(span.attributes["user_agent.original"])) == 256
    assert json.loads(response.body) == {"baggage": {}, "tracestate": {}}


@pytest.mark.parametrize(
    "header",
    [
        ("traceparent", f"00-{T}-{S}-01\x01"),
        ("tracestate", "a=\x01\x02"),
        ("baggage", "k=\x7f"),
        ("User-Agent", "agent\x01\x1b[31mred\x7f"),
    ],
    ids=["traceparent", "tracestate", "baggage", "user-agent"],
)
async def test_control_characters_are_refused_before_the_bot(
    telemetry: CapturedTelemetry, header: tuple[str, str]
) -> None:
    async with serving(make_app()) as url:
        refused = await raw_request(url, "/items/1", [header])
        after = await raw_request(url, "/items/1", [("traceparent", TP)])
    assert refused.status == 400
    assert after.status == 200


async def test_tabs_and_non_ascii_bytes_stay_out_of_attributes(
    telemetry: CapturedTelemetry,
) -> None:
    headers = [
        ("traceparent", f"\t00-{T}-{S}-01\t"),
        ("tracestate", "a=\t1,b=\xff"),
        ("User-Agent", "agent\tx\xff\xfe" + "y" * 1000),
    ]
    async with serving(make_app()) as url:
        response = await raw_request(url, "/items/%00%01%0a%ff", headers)
    assert response.status == 200
    span = server_span(telemetry)
    assert span.context is not None and span.context.trace_id == int(T, 16)
    assert json.loads(response.body)["tracestate"] == {}
    assert_bounded(span)
    assert span.attributes is not None
    assert str(span.attributes["user_agent.original"]).startswith("agent\ufffdx")


async def test_a_hostile_host_header_is_bounded(telemetry: CapturedTelemetry) -> None:
    async with serving(make_app(), max_field_size=200_000) as url:
        response = await raw_request(url, "/items/1", host_header="h" * 50_000 + ":99999999")
    assert response.status == 200
    span = server_span(telemetry)
    assert_bounded(span)
    assert span.attributes is not None
    assert len(str(span.attributes["server.address"])) == 256
    assert "server.port" not in span.attributes or span.attributes["server.port"] == 80


async def test_a_failing_propagator_never_breaks_the_request(
    telemetry: CapturedTelemetry, broken_propagator: None
) -> None:
    async with serving(make_app()) as url:
        response = await raw_request(url, "/items/1", [("traceparent", TP)])
    assert response.status == 200
    assert json.loads(response.body) == {"baggage": {}, "tracestate": {}}
