"""Spans a browser sends straight to ``serve`` (the web chat page's XHR instrumentation, the
OpenTelemetry JS web SDK) never passed a bot's privacy policy: a page's call to
``/api/profile?mobile=…&email=…`` was stored with its query. Over real OTLP/HTTP to a real
``serve``; the bot's own spans (its resource marked by ``configure()``) are stored as the
bot's policy made them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from bot_telemetry.contract import DISTRO_NAME, RESOURCE_DISTRO_NAME
from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.privacy.current import set_current_policy
from bot_telemetry.web import CollectorThread, ServerConfig

URL = "https://portal.example/api/people/grace%40example.org/profile?mobile=9876543210#otp=761234"


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CollectorThread]:
    set_current_policy(getattr(request, "param", None))
    try:
        with CollectorThread(ServerConfig(store=tmp_path / "store.duckdb", port=0)) as running:
            yield running
    finally:
        set_current_policy(None)


def send(url: str, language: str, bot: bool = False) -> dict[str, Any]:
    """One CLIENT span as the XHR instrumentation records it; its stored attributes."""
    attributes = {"service.name": "webchat", "telemetry.sdk.language": language}
    if bot:
        attributes[RESOURCE_DISTRO_NAME] = DISTRO_NAME
    resource = Resource.create(attributes)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("@opentelemetry/instrumentation-xml-http-request")
    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as span:
        span.set_attribute("http.url", URL)
        span.set_attribute("url.full", URL)
        span.set_attribute("url.query", "mobile=9876543210")
        span.set_attribute("http.method", "GET")
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()  # SimpleSpanProcessor: sent and answered before this returns
    with urllib.request.urlopen(f"{url}/api/traces/{trace_id}", timeout=30) as response:
        trace = json.loads(response.read())
    attributes: dict[str, Any] = trace["spans"][0]["attributes"]
    return attributes


def test_a_browser_span_is_stored_without_the_query_or_personal_path(
    served: CollectorThread,
) -> None:
    attributes = send(served.url, "webjs")
    for key in ("http.url", "url.full"):
        assert attributes[key] == "https://portal.example/api/people/[REDACTED]/profile"
    assert "url.query" not in attributes
    assert attributes["http.method"] == "GET"


@pytest.mark.parametrize("served", [PrivacyPolicy(log_personal_information=True)], indirect=True)
def test_an_opened_policy_keeps_the_query_redacted(served: CollectorThread) -> None:
    attributes = send(served.url, "webjs")
    assert "9876543210" not in json.dumps(attributes)
    assert attributes["http.url"].startswith("https://portal.example/api/people/[REDACTED]/")


def test_a_bots_span_is_stored_as_its_policy_made_it(served: CollectorThread) -> None:
    assert send(served.url, "python", bot=True)["http.url"] == URL
