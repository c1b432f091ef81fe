"""``bot-telemetry serve --privacy FILE``: the policy for telemetry that did not pass a bot's.
Before it, serve always applied the default (closed) policy to other services and client
events: an owner whose users consented could not keep a service's exception messages, nor
add a personal key of their own to ``deny_keys``. Real serve processes, a service's real
OpenTelemetry SDK exporters and a page's Sunbird bundle, every stored row read back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from bot_telemetry.cli import main
from tests.cli.test_serve_operator import assert_one_line_error
from tests.receive.sunbird.events import bundle, event
from tests.receive.sunbird.test_http import post
from tests.receive.test_other_services import stored
from tests.support.ports import free_port
from tests.support.posthog import PostHogServer
from tests.support.processes import run_cli_here, running
from tests.support.waiting import wait_for
from tests.web.test_posthog import posthog_backfill

MESSAGE = "no account GB82WEST12345698765432 for Grace"


def send_span(url: str) -> None:
    """A payments service's SERVER span: an exception, its own account attribute."""
    resource = Resource.create({"service.name": "payments"})
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    with tracing.get_tracer("payments").start_as_current_span(
        "POST /pay", kind=SpanKind.SERVER, record_exception=False
    ) as span:
        span.set_attributes({"customer.account": "ACCT-20417", "db.name": "payments-db"})
        span.record_exception(ValueError(MESSAGE))
    tracing.shutdown()  # the span exported, answered, before this returns


def serve_with(
    tmp_path: Path,
    policy: str,
    name: str = "privacy.json",
    posthog: PostHogServer | None = None,
) -> tuple[Path, str]:
    """Run a serve process with ``policy`` as its --privacy file, send to it; its store.
    With ``posthog``, serve forwards to it, and the page's event has arrived there."""
    (tmp_path / name).write_text(policy)
    store, port = tmp_path / "store.duckdb", free_port()
    args = ["-m", "bot_telemetry.cli", "serve", "--store", str(store), "--no-grpc"]
    args += ["--port", str(port), "--privacy", str(tmp_path / name)]
    url = f"http://127.0.0.1:{port}"
    env = {} if posthog is None else posthog_environment(posthog)
    with running(args, ready_url=f"{url}/api/health", env=env):
        send_span(url)
        feedback = event("FEEDBACK", edata={"rating": 4, "commenttxt": "mail me a@b.co"})
        failed = {**event("FEEDBACK", edata={"rating": 5}), "ets": "soon"}  # kept as failed
        status, answer, _ = post(url, bundle([feedback, failed]))
        assert status == 200 and answer["result"]["stored"] == 1, answer
        assert answer["result"]["failed"] == 1, answer
        if posthog is not None:
            wait_for(lambda: feedback_events(posthog), timeout=20, what="FEEDBACK forwarded")
    return store, stored(store)  # client events are log records: in it too


def posthog_environment(posthog: PostHogServer) -> dict[str, str]:
    return {"POSTHOG_API_KEY": posthog.api_key, "POSTHOG_HOST": posthog.url}


def feedback_events(posthog: PostHogServer) -> dict[str, Mapping[str, object]]:
    """The page's FEEDBACK events PostHog has, by uuid: their properties."""
    return {r.uuid or "": r.properties for r in posthog.received() if r.name == "FEEDBACK"}


def test_an_opened_policy_keeps_a_services_exception_message_redacted(tmp_path: Path) -> None:
    policy = {"log_personal_information": True, "deny_keys": ["customer.account"]}
    _, found = serve_with(tmp_path, json.dumps(policy))
    assert "no account [REDACTED] for Grace" in found  # the IBAN replaced, the rest kept
    assert "GB82WEST12345698765432" not in found
    # deny_keys: the service's own personal key is left out, its other attributes kept.
    assert "customer.account" not in found and "ACCT-20417" not in found
    assert "payments-db" in found
    # The page's client events get the same policy: its comment kept, redacted.
    assert "mail me [REDACTED]" in found and "a@b.co" not in found
    assert '"sunbird.edata.rating":4' in found and '"rating":5' in found


