"""deploy/compose: the topologies, checked against the collector config and the sample bot."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from .files import (
    BOT_SERVICES,
    COLLECTOR,
    COMPOSE,
    REPO,
    TOPOLOGIES,
    as_mapping,
    collector_config,
    compose_project,
    env_references,
    expand,
    help_text,
    host_port,
    load,
    option,
    published_ports,
)

BUILT_IMAGE = "bot-telemetry-sample:latest"
COLLECTOR_SERVICE = "otel-collector"
#: Where each URL option of the sample processes must point: (service, path).
URL_OPTIONS = {
    "--nlu-url": ("nlu", ""),
    "--qna-url": ("qna", ""),
    "--channel-url": ("channel", ""),
    "--bot-url": ("bot", "/api/messages"),
    "--service-url": ("channel", ""),
}


def project_ids(path: Path) -> str:
    return path.name


@pytest.fixture(params=TOPOLOGIES, ids=project_ids)
def project(request: pytest.FixtureRequest) -> dict[str, Any]:
    return compose_project(request.param)


def services(project: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = project["services"]
    return found


def module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def port_of(service: dict[str, Any]) -> int:
    return int(option(service["command"], "--port"))


def collector_files(project: dict[str, Any]) -> list[Path]:
    """The --config files the collector service loads, as paths in deploy/collector."""
    collector = services(project)[COLLECTOR_SERVICE]
    mounts = {}
    for volume in collector["volumes"]:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    files = []
    for argument in collector["command"]:
        assert argument.startswith("--config="), argument
        inside = Path(argument.removeprefix("--config="))
        source = mounts[str(inside.parent)]
        assert (COMPOSE / source).resolve() == COLLECTOR.resolve(), source
        files.append(COLLECTOR / inside.name)
    return files


def test_three_topologies_jaeger_tempo_and_clickhouse() -> None:
    assert [path.name for path in TOPOLOGIES] == [
        "compose.clickhouse.yaml",
        "compose.jaeger.yaml",
        "compose.tempo.yaml",
    ]


def test_every_compose_file_parses() -> None:
    for path in [*TOPOLOGIES, COMPOSE / "bot-services.yaml"]:
        document = load(path)
        assert isinstance(document, dict) and document["services"], path


def test_bot_processes_run_the_sample_modules_with_options_they_accept(
    project: dict[str, Any],
) -> None:
    for name in BOT_SERVICES:
        service = services(project)[name]
        command = service["command"]
        module = module_of(command)
        assert importlib.util.find_spec(module) is not None, module
        assert option(command, "--host") == "0.0.0.0", f"{name} must listen beyond loopback"
        accepted = help_text(module)
        for argument in command[3:]:
            if argument.startswith("--"):
                assert argument in accepted, f"{module} does not take {argument}"
        assert service["image"] == BUILT_IMAGE
        assert service["build"]["dockerfile"] == "deploy/image/Dockerfile"
        assert (COMPOSE / service["build"]["context"]).resolve() == REPO


def test_service_names_match_what_each_process_calls_itself(project: dict[str, Any]) -> None:
    expected = {
        "sample_bot": "bot",
        "sample_bot.nlu": "nlu",
        "sample_bot.qna": "qna",
        "sample_bot.channel": "channel",
    }
    for name in BOT_SERVICES:
        module = module_of(services(project)[name]["command"])
        assert expected[module] == name
        source = Path(importlib.util.find_spec(f"{module}.__main__").origin or "")
        assert f'service_name="{name}"' in source.read_text(encoding="utf-8"), source


def test_urls_between_processes_point_at_the_right_service_and_port(
    project: dict[str, Any],
) -> None:
    for name in BOT_SERVICES:
        command = services(project)[name]["command"]
        for flag, (target, path) in URL_OPTIONS.items():
            if flag not in command:
                continue
            url = option(command, flag)
            host, port = host_port(url)
            assert host == target, f"{name} {flag} {url}"
            assert port == port_of(services(project)[target]), f"{name} {flag} {url}"
            assert url.endswith(f":{port}{path}"), url


def test_ports_agree_between_command_healthcheck_and_publishing(project: dict[str, Any]) -> None:
    for name in BOT_SERVICES:
        service = services(project)[name]
        port = port_of(service)
        assert as_mapping(service["environment"])["SERVICE_PORT"] == str(port), name
        for container in published_ports(service).values():
            assert container == port, name
    assert set(published_ports(services(project)["channel"])) == {5103}, "the driver API"


def test_processes_export_to_the_collectors_otlp_http_receiver(project: dict[str, Any]) -> None:
    receiver = collector_config(*collector_files(project))["receivers"]["otlp"]["protocols"]
    _, receiver_port = host_port(receiver["http"]["endpoint"])
    for name in BOT_SERVICES:
        environment = as_mapping(services(project)[name]["environment"])
        host, port = host_port(environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (host, port) == (COLLECTOR_SERVICE, receiver_port), name
        assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in environment


def test_collector_gets_every_variable_its_configs_need_and_no_others(
    project: dict[str, Any],
) -> None:
    config = collector_config(*collector_files(project))
    references = dict(env_references(config))
    environment = as_mapping(services(project)[COLLECTOR_SERVICE].get("environment"))
    for name, default in references.items():
        assert default is not None or name in environment, f"collector needs {name}"
    assert set(environment) <= set(references), set(environment) - set(references)


def backend_endpoints(project: dict[str, Any]) -> dict[str, tuple[str, int]]:
    config = collector_config(*collector_files(project))
    environment = as_mapping(services(project)[COLLECTOR_SERVICE].get("environment"))
    return {
        exporter_id: host_port(expand(spec["endpoint"], environment))
        for exporter_id, spec in config["exporters"].items()
        if exporter_id.startswith(("otlp_", "clickhouse"))
    }


def test_collector_exports_to_the_backend_service_of_its_topology(
    project: dict[str, Any],
) -> None:
    endpoints = backend_endpoints(project)
    assert len(endpoints) == 1, endpoints
    ((exporter_id, (host, port)),) = endpoints.items()
    backend = exporter_id.split("/", 1)[-1]
    assert host == backend and backend in services(project), exporter_id
    if backend == "clickhouse":
        assert port == 9000, "the clickhouse exporter speaks ClickHouse's native protocol"
    elif backend == "tempo":
        tempo = load(COMPOSE / "tempo" / "tempo.yaml")
        grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
        assert host_port(grpc)[1] == port
    else:
        assert port == 4317, "Jaeger takes OTLP/gRPC on 4317"
    assert backend in services(project)[COLLECTOR_SERVICE]["depends_on"]


def test_dependencies_and_mounts_exist(project: dict[str, Any]) -> None:
    for name, service in services(project).items():
        for dependency in service.get("depends_on", []):
            assert dependency in services(project), f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source in project.get("volumes", {}):
                continue  # a named volume Compose creates
            assert (COMPOSE / source).exists(), f"{name} mounts missing {source}"


def test_third_party_images_are_pinned(project: dict[str, Any]) -> None:
    for name, service in services(project).items():
        image = service["image"]
        if image == BUILT_IMAGE:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest", f"{name} image {image} is not pinned"


def test_tempo_topology_wires_grafana_prometheus_and_the_service_graph() -> None:
    project = compose_project(COMPOSE / "compose.tempo.yaml")
    scrape = load(COMPOSE / "prometheus" / "prometheus.yaml")["scrape_configs"]
    targets = [target for job in scrape for c in job["static_configs"] for target in c["targets"]]
    config = collector_config(*collector_files(project))
    assert [host_port(t) for t in targets] == [
        (COLLECTOR_SERVICE, host_port(config["exporters"]["prometheus"]["endpoint"])[1])
    ]

    datasources = load(COMPOSE / "grafana" / "datasources.yaml")["datasources"]
    by_uid = {source["uid"]: source for source in datasources}
    tempo_port = load(COMPOSE / "tempo" / "tempo.yaml")["server"]["http_listen_port"]
    prometheus_port = published_ports(services(project)["prometheus"])[9090]
    assert host_port(by_uid["tempo"]["url"]) == ("tempo", tempo_port)
    assert host_port(by_uid["prometheus"]["url"]) == ("prometheus", prometheus_port)
    # The service graph view reads the collector's servicegraph metrics from Prometheus.
    assert by_uid["tempo"]["jsonData"]["serviceMap"]["datasourceUid"] == "prometheus"
    assert "servicegraph" in config["connectors"]
    mounts = services(project)["grafana"]["volumes"]
    assert any(
        m.endswith(":/etc/grafana/provisioning/datasources/datasources.yaml:ro") for m in mounts
    )


def test_jaeger_topology_publishes_the_ui() -> None:
    project = compose_project(COMPOSE / "compose.jaeger.yaml")
    assert published_ports(services(project)["jaeger"]) == {16686: 16686}


def test_clickhouse_topology_reader_reads_what_the_collector_writes() -> None:
    project = compose_project(COMPOSE / "compose.clickhouse.yaml")
    reader = services(project)["bot-telemetry"]
    command = reader["command"]
    assert command[:5] == ["python", "-m", "bot_telemetry.cli", "serve", "--store"]
    accepted = help_text("bot_telemetry.cli", "serve")
    for argument in command[4:]:
        if argument.startswith("--"):
            assert argument in accepted, f"serve does not take {argument}"
    assert "--read-only" in command and option(command, "--host") == "0.0.0.0"

    from bot_telemetry.store.clickhouse_relations import Tables
    from bot_telemetry.store.location import PASSWORD_VARIABLE, ClickHouseLocation

    store = ClickHouseLocation.parse(option(command, "--store"))
    clickhouse = services(project)["clickhouse"]
    server_env = as_mapping(clickhouse["environment"])
    collector_env = as_mapping(services(project)[COLLECTOR_SERVICE]["environment"])
    reader_env = as_mapping(reader["environment"])
    # Where the reader looks: ClickHouse's HTTP port, the database and user the collector uses.
    assert (store.host, store.port) == ("clickhouse", 8123)
    assert 8123 in published_ports(clickhouse).values()
    assert store.tables.database == server_env["CLICKHOUSE_DB"]
    assert store.tables.database == collector_env["CLICKHOUSE_DATABASE"]
    assert store.username == server_env["CLICKHOUSE_USER"] == collector_env["CLICKHOUSE_USER"]
    assert reader_env[PASSWORD_VARIABLE] == server_env["CLICKHOUSE_PASSWORD"]
    assert server_env["CLICKHOUSE_PASSWORD"] == collector_env["CLICKHOUSE_PASSWORD"]
    assert len(reader_env["BOT_TELEMETRY_TOKEN"]) >= 16, "serve --allow-remote needs a token"
    # The tables the exporter writes are the ones --store reads by default.
    exporter = collector_config(*collector_files(project))["exporters"]["clickhouse"]
    assert exporter["create_schema"] is True
    assert exporter["traces_table_name"] == Tables().traces
    assert exporter["logs_table_name"] == Tables().logs
    published = published_ports(reader)
    assert published == {8080: int(option(command, "--port"))}
