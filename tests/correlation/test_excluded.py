"""Paths left without a SERVER span by OpenTelemetry's exclusion variables, over real HTTP."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.trace import SpanKind

from bot_telemetry.correlation.excluded import EXCLUDED_URLS, SERVER_EXCLUDED_URLS
from tests.correlation.servers import raw_request
from tests.correlation.test_server import TP, make_app
from tests.support.servers import serving
from tests.support.telemetry import CapturedTelemetry


def server_span_paths(telemetry: CapturedTelemetry) -> list[str]:
    return sorted(
        str((span.attributes or {}).get("url.path"))
        for span in telemetry.spans()
        if span.kind == SpanKind.SERVER
    )


async def test_matched_paths_are_answered_without_a_span(
    telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_EXCLUDED_URLS, "^/unavailable$, ^/items/4")
    async with serving(make_app()) as url:
        probe = await raw_request(url, "/unavailable", [("traceparent", TP)])
        excluded = await raw_request(url, "/items/42", [("baggage", "tier=gold")])
        kept = await raw_request(url, "/items/1", [("traceparent", TP)])
    assert probe.status == 503
    assert "traceresponse" not in probe.headers
    # The handler runs as before; only the span is missing.
    assert json.loads(excluded.body)["baggage"] == {}
    assert kept.status == 200 and "traceresponse" in kept.headers
    assert server_span_paths(telemetry) == ["/items/1"]


async def test_the_general_variable_applies_when_the_aiohttp_one_is_unset(
    telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SERVER_EXCLUDED_URLS, raising=False)
    monkeypatch.setenv(EXCLUDED_URLS, "/items/1$")
    async with serving(make_app()) as url:
        await raw_request(url, "/items/1", [])
        await raw_request(url, "/items/2", [])
        # Set, the aiohttp variable wins over the general one, as in OpenTelemetry's own.
        monkeypatch.setenv(SERVER_EXCLUDED_URLS, "/items/3$")
        await raw_request(url, "/items/1", [])
        await raw_request(url, "/items/3", [])
        monkeypatch.setenv(SERVER_EXCLUDED_URLS, "")  # set and empty: still the one read
        await raw_request(url, "/items/1", [])
    assert server_span_paths(telemetry) == ["/items/1", "/items/1", "/items/2"]


async def test_a_part_that_is_not_a_regular_expression_is_named_and_the_rest_apply(
    telemetry: CapturedTelemetry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(SERVER_EXCLUDED_URLS, "^/items/(1,^/unavailable$")
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.correlation.excluded"):
        async with serving(make_app()) as url:
            first = await raw_request(url, "/items/1", [])
            probe = await raw_request(url, "/unavailable", [])
    assert first.status == 200 and probe.status == 503
    assert server_span_paths(telemetry) == ["/items/1"]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "'^/items/(1'" in warnings[0], warnings


@pytest.mark.parametrize("setting", [" , ", ",,", ""])
async def test_empty_parts_exclude_nothing(
    telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    # OpenTelemetry's own reading joins an empty part into a pattern that matches every path.
    monkeypatch.setenv(SERVER_EXCLUDED_URLS, setting)
    monkeypatch.setenv(EXCLUDED_URLS, "^/unavailable$")  # not read: the other one is set
    paths = ["/items/1", "/unavailable"]
    async with serving(make_app()) as url:
        for path in paths:
            await raw_request(url, path, [])
    assert server_span_paths(telemetry) == paths
