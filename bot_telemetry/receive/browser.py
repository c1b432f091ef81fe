"""Spans a browser sends straight to the collector (the web chat page's XHR or fetch
instrumentation: the OpenTelemetry JS web SDK, ``telemetry.sdk.language`` ``webjs``) never
passed a bot's privacy policy, and their URLs are whatever the page called: a query with the
user's number, an email in the path. They are made safe here as the bot's own HTTP spans'
are (``PrivacyPolicy.url``): no query, fragment or credentials unless personal data may be
logged, personal path segments replaced; ``url.query`` is left out or redacted alike.

A bot's spans have been through its policy already and are stored as they came.
"""

from __future__ import annotations

from typing import Any, Final

from ..privacy import PrivacyPolicy

#: ``telemetry.sdk.language`` of the OpenTelemetry JS SDK running in a browser.
WEB_SDK: Final = "webjs"
_LANGUAGE: Final = "telemetry.sdk.language"
_URLS: Final = frozenset({"http.url", "url.full"})
_QUERY: Final = "url.query"


def from_browser(resource: Any) -> bool:
    """Whether an OTLP ``Resource`` is a browser's."""
    return any(
        pair.key == _LANGUAGE and pair.value.string_value == WEB_SDK for pair in resource.attributes
    )


def make_safe(request: Any, policy: PrivacyPolicy) -> None:
    """A decoded ``ExportTraceServiceRequest`` with its browser spans' URLs made safe (in
    place); other resources' spans are left alone."""
    for resource_spans in request.resource_spans:
        if not from_browser(resource_spans.resource):
            continue
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                _make_safe(span.attributes, policy)


def _make_safe(attributes: Any, policy: PrivacyPolicy) -> None:
    dropped = False
    for pair in attributes:
        if pair.value.WhichOneof("value") != "string_value":
            continue
        if pair.key in _URLS:
            pair.value.string_value = policy.url(pair.value.string_value)
        elif pair.key == _QUERY:
            if policy.log_personal_information:
                pair.value.string_value = policy.redact_text(pair.value.string_value)
            else:
                dropped = True
    if dropped:
        kept = [pair for pair in attributes if pair.key != _QUERY]
        del attributes[:]
        attributes.extend(kept)
