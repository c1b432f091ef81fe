"""Global OpenTelemetry providers that can be re-pointed.

The OpenTelemetry API lets a process set its global tracer, logger and meter provider once.
``configure`` may run more than once (tests, a notebook, a reloaded app), so the globals
we install are thin proxies and each ``configure`` call swaps the SDK providers behind
them. Tracers, loggers, meters and instruments handed out earlier follow the swap, so the
bot-facing layers use nothing but the OpenTelemetry API.

The proxies can also silence an instrumentation scope: its tracer hands out spans that
record nothing but carry their parent's context (so spans below them attach to the
nearest recorded ancestor and the tree stays connected), and its meter is a no-op. That
is how ``configure`` keeps the Microsoft 365 Agents SDK's own spans and metrics, which
duplicate ours and bypass the privacy policy, out of the trace (docs/agents.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from opentelemetry import _logs as logs
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes

from .._private import agnosticcontextmanager


class ReconfigurableTracerProvider(trace.TracerProvider):
    def __init__(self) -> None:
        self.delegate: trace.TracerProvider = trace.NoOpTracerProvider()
        self.silenced: frozenset[str] = frozenset()

    @property
    def resource(self) -> Resource:
        # Exporters (Azure Monitor's among them) read the global provider's resource.
        resource = getattr(self.delegate, "resource", None)
        return resource if isinstance(resource, Resource) else Resource.get_empty()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the SDK provider behind the proxy (True when there is none)."""
        return _flush(self.delegate, timeout_millis)

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return _ReconfigurableTracer(
            self, instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _ReconfigurableTracer(trace.Tracer):
    def __init__(
        self,
        provider: ReconfigurableTracerProvider,
        name: str,
        version: str | None,
        schema_url: str | None,
        attributes: Attributes,
    ) -> None:
        self._provider = provider
        self._args = (name, version, schema_url, attributes)
        self._for: trace.TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        delegate = self._provider.delegate
        if delegate is not self._for:
            name, version, schema_url, attributes = self._args
            if name in self._provider.silenced:
                self._tracer = _SilentTracer()
            else:
                self._tracer = delegate.get_tracer(name, version, schema_url, attributes)
            self._for = delegate
        return self._tracer

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self._current().start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    @agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        with self._current().start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        ) as span:
            yield span


class _SilentTracer(trace.Tracer):
    """A silenced scope's tracer: each span is its parent's context, recording nothing.

    Not a dropping sampler (its children would name a parent that is never exported) nor
    the no-op tracer (its invalid span would make every child start a new trace).
    """

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return trace.NonRecordingSpan(trace.get_current_span(context).get_span_context())

    @agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        with trace.use_span(self.start_span(name, context), end_on_exit=end_on_exit) as span:
            yield span


class ReconfigurableLoggerProvider(logs.LoggerProvider):
    def __init__(self) -> None:
        self.delegate: logs.LoggerProvider = logs.NoOpLoggerProvider()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return _flush(self.delegate, timeout_millis)

    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> logs.Logger:
        return _ReconfigurableLogger(self, name, version, schema_url, attributes)


class _ReconfigurableLogger(logs.Logger):
    def __init__(
        self,
        provider: ReconfigurableLoggerProvider,
        name: str,
        version: str | None,
        schema_url: str | None,
        attributes: Attributes,
    ) -> None:
        super().__init__(name, version, schema_url, attributes)
        self._provider = provider
        self._args = (name, version, schema_url, attributes)
        self._for: logs.LoggerProvider | None = None
        self._logger: logs.Logger = logs.NoOpLogger(name)

    def _current(self) -> logs.Logger:
        delegate = self._provider.delegate
        if delegate is not self._for:
            name, version, schema_url, attributes = self._args
            self._logger = delegate.get_logger(name, version, schema_url, attributes)
            self._for = delegate
        return self._logger

    def emit(self, record: logs.LogRecord | None = None, **kwargs: Any) -> None:
        if record is None:
            self._current().emit(**kwargs)
        else:
            self._current().emit(record, **kwargs)

    def enabled(
        self,
        *,
        context: Context | None = None,
        severity_number: logs.SeverityNumber | None = None,
        event_name: str | None = None,
    ) -> bool:
        return self._current().enabled(
            context=context, severity_number=severity_number, event_name=event_name
        )


class ReconfigurableMeterProvider(metrics.MeterProvider):
    def __init__(self) -> None:
        self.delegate: metrics.MeterProvider = metrics.NoOpMeterProvider()
        self.silenced: frozenset[str] = frozenset()
        self.observables: list[_Observable] = []

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> metrics.Meter:
        return _ReconfigurableMeter(self, name, version, schema_url, attributes)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return _flush(self.delegate, timeout_millis)

    def repoint(self, delegate: metrics.MeterProvider) -> None:
        self.delegate = delegate
        # Asynchronous instruments are called back by the provider: register them anew.
        for observable in self.observables:
            observable.register()


