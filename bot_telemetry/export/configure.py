"""``configure``: one call that sets up OpenTelemetry for a bot or one of its services."""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, propagate
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from ..contract import DISTRO_NAME, RESOURCE_DISTRO_NAME, RESOURCE_POSTHOG_FORWARDED
from ..delivery import ExportAccounting
from ..delivery.queue import EXIT_FLUSH_MILLIS
from ..privacy import DEFAULT_POLICY, PrivacyPolicy, set_current_policy
from ..signals import metrics as bot_metrics
from . import providers
from .batching import QueuedLogRecordProcessor, QueuedSpanProcessor
from .destinations import destinations_from_environment, env_int, named
from .posthog import PostHogLogExporter
from .propagation import propagator_from_environment

#: The Microsoft 365 Agents SDK's tracer and meter name. Its spans duplicate ours (turn,
#: storage, connector) and carry raw ids the privacy policy never sees: silenced unless
#: ``configure(silenced_scopes=())`` asks for them (docs/agents.md).
AGENTS_SDK_SCOPE = "microsoft_agents"
#: azure-core's own tracer, on when AZURE_TRACING_ENABLED or a tracing implementation is set.
#: Under our dependency wrappers its method and HTTP spans are a second CLIENT span per call
#: (an app-map node named after the host), and its ``url.full`` keeps the path as it is: a
#: BlobStorage state key, with the user's id in it. Our HTTP instrumentation already traces
#: Azure SDK calls the wrappers do not cover, through the privacy policy.
AZURE_CORE_SCOPE = "azure-core"
DEFAULT_SILENCED_SCOPES: tuple[str, ...] = (AGENTS_SDK_SCOPE, AZURE_CORE_SCOPE)


