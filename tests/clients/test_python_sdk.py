"""The official Python OpenTelemetry SDK in a virtualenv of its own (nothing of ours in it)
exporting to ``bot-telemetry serve`` over OTLP/gRPC and OTLP/HTTP, with and without gzip and
a token: every export succeeds and everything it sent is shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.clients.checks import check_exported
from tests.support.clients import python_sdk, run_client, send_python

TOKEN = "a-token-for-the-python-clients"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    store = tmp_path_factory.mktemp("py") / "telemetry.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0, grpc_port=0)) as running:
        yield running


def endpoint(collector: CollectorThread, protocol: str) -> str:
    assert collector._running is not None and collector._running.grpc_url
    return collector._running.grpc_url if protocol == "grpc" else collector.url


def test_the_client_runs_without_bot_telemetry() -> None:
    # As send_python runs it: isolated, from the repository's root.
    status, _, output = run_client([python_sdk(), "-I", "-c", "import bot_telemetry"])
    assert status == 1 and "No module named 'bot_telemetry'" in output


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("gzip", [False, True])
def test_the_python_sdk_exports_everything_and_it_is_all_shown(
    collector: CollectorThread, protocol: str, gzip: bool
) -> None:
    service = f"py-{protocol}{'-gzip' if gzip else ''}"
    status, sent, output = send_python(
        protocol, endpoint(collector, protocol), service, *(["--gzip"] if gzip else [])
    )
    assert status == 0 and sent["failures"] == [], output
    check_exported(
        collector.url,
        sent,
        service,
        resource={"service.version": "3.1.0", "host.name": "test-host"},
        scope="send.py",
        prefix="py",
        non_finite={"nan": "NaN", "inf": "-Infinity"},
        severity_only="ERROR",
    )


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_the_token_rule_holds_for_python_clients(tmp_path: Path, protocol: str) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0, token=TOKEN)
    with CollectorThread(config) as collector:
        refused, sent, _ = send_python(protocol, endpoint(collector, protocol), "py-no-token")
        assert refused == 1 and sent["failures"]
        accepted, sent, output = send_python(
            protocol, endpoint(collector, protocol), "py-token", "--token", TOKEN
        )
        assert accepted == 0 and sent["failures"] == [], output
