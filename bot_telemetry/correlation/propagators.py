"""W3C Trace Context and Baggage propagators (placeholder until the strict ones land)."""

from opentelemetry.baggage.propagation import W3CBaggagePropagator as BaggagePropagator
from opentelemetry.trace.propagation.tracecontext import (
    TraceContextTextMapPropagator as TraceContextPropagator,
)

__all__ = ["BaggagePropagator", "TraceContextPropagator"]
