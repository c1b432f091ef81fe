"""The propagators ``configure()`` installs, from ``OTEL_PROPAGATORS``.

``tracecontext`` and ``baggage`` are ours (stricter than the SDK's on the W3C rules); any
other name is looked up among the installed ``opentelemetry_propagator`` entry points.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator

from ..correlation.propagators import BaggagePropagator, TraceContextPropagator


def propagator_from_environment() -> TextMapPropagator:
    names = os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage")
    chosen: list[TextMapPropagator] = []
    for name in (n.strip() for n in names.split(",")):
        if not name or name == "none":
            continue
        chosen.append(_propagator_named(name))
    return CompositePropagator(chosen)


def _propagator_named(name: str) -> TextMapPropagator:
    if name == "tracecontext":
        return TraceContextPropagator()
    if name == "baggage":
        return BaggagePropagator()
    for entry_point in entry_points(group="opentelemetry_propagator", name=name):
        propagator: TextMapPropagator = entry_point.load()()
        return propagator
    raise ValueError(f"OTEL_PROPAGATORS names an unknown propagator: {name!r}")