def test_posthog_gets_what_serve_stores_live_and_backfilled_under_its_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forwarder and the backfill applied the default (closed) policy whatever --privacy
    said: a comment serve kept, redacted, was left out of what PostHog got."""
    posthog = PostHogServer()
    try:
        policy = {"log_personal_information": True, "deny_keys": ["customer.account"]}
        store, found = serve_with(tmp_path, json.dumps(policy), posthog=posthog)
        assert "mail me [REDACTED]" in found
        (live,) = feedback_events(posthog).values()
        assert live["sunbird.edata.commenttxt"] == "mail me [REDACTED]", live
        assert b"a@b.co" not in posthog.wire()

        for name, value in posthog_environment(posthog).items():
            monkeypatch.setenv(name, value)
        args = ["posthog", "backfill", "--store", str(store), "--since", "1d"]
        assert main([*args, "--privacy", str(tmp_path / "privacy.json")]) == 0
        historical = [r for r in posthog.received() if r.historical and r.name == "FEEDBACK"]
        (again,) = historical
        assert again.uuid in feedback_events(posthog)
        assert again.properties == live  # the same event, the same properties
        assert b"a@b.co" not in posthog.wire()
    finally:
        posthog.close()


def test_the_backfill_an_outage_line_gives_sends_under_serves_policy(tmp_path: Path) -> None:
    """The line named the store alone: run as given, it sent history under the default
    policy, without the comment PostHog would have had live."""
    posthog = PostHogServer()
    try:
        (tmp_path / "privacy.json").write_text('{"log_personal_information": true}')
        store, port = tmp_path / "store.duckdb", free_port()
        args = ["-m", "bot_telemetry.cli", "serve", "--store", str(store), "--no-grpc"]
        args += ["--port", str(port), "--privacy", str(tmp_path / "privacy.json")]
        url = f"http://127.0.0.1:{port}"
        env = {**posthog_environment(posthog), "POSTHOG_RETRY_SECONDS": "0"}
        posthog.down()
        with running(args, ready_url=f"{url}/api/health", env=env) as process:
            feedback = event("FEEDBACK", edata={"commenttxt": "mail me a@b.co"})
            status, answer, _ = post(url, bundle([feedback]))
            assert status == 200 and answer["result"]["stored"] == 1, answer
            wait_for(lambda: "posthog backfill" in process.output(), timeout=20, what="outage line")
        (line, *_) = [line for line in process.output().splitlines() if "posthog backfill" in line]
        assert f"--privacy {tmp_path / 'privacy.json'}" in line, line
        posthog.up()
        assert posthog_backfill(line, posthog) == 0
        (sent,) = feedback_events(posthog).values()
        assert sent["sunbird.edata.commenttxt"] == "mail me [REDACTED]", sent
    finally:
        posthog.close()


def test_a_bad_policy_file_is_refused_by_the_backfill_before_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_test_key")
    monkeypatch.setenv("POSTHOG_HOST", "http://127.0.0.1:9")  # never asked
    (tmp_path / "privacy.json").write_text('{"log_personal_info": true}')
    store = tmp_path / "s.duckdb"
    args = ["posthog", "backfill", "--store", str(store), "--privacy"]
    result = run_cli_here(*args, str(tmp_path / "privacy.json"))
    assert_one_line_error(result, f"--privacy {tmp_path / 'privacy.json'}", 2)
    assert "unknown field 'log_personal_info'" in result.stderr
    assert not store.exists() and not list(tmp_path.glob("*.posthog-backfill.*"))


def test_a_toml_policy_file_is_read_alike(tmp_path: Path) -> None:
    toml = 'deny_keys = ["customer.account", "sunbird.edata.rating"]\n'
    _, found = serve_with(tmp_path, toml, "privacy.toml")
    assert "ACCT-20417" not in found and "payments-db" in found
    assert "Grace" not in found and "mail me" not in found  # personal data still closed
    # A client event's number, denied too: on the stored event and the failed one's copy.
    assert "rating" not in found


def test_a_bad_policy_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    store = tmp_path / "s"
    for document, said in (
        ('{"deny_keys": "customer.account"}', "deny_keys: expected a list of strings"),
        ('{"deny_keys": ["a", 7]}', "deny_keys[1]: expected a string, got the number 7"),
        ('{"log_personal_info": true}', "unknown field 'log_personal_info'"),
        ('{"log_personal_information": "yes"}', "log_personal_information: expected true"),
        ('{"redact": ["emails"]}', "redact: unknown redaction pattern(s) ['emails']"),
        ('{"extra_patterns": ["(a"]}', "extra_patterns: '(a' is not a regular expression"),
        ('{"max_value_length": 0}', "max_value_length: expected a number more than 0"),
        ('{"deny_keys": [', "privacy.json: not JSON"),
    ):
        (tmp_path / "privacy.json").write_text(document)
        result = run_cli_here(
            "serve", "--store", str(store), "--privacy", str(tmp_path / "privacy.json")
        )
        assert_one_line_error(result, f"--privacy {tmp_path / 'privacy.json'}", 2)
        assert said in result.stderr, result.stderr
        assert not store.exists()  # refused before anything started
    missing = run_cli_here("serve", "--store", str(store), "--privacy", str(tmp_path / "none.json"))
    assert_one_line_error(missing, "none.json: cannot read it", 2)


def test_a_policy_for_a_reader_that_receives_nothing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "privacy.json").write_text('{"deny_keys": ["customer.account"]}')
    args = ["serve", "--store", str(tmp_path / "s"), "--read-only"]
    result = run_cli_here(*args, "--privacy", str(tmp_path / "privacy.json"))
    assert_one_line_error(result, "a --read-only serve receives none", 2)
