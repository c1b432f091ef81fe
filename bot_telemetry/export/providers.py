"""Global OpenTelemetry providers that can be re-pointed.

The OpenTelemetry API lets a process set its global tracer and logger provider once.
``configure`` may run more than once (tests, a notebook, a reloaded app), so the globals
we install are thin proxies and each ``configure`` call swaps the SDK providers behind
them. Tracers and loggers handed out earlier follow the swap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import _logs as logs
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes


class ReconfigurableTracerProvider(trace.TracerProvider):
    def __init__(self) -> None:
        self.delegate: trace.TracerProvider = trace.NoOpTracerProvider()

    @property
    def resource(self) -> Resource:
        # Exporters (Azure Monitor's among them) read the global provider's resource.
        resource = getattr(self.delegate, "resource", None)
        return resource if isinstance(resource, Resource) else Resource.get_empty()

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
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception,
        )

    @_agnosticcontextmanager
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
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception, end_on_exit,
        ) as span:
            yield span


class ReconfigurableLoggerProvider(logs.LoggerProvider):
    def __init__(self) -> None:
        self.delegate: logs.LoggerProvider = logs.NoOpLoggerProvider()

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


_tracer_provider = ReconfigurableTracerProvider()
_logger_provider = ReconfigurableLoggerProvider()
_installed = False


def install(tracer_provider: trace.TracerProvider, logger_provider: logs.LoggerProvider) -> None:
    """Point the process-wide OpenTelemetry providers at these SDK providers."""
    global _installed
    if not _installed:
        trace.set_tracer_provider(_tracer_provider)
        logs.set_logger_provider(_logger_provider)
        _installed = True
    _tracer_provider.delegate = tracer_provider
    _logger_provider.delegate = logger_provider


def uninstall() -> None:
    _tracer_provider.delegate = trace.NoOpTracerProvider()
    _logger_provider.delegate = logs.NoOpLoggerProvider()
