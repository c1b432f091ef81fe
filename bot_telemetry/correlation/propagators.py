"""W3C Trace Context (Level 2) and W3C Baggage propagators, stricter than OpenTelemetry's.

``configure()`` installs these for ``OTEL_PROPAGATORS=tracecontext,baggage`` (the default).
They follow the OpenTelemetry ``TextMapPropagator`` interface, so anything that calls
``opentelemetry.propagate.inject/extract`` uses them. docs/correlation.md lists the rules
where they differ from OpenTelemetry's own propagators.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import baggage, trace
from opentelemetry.context import Context, create_key, get_current, get_value, set_value
from opentelemetry.propagators import textmap

from ..privacy import PrivacyPolicy, Treatment, current_policy
from .baggage import Member, format_baggage, parse_baggage, valid_key
from .headers import header_getter
from .legacy import HEADER as REQUEST_ID
from .legacy import parse_request_id
from .traceparent import Traceparent, format_traceparent, parse_traceparent
from .tracestate import W3CTraceState, format_tracestate, parse_tracestate

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"

_PROPERTIES = create_key("bot_telemetry.baggage_properties")


def _getter(getter: textmap.Getter[textmap.CarrierT]) -> textmap.Getter[textmap.CarrierT]:
    # OpenTelemetry's default getter reads only the first of repeated fields from a
    # multidict and matches names case-sensitively in a dict; ours does neither.
    return header_getter if isinstance(getter, textmap.DefaultGetter) else getter


def _values(
    getter: textmap.Getter[textmap.CarrierT], carrier: textmap.CarrierT, name: str
) -> list[str]:
    try:
        found = getter.get(carrier, name)
    except Exception:
        return []
    return [value for value in found or [] if isinstance(value, str)]


class TraceContextPropagator(textmap.TextMapPropagator):
    """``traceparent``/``tracestate`` in and out, plus Application Insights' ``Request-Id`` in.

    propagator = TraceContextPropagator()
    context = propagator.extract(request.headers)
    propagator.inject(headers, context)
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        if context is None:
            context = Context()
        try:
            parent, members = self._parent(carrier, _getter(getter))
        except Exception:
            # Hostile input must never break a request; a new trace starts instead.
            return context
        if parent is None:
            return context
        span_context = trace.SpanContext(
            trace_id=parent.trace_id,
            span_id=parent.span_id,
            is_remote=True,
            trace_flags=trace.TraceFlags(parent.flags),
            trace_state=W3CTraceState(members),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(span_context), context)

    def _parent(
        self, carrier: textmap.CarrierT, getter: textmap.Getter[textmap.CarrierT]
    ) -> tuple[Traceparent | None, list[tuple[str, str]]]:
        traceparents = _values(getter, carrier, TRACEPARENT)
        if traceparents:
            parent = parse_traceparent(traceparents)
            if parent is None:
                return None, []
            return parent, parse_tracestate(_values(getter, carrier, TRACESTATE)) or []
        request_ids = _values(getter, carrier, REQUEST_ID)
        if len(request_ids) == 1:
            return parse_request_id(request_ids[0]), []
        return None, []

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        setter.set(carrier, TRACEPARENT, traceparent_of(span_context))
        state = format_tracestate(span_context.trace_state.items())
        if state:
            setter.set(carrier, TRACESTATE, state)

    @property
    def fields(self) -> set[str]:
        return {TRACEPARENT, TRACESTATE}


def traceparent_of(span_context: trace.SpanContext) -> str:
    """The version 00 header for a span context (also the ``traceresponse`` value)."""
    return format_traceparent(span_context.trace_id, span_context.span_id, span_context.trace_flags)


class BaggagePropagator(textmap.TextMapPropagator):
    """``baggage`` in and out, with properties kept and the W3C limits applied both ways;
    members holding personal data (as the privacy policy judges a property) are not
    passed on."""

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        if context is None:
            context = get_current()
        try:
            members = parse_baggage(_values(_getter(getter), carrier, BAGGAGE))
        except Exception:
            return context
        if not members:
            return context
        properties = dict(_properties(context))
        for member in members:
            context = baggage.set_baggage(member.key, member.value, context)
            if member.properties:
                properties[member.key] = (member.value, member.properties)
            else:
                properties.pop(member.key, None)
        return set_value(_PROPERTIES, properties, context)

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        properties = _properties(context)
        policy = current_policy()
        members = []
        for key, value in baggage.get_all(context).items():
            if not valid_key(key):
                continue
            text = str(value)
            # Passed on to every service the bot calls (LUIS, storage, the Bot Connector):
            # not a member under a personal key or a user id's (``user.id``, ``userId``,
            # ``userName``), nor one holding an email, phone or card number, whoever put
            # it in the baggage. Free text under other keys is the application's own.
            if _personal_member(policy, key, text):
                continue
            kept = properties.get(key)
            # Properties belong to the value they came with; a changed value drops them.
            extra = kept[1] if kept is not None and kept[0] == text else ""
            members.append(Member(key, text, extra))
        header = format_baggage(members)
        if header:
            setter.set(carrier, BAGGAGE, header)

    @property
    def fields(self) -> set[str]:
        return {BAGGAGE}


def _personal_member(policy: PrivacyPolicy, key: str, value: str) -> bool:
    if policy.treatment(key) in (Treatment.DETECT, Treatment.VERSION):
        return policy.redact_text(value) != value
    return bool(policy.value(key, value) != value)


def _properties(context: Context | None) -> Mapping[str, tuple[str, str]]:
    found = get_value(_PROPERTIES, context)
    return found if isinstance(found, dict) else {}


__all__ = ["BaggagePropagator", "TraceContextPropagator", "traceparent_of"]
