"""curl posting OTLP/JSON documents shaped like the OTLP specification's own examples
(opentelemetry-proto's examples/: upper-case hex ids, 64-bit integers as strings, scope
attributes, kvlist bodies, an exponential histogram), plain and gzip. Ours, in tests/clients/
otlp_json/, written for these tests."""

from __future__ import annotations

import gzip
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry.web import CollectorThread, ServerConfig
from tests.support.clients import CLIENTS, curl

EXAMPLES = CLIENTS / "otlp_json"
TRACE_ID = "7a3c0e9f1b2d4c6e8f0a1b2c3d4e5f60"


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post_with_curl(
    url: str, path: str, document: Path, compressed: bool, tmp: Path
) -> tuple[int, str]:
    body = document
    headers = ["-H", "Content-Type: application/json"]
    if compressed:
        body = tmp / f"{document.name}.gz"
        body.write_bytes(gzip.compress(document.read_bytes()))
        headers += ["-H", "Content-Encoding: gzip"]
    result = subprocess.run(
        [
            curl(),
            "-sS",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            *headers,
            "--data-binary",
            f"@{body}",
            f"{url}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answer, status = result.stdout.rsplit("\n", 1)
    return int(status), answer


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "gzip"])
def posted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A collector that took the four documents from curl."""
    tmp = tmp_path_factory.mktemp("curl")
    with CollectorThread(ServerConfig(store=tmp / "telemetry.duckdb", port=0)) as collector:
        for name, path in (
            ("trace", "/v1/traces"),
            ("logs", "/v1/logs"),
            ("events", "/v1/logs"),
            ("metrics", "/v1/metrics"),
        ):
            status, answer = post_with_curl(
                collector.url, path, EXAMPLES / f"{name}.json", request.param, tmp
            )
            assert (status, json.loads(answer)) == (200, {}), (name, answer)
        yield collector.url


def test_the_trace_and_its_log_record(posted: str) -> None:
    trace = get(f"{posted}/api/traces/{TRACE_ID}")
    (span,) = trace["spans"]
    assert (span["name"], span["kind"], span["duration_ms"]) == (
        "POST /cart/checkout",
        "server",
        420.0,
    )
    assert span["parent_span_id"] == "a1b2c3d4e5f60717"  # upper-case hex, stored lower-case
    assert span["attributes"] == {"http.route": "/cart/checkout", "http.response.status_code": 201}
    assert span["scope"] == {"name": "checkout.http", "version": "0.9.0"}
    assert trace["resources"][0]["attributes"]["service.version"] == "5.0.1"
    (log,) = trace["logs"]
    assert (log["severity"], log["body"], log["span_id"]) == (
        "Information",
        "cart checked out",
        "a1b2c3d4e5f60718",
    )
    assert log["attributes"] == {
        "cart.id": "c-42",
        "cart.paid": True,
        "cart.items": 3,
        "cart.total": 59.85,
        "cart.skus": ["sku-1", "sku-2"],
        "cart.shipping": {"method": "post"},
    }


def test_the_event(posted: str) -> None:
    (event,) = get(f"{posted}/api/events")
    assert (event["service"], event["name"]) == ("storefront", "storefront.product_view")
    assert event["properties"] == {"event.source": "web"}


def test_the_metrics(posted: str) -> None:
    listed = {m["name"]: (m["kind"], m["unit"]) for m in get(f"{posted}/api/metrics")}
    assert listed == {
        "checkout.orders": ("sum", "{order}"),
        "checkout.queue_length": ("gauge", "{item}"),
        "checkout.duration": ("histogram", "s"),
        "checkout.basket_size": ("exponential_histogram", "{item}"),
    }
    orders = get(f"{posted}/api/metrics/checkout.orders")["series"][0]
    assert (orders["latest"], orders["temporality"], orders["monotonic"]) == (7, "delta", True)
    assert get(f"{posted}/api/metrics/checkout.queue_length")["series"][0]["latest"] == 12
    duration = get(f"{posted}/api/metrics/checkout.duration")["series"][0]["distribution"]
    assert [(b["high"], b["count"]) for b in duration["buckets"]] == [(0.5, 1), (1.0, 2), (None, 1)]
    assert (duration["count"], duration["sum"], duration["min"], duration["max"]) == (
        4,
        3.5,
        0.25,
        1.5,
    )
    basket = get(f"{posted}/api/metrics/checkout.basket_size")["series"][0]["distribution"]
    # scale 0: zero bucket, then (2, 4] and (4, 8]
    assert [(b["high"], b["count"]) for b in basket["buckets"]] == [
        (0.0, 1),
        (4.0, 1),
        (8.0, 3),
        (None, 0),
    ]
    assert basket["count"] == 5 and basket["max"] == 7
