from __future__ import annotations

import logging
import re
import threading

import pytest
from opentelemetry import _logs as logs
from opentelemetry import metrics, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource

from bot_telemetry import configure
from bot_telemetry.export.azure_monitor import WithoutCustomEventSpanEvents
from bot_telemetry.export.destinations import destinations_from_environment, env_int
from tests.support.telemetry import capture


def test_resource_carries_service_identity(telemetry):
    with trace.get_tracer("t").start_as_current_span("work"):
        pass
    (span,) = telemetry.spans()
    resource = span.resource.attributes
    assert resource["service.name"] == "bot"
    assert resource["service.namespace"] == "bot-telemetry"
    assert resource["service.version"] == "0.0.0"
    assert resource["service.instance.id"]


def test_resource_hashes_and_compares_as_a_plain_resource(telemetry):
    # The OTLP encoders group items by resource; ours must group with an equal plain one.
    with trace.get_tracer("test").start_as_current_span("work"):
        pass
    resource = telemetry.spans()[0].resource
    plain = Resource(dict(resource.attributes), resource.schema_url)
    assert resource == plain
    assert hash(resource) == hash(plain)
    assert {plain: "grouped"}[resource] == "grouped"


def test_configuring_twice_exports_once_to_the_new_exporters():
    first = capture("first")
    tracer = trace.get_tracer("t")  # obtained before the second configure
    second = capture("second")
    with tracer.start_as_current_span("after"):
        pass
    try:
        assert [s.name for s in second.spans()] == ["after"]
        assert second.spans()[0].resource.attributes["service.name"] == "second"
        assert first.span_exporter.get_finished_spans() == ()
    finally:
        second.handle.shutdown()


def test_log_records_follow_the_current_handle(telemetry):
    logs.get_logger("t").emit(body="hello", attributes={"k": "v"})
    (record,) = telemetry.logs()
    assert record.log_record.body == "hello"


def test_default_exports_to_the_embedded_collector(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    (destination,) = destinations_from_environment()
    assert destination.name == "embedded collector http://127.0.0.1:4318"
    assert isinstance(destination.spans, OTLPSpanExporter)
    assert destination.spans._endpoint == "http://127.0.0.1:4318/v1/traces"


def test_otlp_endpoint_variable_selects_otlp(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    (destination,) = destinations_from_environment()
    assert destination.name == "OTLP http://127.0.0.1:9"
    assert destination.spans._endpoint == "http://127.0.0.1:9/v1/traces"


@pytest.mark.parametrize("endpoint", ["otel-collector:4318", "127.0.0.1:4318", "grpc://h:4317"])
def test_an_otlp_endpoint_that_is_not_an_http_url_is_a_clear_error(monkeypatch, endpoint):
    """The SDK took it and failed every export, an outage said to end "when the backend
    answers again", which it never would."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    with pytest.raises(
        ValueError, match=f"^OTEL_EXPORTER_OTLP_ENDPOINT={re.escape(repr(endpoint))} is not an"
    ):
        destinations_from_environment()


def test_a_connection_string_that_is_not_one_names_the_variable(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "garbage")
    with pytest.raises(ValueError, match=r"^APPLICATIONINSIGHTS_CONNECTION_STRING is not an"):
        destinations_from_environment()


@pytest.mark.parametrize("value", ["0", "-5", "many", "1.5"])
def test_a_queue_size_that_is_not_a_positive_whole_number_is_logged_and_the_default_used(
    monkeypatch, caplog, value
):
    """-5 and 0 became a queue of one item, silently: nearly every span dropped."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", value)
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
        assert env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048) == 2048
    assert f"OTEL_BSP_MAX_QUEUE_SIZE={value!r} is not a positive whole number" in caplog.text
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "3")
    assert env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048) == 3


def test_connection_string_selects_azure_monitor(monkeypatch):
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        "IngestionEndpoint=http://127.0.0.1:9/",
    )
    (destination,) = destinations_from_environment()
    assert destination.name == "Azure Monitor"
    assert isinstance(destination.spans, WithoutCustomEventSpanEvents)
    assert isinstance(destination.spans.exporter, AzureMonitorTraceExporter)


def _reader_threads() -> int:
    return sum(t.name == "OtelPeriodicExportingMetricReader" for t in threading.enumerate())


