"""deploy/collector: the OpenTelemetry Collector configuration, base and backend overlays."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from bot_telemetry import contract
from bot_telemetry.export import destinations as configuration

from .files import (
    BASE_CONFIG,
    COLLECTOR,
    OVERLAYS,
    collector_config,
    env_references,
    expand,
    load,
)

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")

#: Component types by their current names in otelcol-contrib (0.144+: otlp_grpc/otlp_http
#: replaced the deprecated exporter aliases otlp/otlphttp; the receiver is still otlp).
CURRENT_TYPES = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch", "tail_sampling"},
    "exporters": {"otlp_grpc", "otlp_http", "prometheus", "debug", "azuremonitor", "clickhouse"},
    "connectors": {"spanmetrics", "servicegraph"},
    "extensions": {"health_check"},
}

#: Each connector: the signal it consumes (as an exporter) and the one it produces.
CONNECTOR_SIGNALS = {"spanmetrics": ("traces", "metrics"), "servicegraph": ("traces", "metrics")}

BACKEND_OVERLAYS = {"jaeger.yaml", "tempo.yaml", "azure-monitor.yaml"}


def variants() -> list[tuple[str, dict[str, Any]]]:
    """The base alone and the base with each overlay, merged as the collector merges them."""
    found = [("otelcol.yaml", collector_config(BASE_CONFIG))]
    for path in OVERLAYS:
        found.append((f"otelcol.yaml+{path.name}", collector_config(BASE_CONFIG, path)))
    return found


VARIANTS = variants()
IDS = [name for name, _ in VARIANTS]


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def signal(pipeline_id: str) -> str:
    return pipeline_id.split("/", 1)[0]


def test_there_is_a_base_and_an_overlay_per_backend() -> None:
    names = {path.name for path in OVERLAYS}
    assert BACKEND_OVERLAYS <= names, names


@pytest.mark.parametrize("path", [BASE_CONFIG, *OVERLAYS], ids=lambda p: Path(p).name)
def test_file_parses_to_a_map_of_known_sections(path: Path) -> None:
    config = load(path)
    assert isinstance(config, dict) and config
    assert set(config) <= {*KINDS, "service"}, set(config)


@pytest.mark.parametrize(("name", "config"), VARIANTS, ids=IDS)
def test_pipelines_reference_only_defined_components(name: str, config: dict[str, Any]) -> None:
    pipelines = config["service"]["pipelines"]
    assert pipelines
    for pipeline_id, pipeline in pipelines.items():
        assert signal(pipeline_id) in {"traces", "metrics", "logs"}, pipeline_id
        assert pipeline.get("receivers") and pipeline.get("exporters"), pipeline_id
        for receiver in pipeline["receivers"]:
            assert receiver in config.get("receivers", {}) or receiver in config.get(
                "connectors", {}
            ), f"{pipeline_id}: receiver {receiver} is not defined"
        for processor in pipeline.get("processors", []):
            assert processor in config.get("processors", {}), f"{pipeline_id}: {processor}"
        for exporter in pipeline["exporters"]:
            assert exporter in config.get("exporters", {}) or exporter in config.get(
                "connectors", {}
            ), f"{pipeline_id}: exporter {exporter} is not defined"
    for extension in config["service"].get("extensions", []):
        assert extension in config.get("extensions", {}), extension


@pytest.mark.parametrize(("name", "config"), VARIANTS, ids=IDS)
def test_every_defined_component_is_used(name: str, config: dict[str, Any]) -> None:
    pipelines = config["service"]["pipelines"].values()
    used = {
        "receivers": {r for p in pipelines for r in p["receivers"]},
        "processors": {x for p in pipelines for x in p.get("processors", [])},
        "exporters": {e for p in pipelines for e in p["exporters"]},
        "extensions": set(config["service"].get("extensions", [])),
    }
    for kind in ("receivers", "processors", "exporters", "extensions"):
        # The base defines tail_sampling for the backend overlays to use; the collector
        # ignores a component no pipeline names.
        unused = set(config.get(kind, {})) - used[kind] - {"tail_sampling"}
        assert not unused, f"{kind} defined but in no pipeline: {unused}"


def test_tail_sampling_is_used_once_a_backend_is_added() -> None:
    config = collector_config(BASE_CONFIG, *(COLLECTOR / name for name in BACKEND_OVERLAYS))
    pipelines = config["service"]["pipelines"].values()
    assert any("tail_sampling" in spec.get("processors", []) for spec in pipelines)


@pytest.mark.parametrize(("name", "config"), VARIANTS, ids=IDS)
def test_components_use_current_type_names(name: str, config: dict[str, Any]) -> None:
    for kind in KINDS:
        for component_id in config.get(kind, {}):
            assert component_type(component_id) in CURRENT_TYPES[kind], (kind, component_id)


@pytest.mark.parametrize(("name", "config"), VARIANTS, ids=IDS)
def test_connectors_join_a_traces_pipeline_to_a_metrics_pipeline(
    name: str, config: dict[str, Any]
) -> None:
    pipelines = config["service"]["pipelines"]
    for connector in config["connectors"]:
        consumes, produces = CONNECTOR_SIGNALS[component_type(connector)]
        exporting = [p for p, spec in pipelines.items() if connector in spec["exporters"]]
        receiving = [p for p, spec in pipelines.items() if connector in spec["receivers"]]
        assert exporting and receiving, f"{connector} must be both an exporter and a receiver"
        assert {signal(p) for p in exporting} == {consumes}, exporting
        assert {signal(p) for p in receiving} == {produces}, receiving


@pytest.mark.parametrize(("name", "config"), VARIANTS, ids=IDS)
def test_processor_order(name: str, config: dict[str, Any]) -> None:
    for pipeline_id, pipeline in config["service"]["pipelines"].items():
        processors = pipeline.get("processors", [])
        if pipeline_id.startswith("traces") or "otlp" in pipeline["receivers"]:
            # Anything that takes data from outside is guarded first.
            assert processors and processors[0] == "memory_limiter", pipeline_id
        if "batch" in processors:
            assert processors[-1] == "batch", pipeline_id
        if "tail_sampling" in processors:
            assert processors.index("tail_sampling") < processors.index("batch"), pipeline_id


def test_app_map_metrics_see_every_span_before_sampling() -> None:
    config = collector_config(BASE_CONFIG, *OVERLAYS)
    for pipeline_id, pipeline in config["service"]["pipelines"].items():
        if set(pipeline["exporters"]) & set(config["connectors"]):
            assert "tail_sampling" not in pipeline.get("processors", []), pipeline_id


@pytest.mark.parametrize("overlay", sorted(BACKEND_OVERLAYS))
def test_tracing_backends_get_tail_sampled_traces(overlay: str) -> None:
    added = load(COLLECTOR / overlay)["service"]["pipelines"]
    traces = {p: spec for p, spec in added.items() if signal(p) == "traces"}
    assert traces, f"{overlay} adds no traces pipeline"
    for pipeline_id, spec in traces.items():
        assert "tail_sampling" in spec["processors"], pipeline_id


def test_tail_sampling_keeps_failed_and_slow_turns_and_a_share_of_the_rest() -> None:
    sampling = load(BASE_CONFIG)["processors"]["tail_sampling"]
    policies = {policy["type"]: policy for policy in sampling["policies"]}
    assert set(policies) == {"status_code", "latency", "probabilistic"}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    threshold = int(expand(str(policies["latency"]["latency"]["threshold_ms"]), {}))
    percentage = policies["probabilistic"]["probabilistic"]["sampling_percentage"]
    share = float(expand(str(percentage), {}))
    assert threshold > 0
    assert 0 < share < 100, "the default keeps a share, not everything"
    # A top-level list of policies is an OR: any policy keeping a trace keeps it.
    assert all("and" not in policy and "composite" not in policy for policy in policies.values())


def test_service_graph_names_the_nodes_our_dependency_spans_name() -> None:
    connectors = load(BASE_CONFIG)["connectors"]
    peers = connectors["servicegraph"]["virtual_node_peer_attributes"]
    for attribute in (
        contract.ATTR_SERVICE_PEER_NAME,
        contract.ATTR_PEER_SERVICE,
        contract.ATTR_DB_SYSTEM_NAME,
        contract.ATTR_SERVER_ADDRESS,
    ):
        assert attribute in peers, attribute
    assert contract.ATTR_DB_NAMESPACE in connectors["servicegraph"]["database_name_attributes"]
    span_attributes = {value for name, value in vars(contract).items() if name.startswith("ATTR_")}
    for dimension in connectors["spanmetrics"]["dimensions"]:
        assert dimension["name"] in span_attributes, dimension


def test_receiver_listens_on_all_interfaces_at_the_standard_ports() -> None:
    protocols = load(BASE_CONFIG)["receivers"]["otlp"]["protocols"]
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    # The embedded collector takes the same port, so moving a bot between them is one variable.
    assert configuration.EMBEDDED_ENDPOINT.endswith(":4318")


def test_azure_overlay_turns_custom_event_log_records_into_custom_events() -> None:
    config = load(COLLECTOR / "azure-monitor.yaml")
    exporter = config["exporters"]["azuremonitor"]
    assert exporter["custom_events_enabled"] is True
    assert exporter["spaneventsenabled"] is False
    assert dict(env_references(exporter["connection_string"])) == {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": None
    }
    # The same variable a bot reads to export to Azure Monitor directly.
    assert '"APPLICATIONINSIGHTS_CONNECTION_STRING"' in inspect.getsource(configuration)
    logs = [spec for p, spec in config["service"]["pipelines"].items() if signal(p) == "logs"]
    assert logs and all("azuremonitor" in spec["exporters"] for spec in logs)


def test_every_variable_the_configs_read_is_documented() -> None:
    readme = (COLLECTOR / "README.md").read_text(encoding="utf-8")
    for path in [BASE_CONFIG, *OVERLAYS]:
        for name, default in env_references(load(path)):
            assert f"`{name}`" in readme, f"{path.name} reads {name}; README does not say"
            if default is not None:
                assert default in readme, f"README should give {name}'s default {default}"


@pytest.mark.parametrize("overlay", ["bot-telemetry.yaml", "clickhouse.yaml"])
def test_overlays_that_forward_everything_forward_every_signal_unsampled(overlay: str) -> None:
    """bot-telemetry.yaml said "everything" and forwarded no metrics: the embedded
    collector's Metrics page stayed empty behind a shared collector."""
    config = load(COLLECTOR / overlay)
    forwarded = {
        signal(name): spec
        for name, spec in config["service"]["pipelines"].items()
        if spec["receivers"] == ["otlp"]
    }
    assert set(forwarded) == {"traces", "logs", "metrics"}
    for spec in forwarded.values():
        assert "tail_sampling" not in spec["processors"]
