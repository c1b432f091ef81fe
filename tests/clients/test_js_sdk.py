"""The OpenTelemetry JS SDK from npm (not our encoder) exporting to ``bot-telemetry serve``
over OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC, with and without gzip and a token:
every export succeeds and everything it sent is shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.clients.checks import check_exported
from tests.support.clients import send_js

TOKEN = "a-token-for-the-js-clients"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    store = tmp_path_factory.mktemp("js") / "telemetry.duckdb"
    with CollectorThread(ServerConfig(store=store, port=0, grpc_port=0)) as running:
        yield running


def endpoint(collector: CollectorThread, protocol: str) -> str:
    assert collector._running is not None and collector._running.grpc_url
    return collector._running.grpc_url if protocol == "grpc" else collector.url


@pytest.mark.parametrize("protocol", ["proto", "json", "grpc"])
@pytest.mark.parametrize("gzip", [False, True])
def test_the_js_sdk_exports_everything_and_it_is_all_shown(
    collector: CollectorThread, protocol: str, gzip: bool
) -> None:
    service = f"js-{protocol}{'-gzip' if gzip else ''}"
    status, sent, output = send_js(
        protocol, endpoint(collector, protocol), service, *(["--gzip"] if gzip else [])
    )
    assert status == 0 and sent["failures"] == [], output
    assert sent["exports"] >= 9  # three spans, five records, one metrics collection
    check_exported(
        collector.url,
        sent,
        service,
        resource={"service.version": "2.3.4", "deployment.environment": "test"},
        scope="send.js",
        prefix="js",
        # The JSON exporter writes NaN and Infinity as null (JSON.stringify); protobuf keeps them.
        non_finite={"nan": None, "inf": None}
        if protocol == "json"
        else {"nan": "NaN", "inf": "Infinity"},
        severity_only="WARN",
    )


@pytest.mark.parametrize("protocol", ["proto", "grpc"])
def test_the_token_rule_holds_for_js_clients(tmp_path: Path, protocol: str) -> None:
    config = ServerConfig(store=tmp_path / "s.duckdb", port=0, grpc_port=0, token=TOKEN)
    with CollectorThread(config) as collector:
        refused, sent, _ = send_js(protocol, endpoint(collector, protocol), "js-no-token")
        assert refused == 1 and sent["failures"]
        accepted, sent, output = send_js(
            protocol, endpoint(collector, protocol), "js-token", "--token", TOKEN
        )
        assert accepted == 0 and sent["failures"] == [], output