class _ReconfigurableMeter(metrics.Meter):
    def __init__(
        self,
        provider: ReconfigurableMeterProvider,
        name: str,
        version: str | None,
        schema_url: str | None,
        attributes: Attributes,
    ) -> None:
        super().__init__(name, version, schema_url)
        self.provider = provider
        self._args = (name, version, schema_url, attributes)
        self._for: metrics.MeterProvider | None = None
        self._meter: metrics.Meter = metrics.NoOpMeter(name)

    def current(self) -> metrics.Meter:
        delegate = self.provider.delegate
        if delegate is not self._for:
            name, version, schema_url, attributes = self._args
            if name in self.provider.silenced:
                self._meter = metrics.NoOpMeter(name)
            else:
                self._meter = delegate.get_meter(name, version, schema_url, attributes)
            self._for = delegate
        return self._meter

    def create_counter(self, name: str, unit: str = "", description: str = "") -> metrics.Counter:
        return _Counter(self, "create_counter", name, unit, description)

    def create_up_down_counter(
        self, name: str, unit: str = "", description: str = ""
    ) -> metrics.UpDownCounter:
        return _UpDownCounter(self, "create_up_down_counter", name, unit, description)

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> metrics.Histogram:
        advice = {"explicit_bucket_boundaries_advisory": explicit_bucket_boundaries_advisory}
        return _Histogram(self, "create_histogram", name, unit, description, advice)

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Any:
        return _Gauge(self, "create_gauge", name, unit, description)

    def create_observable_counter(
        self,
        name: str,
        callbacks: Sequence[metrics.CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> metrics.ObservableCounter:
        return _Observable(self, "create_observable_counter", name, callbacks, unit, description)

    def create_observable_gauge(
        self,
        name: str,
        callbacks: Sequence[metrics.CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> metrics.ObservableGauge:
        return _Observable(self, "create_observable_gauge", name, callbacks, unit, description)

    def create_observable_up_down_counter(
        self,
        name: str,
        callbacks: Sequence[metrics.CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> metrics.ObservableUpDownCounter:
        return _Observable(
            self, "create_observable_up_down_counter", name, callbacks, unit, description
        )


class _Synchronous:
    """An instrument that asks the current SDK meter for its real instrument, once per
    ``configure``; every call after that costs one identity check."""

    def __init__(
        self,
        meter: _ReconfigurableMeter,
        factory: str,
        name: str,
        unit: str,
        description: str,
        options: dict[str, Any] | None = None,
    ) -> None:
        self._meter = meter
        self._create = (factory, name, unit, description, options or {})
        self._for: metrics.Meter | None = None
        self._instrument: Any = None

    def _real(self) -> Any:
        meter = self._meter.current()
        if meter is not self._for:
            factory, name, unit, description, options = self._create
            self._instrument = getattr(meter, factory)(name, unit, description, **options)
            self._for = meter
        return self._instrument


class _Counter(_Synchronous, metrics.Counter):
    def add(
        self, amount: float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._real().add(amount, attributes, context)


class _UpDownCounter(_Synchronous, metrics.UpDownCounter):
    def add(
        self, amount: float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._real().add(amount, attributes, context)


class _Histogram(_Synchronous, metrics.Histogram):
    def record(
        self, amount: float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._real().record(amount, attributes, context)


class _Gauge(_Synchronous):
    def set(
        self, amount: float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._real().set(amount, attributes, context)


class _Observable(
    metrics.ObservableCounter, metrics.ObservableGauge, metrics.ObservableUpDownCounter
):
    def __init__(
        self,
        meter: _ReconfigurableMeter,
        factory: str,
        name: str,
        callbacks: Sequence[metrics.CallbackT] | None,
        unit: str,
        description: str,
    ) -> None:
        self._meter = meter
        self._create = (factory, name, list(callbacks or []), unit, description)
        meter.provider.observables.append(self)
        self.register()

    def register(self) -> None:
        factory, name, callbacks, unit, description = self._create
        getattr(self._meter.current(), factory)(name, callbacks, unit, description)


def _flush(provider: object, timeout_millis: int) -> bool:
    flush = getattr(provider, "force_flush", None)
    return bool(flush(timeout_millis)) if callable(flush) else True


_tracer_provider = ReconfigurableTracerProvider()
_logger_provider = ReconfigurableLoggerProvider()
_meter_provider = ReconfigurableMeterProvider()
_installed = False


def install(
    tracer_provider: trace.TracerProvider,
    logger_provider: logs.LoggerProvider,
    meter_provider: metrics.MeterProvider,
    silenced_scopes: Collection[str] = (),
) -> None:
    """Point the process-wide OpenTelemetry providers at these SDK providers; tracers and
    meters of ``silenced_scopes`` record nothing."""
    global _installed
    if not _installed:
        trace.set_tracer_provider(_tracer_provider)
        logs.set_logger_provider(_logger_provider)
        metrics.set_meter_provider(_meter_provider)
        _installed = True
    # Before the delegates change: each tracer and meter re-resolves on the next call.
    _tracer_provider.silenced = _meter_provider.silenced = frozenset(silenced_scopes)
    _tracer_provider.delegate = tracer_provider
    _logger_provider.delegate = logger_provider
    _meter_provider.repoint(meter_provider)


def uninstall() -> None:
    _tracer_provider.delegate = trace.NoOpTracerProvider()
    _logger_provider.delegate = logs.NoOpLoggerProvider()
    _meter_provider.repoint(metrics.NoOpMeterProvider())
