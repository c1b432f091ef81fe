"""What every interoperability test checks after a third-party client's run: its trace (two
linked traces, attributes, scope, resource), its five log records and three events, and its
metrics (a sum, a gauge, a histogram with its buckets), read back through the JSON API."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.support.waiting import wait_for


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def check_exported(
    url: str,
    sent: dict[str, Any],
    service: str,
    *,
    resource: dict[str, str],
    scope: str,
    prefix: str,
    non_finite: dict[str, Any],
    severity_only: str,
) -> None:
    trace = get(f"{url}/api/traces/{sent['trace_id']}")
    spans = {span["name"]: span for span in trace["spans"]}
    assert set(spans) == {"parent", "child"}
    parent, child = spans["parent"], spans["child"]
    assert (parent["kind"], child["kind"], child["status"]) == ("server", "client", "error")
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["attributes"]["s"] == "text" and parent["attributes"]["i"] == 42
    assert parent["attributes"]["strs"] == ["a", "b"]
    for key, expected in non_finite.items():
        assert parent["attributes"][key] == expected
    assert [event["name"] for event in parent["events"]] == ["turn.started"]
    (link,) = child["links"]
    assert (link["trace_id"], link["stored"]) == (sent["linked_trace_id"], True)
    assert link["attributes"] == {"link.kind": "follows"}
    assert parent["scope"] == {"name": scope, "version": "1.0.0"}
    (stored_resource,) = trace["resources"]
    assert stored_resource["service"] == service
    assert resource.items() <= stored_resource["attributes"].items()

    logs = trace["logs"]
    assert len(logs) == 5, logs
    events = sorted(log["event_name"] for log in logs if log["event_name"])
    custom = "JsCustomEvent" if prefix == "js" else "PyCustomEvent"
    assert events == sorted([custom, f"{prefix}.attribute_event", f"{prefix}.field_event"])
    (bare,) = [log for log in logs if log["severity"] == severity_only]
    assert bare["body"] is None and bare["event_name"] is None
    assert bare["time"] > "2020"  # its arrival or observed time, never 1970
    listed = get(f"{url}/api/events?limit=1000")
    assert sorted(e["name"] for e in listed if e["service"] == service) == events

    def metric(name: str) -> dict[str, Any]:
        found = get(f"{url}/api/metrics/{name}")
        (series,) = [s for s in found["series"] if s["service"] == service]
        return {**found, "one": series}

    wait_for(lambda: bool(get(f"{url}/api/metrics")), what="metrics")
    requests = metric(f"{prefix}.requests")
    assert requests["kind"] == "sum" and requests["one"]["latest"] == 3
    assert requests["one"]["attributes"] == {"route": "/x"}
    temperature = metric(f"{prefix}.temperature")
    assert temperature["kind"] == "gauge" and temperature["one"]["latest"] == 21.5
    latency = metric(f"{prefix}.latency")
    assert latency["kind"] == "histogram" and latency["unit"] == "ms"
    distribution = latency["one"]["distribution"]
    assert (distribution["count"], distribution["sum"]) == (5, 767)
    assert (distribution["min"], distribution["max"]) == (3, 700)
    assert sum(bucket["count"] for bucket in distribution["buckets"]) == 5
    assert len(distribution["buckets"]) > 2  # the SDK's default bounds, all kept
    assert 3 <= distribution["percentiles"]["p50"] <= 25