def test_no_metric_reader_is_started_that_nothing_reads(monkeypatch):
    """A periodic reader starts its thread when it is made; one never given to a MeterProvider
    (metrics switched off, or readers passed explicitly) would warn on every interval."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    before = _reader_threads()
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    (destination,) = destinations_from_environment()
    assert destination.reader is None and destination.spans is not None
    monkeypatch.delenv("OTEL_METRICS_EXPORTER")
    (destination,) = destinations_from_environment()
    assert _reader_threads() == before, "a reader was made before anything asked for it"
    assert destination.reader is not None
    reader = destination.reader()
    try:
        assert _reader_threads() == before + 1
    finally:
        reader.shutdown()


def test_otel_propagators_is_honoured(monkeypatch):
    monkeypatch.setenv("OTEL_PROPAGATORS", "baggage")
    handle = capture("bot")
    try:
        fields = propagate.get_global_textmap().fields
        assert "baggage" in fields and "traceparent" not in fields
    finally:
        handle.handle.shutdown()


def test_unknown_propagator_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext,nonsense")
    with pytest.raises(ValueError, match="nonsense"):
        configure("bot", span_exporters=[], log_exporters=[], metric_readers=[])


def _silenced_capture(silenced: tuple[str, ...]):
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    handle = configure(
        "bot",
        span_exporters=[spans],
        log_exporters=[InMemoryLogRecordExporter()],
        metric_readers=[reader],
        silenced_scopes=silenced,
    )
    return handle, spans, reader


def test_a_silenced_scope_records_nothing_and_its_children_join_the_nearest_recorded_span():
    # Obtained before configure, as a library does at import (the Agents SDK's tracer does).
    noisy, ours = trace.get_tracer("noisy.sdk"), trace.get_tracer("ours")
    counter = metrics.get_meter("noisy.sdk").create_counter("noisy.turns")
    handle, spans, reader = _silenced_capture(("noisy.sdk",))
    try:
        with ours.start_as_current_span("turn") as turn:
            with noisy.start_as_current_span("noisy.process") as silent:
                assert not silent.is_recording()
                assert silent.get_span_context() == turn.get_span_context()
                with ours.start_as_current_span("storage"):
                    pass
                silent.set_attribute("user.id", "raw")  # nowhere to go
        counter.add(1)
        assert handle.force_flush(10_000)
        finished = {s.name: s for s in spans.get_finished_spans()}
        assert set(finished) == {"turn", "storage"}
        storage = finished["storage"]
        assert storage.parent is not None
        assert storage.parent.span_id == finished["turn"].context.span_id
        data = reader.get_metrics_data()
        names = [
            m.name
            for r in (data.resource_metrics if data else [])
            for s in r.scope_metrics
            for m in s.metrics
        ]
        assert "noisy.turns" not in names
    finally:
        handle.shutdown()

    # Configured again without silencing: the same tracer and counter record again.
    handle, spans, reader = _silenced_capture(())
    try:
        with noisy.start_as_current_span("noisy.process"):
            pass
        counter.add(1)
        assert handle.force_flush(10_000)
        assert [s.name for s in spans.get_finished_spans()] == ["noisy.process"]
        data = reader.get_metrics_data()
        assert data is not None
        assert "noisy.turns" in [
            m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics
        ]
    finally:
        handle.shutdown()


@pytest.mark.parametrize(
    "variable", ["OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER"]
)
def test_an_exporter_value_other_than_otlp_or_none_is_logged_and_ignored(
    monkeypatch, caplog, variable
):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    monkeypatch.setenv(variable, "console")
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
        (destination,) = destinations_from_environment()
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"{variable}='console' is not supported and is ignored" in line
    assert "'otlp'" in line and "'none'" in line
    # Ignored: the signal still goes to the destination.
    assert destination.spans is not None and destination.logs is not None
    assert destination.reader is not None


def test_otlp_and_none_are_taken_without_a_word(monkeypatch, caplog):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "None")
    with caplog.at_level(logging.WARNING, logger="bot_telemetry.export"):
        (destination,) = destinations_from_environment()
    assert caplog.records == []
    assert destination.spans is not None and destination.logs is None


@pytest.mark.parametrize(
    ("options", "says"),
    [
        # The app map showed "unknown_service:python" for the bot.
        ({"service_name": ""}, r"^configure\(service_name=''\): expected the bot's name"),
        ({"service_name": None}, r"^configure\(service_name=None\): expected the bot's name"),
        # botbuilder's flag habit (TelemetryMiddleware(client, True)): accepted as the
        # policy, a bool with none of a policy's methods.
        (
            {"privacy": True},
            r"^configure\(privacy=True\): expected a PrivacyPolicy, e\.g\. "
            r"privacy=PrivacyPolicy\(log_personal_information=True\)",
        ),
        # A string is a collection of its letters: nothing was silenced.
        (
            {"silenced_scopes": "microsoft_agents"},
            r"^configure\(silenced_scopes='microsoft_agents'\): expected a list of scope "
            r"names, e\.g\. \('microsoft_agents',\)",
        ),
        ({"max_queue_size": -5}, r"^configure\(max_queue_size=-5\): expected a whole number"),
        # '<' not supported between instances of 'str' and 'int', from the SDK.
        ({"max_queue_size": "100"}, r"^configure\(max_queue_size='100'\): expected a whole"),
        # Taken: a delay of -1 ms.
        (
            {"schedule_delay_millis": -1},
            r"^configure\(schedule_delay_millis=-1\): expected a whole number",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_it_and_the_setup_in_force_stays(options, says):
    """Refused before anything changes: the previous configure() still exports (a refused
    call used to shut it down first, and the bot went on with no telemetry at all)."""
    current = capture("bot")
    try:
        given = {"service_name": "bot", **options}
        with pytest.raises((TypeError, ValueError), match=says):
            configure(**given, span_exporters=[], log_exporters=[], metric_readers=[])
        with trace.get_tracer("t").start_as_current_span("still exported"):
            pass
        assert [span.name for span in current.spans()] == ["still exported"]
    finally:
        current.handle.shutdown()


def test_a_bad_variable_on_a_second_configure_leaves_the_first_exporting(monkeypatch):
    """The variables are read before the setup in force is shut down, as the options are."""
    current = capture("bot")
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4318")
        with pytest.raises(ValueError, match=r"^OTEL_EXPORTER_OTLP_ENDPOINT"):
            configure("bot")
        with trace.get_tracer("t").start_as_current_span("still exported"):
            pass
        assert [span.name for span in current.spans()] == ["still exported"]
    finally:
        current.handle.shutdown()
