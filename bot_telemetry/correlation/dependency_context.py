"""Marks the span of a dependency call in the context.

A wrapper's dependency span (``TelemetryRecognizer`` calling the NLU service, say) is
already the CLIENT span of the call. The HTTP client instrumentation underneath checks
this mark and injects that span's context instead of opening a second, nested CLIENT
span, so the callee's SERVER span is the dependency span's child and the app map draws
one edge per call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context, trace

_KEY = context.create_key("bot_telemetry.dependency_span")


@contextmanager
def dependency_span_scope(span: trace.Span) -> Iterator[None]:
    """Within this block, outgoing HTTP calls report under ``span`` instead of a new span."""
    token = context.attach(with_dependency_span(span))
    try:
        yield
    finally:
        context.detach(token)


def with_dependency_span(
    span: trace.Span, parent: context.Context | None = None
) -> context.Context:
    """``parent`` (default: the current context) with ``span`` marked as the dependency span;
    attach it to get what ``dependency_span_scope`` does in one step with other values."""
    return context.set_value(_KEY, span, parent)


def current_dependency_span() -> trace.Span | None:
    """The dependency span that is the current span right now, if any.

    A span of a switched-off scope in between (the Agents SDK's ``agents.storage.read``
    around a ``BlobStorage`` call) does not record and carries its parent's context: the
    dependency span is still the one the call reports under.
    """
    span = context.get_value(_KEY)
    if not isinstance(span, trace.Span):
        return None
    current = trace.get_current_span()
    if current is span:
        return span
    if not current.is_recording() and current.get_span_context() == span.get_span_context():
        return span
    return None