@dataclass
class Telemetry:
    """What ``configure`` set up. Flush before a short-lived process exits."""

    resource: Resource
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    privacy: PrivacyPolicy
    accounting: ExportAccounting
    destinations: list[str] = field(default_factory=list)

    def dropped(self) -> dict[str, int]:
        """Telemetry items dropped so far (backend down, queue full), by signal and reason."""
        return self.accounting.dropped()

    def deferred(self) -> dict[str, int]:
        """Items an exporter could not send and kept to send again itself (Azure Monitor's
        offline storage), by signal. They are not lost, so not in ``dropped()``."""
        return self.accounting.deferred()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything queued so far; False if some of it could not be exported in time."""
        # Side by side, as in shutdown: one after the other, a hanging backend would make the
        # caller wait out an export timeout per signal.
        logs: list[bool] = []
        flushing = threading.Thread(
            target=lambda: logs.append(self.logger_provider.force_flush(timeout_millis)),
            name="bot-telemetry-flush-logs",
        )
        flushing.start()
        spans = self.tracer_provider.force_flush(timeout_millis)
        flushing.join()
        # Metrics last: the spans and logs just exported may have taken a while.
        points = self.meter_provider.force_flush(timeout_millis)
        return bool(spans and logs and logs[0] and points)

    def shutdown(self) -> None:
        """Flush and stop every exporter. Idempotent."""
        global _current
        # Side by side: with the backend down each signal may wait out one export timeout.
        logs = threading.Thread(target=self.logger_provider.shutdown, name="bot-telemetry-logs")
        logs.start()
        self.tracer_provider.shutdown()
        logs.join()
        if _current is self:
            # The turns' durations still waiting go to this provider's readers, as if
            # recorded at once (a periodic reader's last collection would take them too).
            bot_metrics.record_pending_durations()
        self.meter_provider.shutdown()
        self.accounting.remove_log_folding()
        if _current is self:
            bot_metrics.record_durations(bot_metrics.OFF)  # the meters are no-ops now
            providers.uninstall()
            set_current_policy(None)
            _current = None


class OnceHashedResource(Resource):
    """A ``Resource`` that computes its hash once.

    The SDK's OTLP encoders group every span and log record by resource, and
    ``Resource.__hash__`` serialises all attributes to JSON on each call: ~10 µs per item.
    A resource's attributes cannot change, so neither can its hash.
    """

    def __init__(self, attributes: Mapping[str, Any], schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


_current: Telemetry | None = None
#: The SDK's variable for which measurements become exemplars (we default it to none).
EXEMPLAR_FILTER = "OTEL_METRICS_EXEMPLAR_FILTER"


def current() -> Telemetry | None:
    """The handle of the last ``configure`` call still in force, if any."""
    return _current


def configure(
    service_name: str,
    *,
    service_namespace: str = "bot-telemetry",
    service_version: str = "0.0.0",
    service_instance_id: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    privacy: PrivacyPolicy | None = None,
    span_exporters: Sequence[SpanExporter] | None = None,
    log_exporters: Sequence[LogRecordExporter] | None = None,
    metric_readers: Sequence[MetricReader] | None = None,
    max_queue_size: int | None = None,
    schedule_delay_millis: int | None = None,
    silenced_scopes: Collection[str] = DEFAULT_SILENCED_SCOPES,
) -> Telemetry:
    """Set up tracing, custom events and metrics for this process and return a handle.

    Exporters come from the standard variables unless given: ``OTEL_EXPORTER_OTLP_ENDPOINT``
    sends OTLP/HTTP there, ``APPLICATIONINSIGHTS_CONNECTION_STRING`` sends to Azure Monitor,
    neither sends OTLP/HTTP to the embedded collector on 127.0.0.1:4318; ``POSTHOG_API_KEY``
    adds PostHog (custom events) beside them. The export queue's
    size and delay default to ``OTEL_BSP_MAX_QUEUE_SIZE`` and ``OTEL_BSP_SCHEDULE_DELAY``
    (2048 items, 1000 ms). Calling it again replaces the previous setup (its queues are
    flushed first), so nothing is exported twice. Spans and metrics of the instrumentation
    scopes in ``silenced_scopes`` are not recorded (default: the Agents SDK's and
    azure-core's own, which ours replace; pass ``()`` to keep them). A bad option raises
    ``ValueError`` or ``TypeError`` naming it, and the setup in force stays.

        telemetry = bot_telemetry.configure(service_name="bot")
        ...
        telemetry.shutdown()
    """
    global _current
    # Checked, and the variables read, before the setup in force is shut down: a refused
    # call leaves it exporting.
    _check_options(service_name, privacy, silenced_scopes, max_queue_size, schedule_delay_millis)
    explicit = span_exporters is not None and log_exporters is not None
    from_environment = (
        [] if explicit and metric_readers is not None else destinations_from_environment()
    )
    if _current is not None:
        _current.shutdown()

    attributes: dict[str, Any] = {
        "service.name": service_name,
        "service.namespace": service_namespace,
        "service.version": service_version,
        "service.instance.id": service_instance_id or _instance_id(),
        # So that `bot-telemetry serve` knows the policy was applied here already.
        RESOURCE_DISTRO_NAME: DISTRO_NAME,
    }
    attributes.update(resource_attributes or {})

    spans = named(span_exporters, from_environment, "spans")
    logs = named(log_exporters, from_environment, "logs")
    if any(isinstance(exporter, PostHogLogExporter) for _, exporter in logs):
        # So that `bot-telemetry serve` does not forward this process's events again.
        attributes[RESOURCE_POSTHOG_FORWARDED] = True
    created = Resource.create(attributes)
    resource = OnceHashedResource(created.attributes or {}, created.schema_url)
    readers = (
        list(metric_readers)
        if metric_readers is not None
        else [d.reader() for d in from_environment if d.reader is not None]
    )

    # No exemplars unless OTEL_METRICS_EXEMPLAR_FILTER asks for them: inside a turn (a
    # sampled span) the SDK's default offers every measurement to a reservoir, about 2 us
    # more per histogram record.
    exemplars = None if os.environ.get(EXEMPLAR_FILTER) else AlwaysOffExemplarFilter()
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=readers,
        shutdown_on_exit=False,
        exemplar_filter=exemplars,
    )
    accounting = ExportAccounting(meter_provider.get_meter("bot_telemetry.export"))
    accounting.install_log_folding()

    queue_options = {
        "max_queue_size": max_queue_size or env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048),
        "schedule_delay_millis": schedule_delay_millis or env_int("OTEL_BSP_SCHEDULE_DELAY", 1000),
    }
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for destination, span_exporter in spans:
        tracer_provider.add_span_processor(
            QueuedSpanProcessor(span_exporter, destination, accounting, **queue_options)
        )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    stored_too = any(not isinstance(exporter, PostHogLogExporter) for _, exporter in logs)
    for destination, log_exporter in logs:
        if stored_too and isinstance(log_exporter, PostHogLogExporter):
            # The events PostHog misses go elsewhere too: its lines say how to send them.
            accounting.set_remedy(destination, log_exporter.remedy)
        logger_provider.add_log_record_processor(
            QueuedLogRecordProcessor(log_exporter, destination, accounting, **queue_options)
        )

    propagate.set_global_textmap(propagator_from_environment())
    # Without a reader nothing would ever be exported: the API's no-op instruments then
    # cost the bot nothing, where the SDK's would still aggregate every measurement.
    installed_meters = meter_provider if readers else metrics.NoOpMeterProvider()
    providers.install(tracer_provider, logger_provider, installed_meters, silenced_scopes)
    # Turns hand their durations to the histograms at collection time when a reader collects
    # them and no exemplar wants the turn's span (benchmarks._metrics_cost).
    if not readers or bot_metrics.SCOPE in silenced_scopes:
        bot_metrics.record_durations(bot_metrics.OFF)
    elif exemplars is None:
        bot_metrics.record_durations(bot_metrics.AT_ONCE)
    else:
        bot_metrics.record_durations(bot_metrics.AT_COLLECTION)
    set_current_policy(privacy)
    _current = Telemetry(
        resource=resource,
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
        privacy=privacy or DEFAULT_POLICY,
        accounting=accounting,
        destinations=sorted({name for name, _ in [*spans, *logs]}),
    )
    return _current


def _check_options(
    service_name: object,
    privacy: object,
    silenced_scopes: object,
    max_queue_size: object,
    schedule_delay_millis: object,
) -> None:
    """Refuse what the SDK would take silently or fail on later, naming the option."""
    if not isinstance(service_name, str) or not service_name.strip():
        raise ValueError(
            f"configure(service_name={service_name!r}): expected the bot's name on the app map "
            'and in every backend, e.g. configure(service_name="my-bot")'
        )
    if privacy is not None and not isinstance(privacy, PrivacyPolicy):
        raise TypeError(
            f"configure(privacy={privacy!r}): expected a PrivacyPolicy, e.g. "
            "privacy=PrivacyPolicy(log_personal_information=True) (from bot_telemetry)"
        )
    if isinstance(silenced_scopes, str):
        raise TypeError(
            f"configure(silenced_scopes={silenced_scopes!r}): expected a list of scope names, "
            f"e.g. ({silenced_scopes!r},); a string would be taken letter by letter"
        )
    for name, value in (
        ("max_queue_size", max_queue_size),
        ("schedule_delay_millis", schedule_delay_millis),
    ):
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(
                f"configure({name}={value!r}): expected a whole number of at least 1, "
                "or None for the OTEL_BSP_* variable's value"
            )


def _flush_metrics_at_exit() -> None:
    """The last interval's metrics when the interpreter exits, as the export queues do for
    spans and logs: a script or a worker that never calls ``shutdown()`` still exports them.
    The providers are made with ``shutdown_on_exit=False`` (a provider ``configure`` replaced
    must not be shut down again, and the SDK's exit shutdown may wait 30 s)."""
    current = _current
    if current is None:
        return

    def flush() -> None:
        try:
            current.meter_provider.force_flush(EXIT_FLUSH_MILLIS)
        except Exception:  # the process is leaving: nothing more to do than say so
            logging.getLogger(__name__).warning("could not export the last metrics", exc_info=True)

    # On a thread of its own, so the exit waits EXIT_FLUSH_MILLIS at most: the exporters'
    # own timeouts (10 s by default) do not heed the flush's.
    flushing = threading.Thread(target=flush, name="bot-telemetry-exit-metrics", daemon=True)
    try:
        flushing.start()
    except RuntimeError:  # no new threads this late in the interpreter's shutdown
        flush()
        return
    flushing.join(EXIT_FLUSH_MILLIS / 1000)


atexit.register(_flush_metrics_at_exit)


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
