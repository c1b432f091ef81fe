"""A service other than the bot pointed at ``serve`` (its own OpenTelemetry SDK, no bot
policy on the way) was stored as it sent: a user's email as ``enduser.id``, the client's IP
address, a query with a mobile number, an exception's message quoting an IBAN and a name,
a log line with an email. ``serve`` now applies its policy to them; a bot's process
(``configure()`` marks its resource) is stored as its own policy made it. Real SDK
exporters over OTLP/HTTP to a real ``serve``, then every stored row is read back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from bot_telemetry.contract import DISTRO_NAME, RESOURCE_DISTRO_NAME
from bot_telemetry.privacy import PrivacyPolicy
from bot_telemetry.privacy.current import set_current_policy
from bot_telemetry.store import Store
from bot_telemetry.web import CollectorThread, ServerConfig

#: What a service hands over about its user, none of which may be stored.
SECRETS = ["grace@example.org", "49.36.128.17", "9876543210", "GB82WEST12345698765432", "Grace"]
#: What the app map and traces need, kept.
KEPT = ["api.example.org", "payments-db", "/pay", "ValueError", "refund failed for [REDACTED]"]


def send(url: str, service: str, marked: bool) -> None:
    """A SERVER span with an exception, a log record and a metric, as a service's own SDK
    (``marked``: as a bot's ``configure()``) sends them."""
    attributes = {"service.name": service, "telemetry.sdk.language": "python"}
    if marked:
        attributes[RESOURCE_DISTRO_NAME] = DISTRO_NAME
    resource = Resource.create(attributes)
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    with tracing.get_tracer("payments").start_as_current_span(
        "POST /pay", kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
    ) as span:
        span.set_attributes(
            {
                "enduser.id": "grace@example.org",
                "client.address": "49.36.128.17",
                "http.target": "/pay?mobile=9876543210",
                "url.query": "mobile=9876543210",
                "server.address": "api.example.org",
                "db.name": "payments-db",
            }
        )
        error = ValueError("no account GB82WEST12345698765432 for Grace")
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    tracing.shutdown()

    logging_ = LoggerProvider(resource=resource)
    logging_.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs"))
    )
    logging_.get_logger("payments").emit(
        body="refund failed for grace@example.org", attributes={"user.id": "Grace"}
    )
    logging_.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{url}/v1/metrics"), export_interval_millis=3_600_000
    )
    metering = MeterProvider(resource=resource, metric_readers=[reader])
    metering.get_meter("payments").create_counter("refunds").add(
        1, {"user.email": "grace@example.org", "http.route": "/pay"}
    )
    metering.shutdown()  # one last export, answered before this returns


def stored(store: Path) -> str:
    """Every stored row, as text."""
    db = Store.open(store, read_only=True)
    try:
        with db.reader() as connection:
            rows: list[str] = []
            for table in ("spans", "span_events", "logs", "metric_points"):
                query = f"SELECT t::VARCHAR FROM {table} t"
                rows += [row[0] for row in connection.execute(query).fetchall()]
    finally:
        db.close()
    return "\n".join(rows)


@pytest.fixture
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    set_current_policy(getattr(request, "param", None))
    path = tmp_path / "store.duckdb"
    try:
        with CollectorThread(ServerConfig(store=path, port=0)) as running:
            send(running.url, "payments", marked=False)
        yield path
    finally:
        set_current_policy(None)


def test_another_service_is_stored_without_its_users_data(store: Path) -> None:
    found = stored(store)
    assert found.count("POST /pay") == 1 and "refunds" in found
    for secret in SECRETS:
        assert secret not in found, secret
    for kept in KEPT:
        assert kept in found, kept


@pytest.mark.parametrize("store", [PrivacyPolicy(log_personal_information=True)], indirect=True)
def test_an_opened_policy_keeps_their_text_redacted(store: Path) -> None:
    found = stored(store)
    assert "no account [REDACTED] for Grace" in found  # the message, its IBAN redacted
    assert "grace@example.org" not in found and "9876543210" not in found


def test_a_bots_telemetry_is_stored_as_its_policy_made_it(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        send(running.url, "bot", marked=True)
    found = stored(path)
    for secret in SECRETS:
        assert secret in found, secret


def test_serve_config_privacy_is_the_policy_whatever_the_process_has(tmp_path: Path) -> None:
    """``ServerConfig(privacy=...)``: the policy of the collector, not of its process."""
    path = tmp_path / "store.duckdb"
    opened = PrivacyPolicy(
        log_personal_information=True,
        deny_keys=frozenset({"db.name"}),
        safe_keys=frozenset({"enduser.id"}),  # the owner's word: stored as sent
    )
    with CollectorThread(ServerConfig(store=path, port=0, privacy=opened)) as running:
        send(running.url, "payments", marked=False)
    found = stored(path)
    assert "no account [REDACTED] for Grace" in found  # kept, as the config's policy says
    assert "payments-db" not in found and "api.example.org" in found  # its deny_keys
    assert '"enduser.id":"grace@example.org"' in found  # its safe_keys


def test_a_services_resource_loses_what_names_its_user(tmp_path: Path) -> None:
    """A mobile app's resource names its user (``user.*``, ``enduser.id``), the account it
    runs as and the phone ("Grace's iPhone", its device id): left out, as a span's user
    attributes are; the policy's deny_keys apply there too, but never to ``service.name``."""
    path = tmp_path / "store.duckdb"
    policy = PrivacyPolicy(deny_keys=frozenset({"app.tenant", "service.name"}))
    resource = Resource.create(
        {
            "service.name": "shop-app",
            "user.email": "grace@example.org",
            "enduser.id": "grace-7",
            "process.owner": "gracehopper",
            "device.id": "31B3A1C0-4B1E-4C7E-9B61-5F1C2A4D2E11",
            "device.model.identifier": "iPhone15,2",
            "host.name": "Graces-iPhone",
            "app.tenant": "hopper-family",
            "os.type": "darwin",
        }
    )
    with CollectorThread(ServerConfig(store=path, port=0, privacy=policy)) as running:
        tracing = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=f"{running.url}/v1/traces")
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        tracing.get_tracer("shop").start_span("checkout").end()
        tracing.shutdown()
    db = Store.open(path, read_only=True)
    try:
        with db.reader() as connection:
            rows = connection.execute("SELECT t::VARCHAR FROM resources t").fetchall()
            rows += connection.execute("SELECT t::VARCHAR FROM spans t").fetchall()
    finally:
        db.close()
    found = "\n".join(row[0] for row in rows)
    assert "checkout" in found and "shop-app" in found and "iPhone15,2" in found, found
    for secret in ("grace", "31B3A1C0", "Graces-iPhone", "hopper-family"):
        assert secret not in found, secret


def test_a_servers_host_name_is_kept(tmp_path: Path) -> None:
    """A server's resource (no ``browser.*`` or ``device.*``): its host is the deployment's."""
    path = tmp_path / "store.duckdb"
    resource = Resource.create({"service.name": "payments", "host.name": "pay-vm-3"})
    with CollectorThread(ServerConfig(store=path, port=0)) as running:
        tracing = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=f"{running.url}/v1/traces")
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        tracing.get_tracer("pay").start_span("pay").end()
        tracing.shutdown()
    db = Store.open(path, read_only=True)
    try:
        with db.reader() as connection:
            rows = connection.execute("SELECT t::VARCHAR FROM resources t").fetchall()
    finally:
        db.close()
    assert "pay-vm-3" in "\n".join(row[0] for row in rows)
