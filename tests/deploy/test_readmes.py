"""The READMEs under deploy/ against the files they describe: ports, files, variables, services."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .files import (
    BASE_CONFIG,
    COMPOSE,
    DEPLOY,
    OVERLAYS,
    REPO,
    TOPOLOGIES,
    as_mapping,
    compose_project,
    env_references,
    help_text,
    load,
    published_ports,
)

FOLDERS = [DEPLOY, *sorted(path for path in DEPLOY.iterdir() if path.is_dir())]
READMES = [folder / "README.md" for folder in FOLDERS]
SOURCES = sorted(
    path for package in ("bot_telemetry", "sample_bot") for path in (REPO / package).rglob("*.py")
)

#: Variable-looking words in the READMEs that are not environment variables.
NOT_VARIABLES = {"CONVERSATION_ID", "PII"}


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def known_variables() -> set[str]:
    """Variables something here really reads or sets: collector configs, Compose, our code."""
    names = {name for path in [BASE_CONFIG, *OVERLAYS] for name, _ in env_references(load(path))}
    compose_files = [
        *TOPOLOGIES,
        COMPOSE / "bot-services.yaml",
        DEPLOY / "azure" / "compose.azure.yaml",
    ]
    for path in compose_files:
        for service in compose_project(path)["services"].values():
            names |= set(as_mapping(service.get("environment")))
    names |= set(re.findall(r"ENV (\w+)=", text(DEPLOY / "image" / "Dockerfile")))
    source = "\n".join(text(path) for path in SOURCES)
    names |= set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", source))
    # Variables the OpenTelemetry SDK reads itself (we pass them through, not read them).
    names |= {
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_RESOURCE_ATTRIBUTES",
    }
    return names


def test_every_folder_has_a_readme_saying_what_it_starts_and_what_to_expect() -> None:
    for folder, readme in zip(FOLDERS, READMES, strict=True):
        assert readme.is_file(), f"{folder} has no README.md"
    for readme in READMES[1:]:
        headings = [line.lower() for line in text(readme).splitlines() if line.startswith("#")]
        assert any("expect" in heading for heading in headings), readme
        assert any("start" in h or "connect" in h for h in headings), readme


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_variables_named_in_readmes_exist(readme: Path) -> None:
    known = known_variables()
    for name in set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", text(readme))) - NOT_VARIABLES:
        assert name in known, f"{readme.relative_to(REPO)} names {name}, which nothing reads"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_files_named_in_readmes_exist(readme: Path) -> None:
    for name in re.findall(r"`([\w./-]+\.(?:yaml|kql|md|py)|Dockerfile[\w.]*)`", text(readme)):
        candidates = [readme.parent / name, REPO / name, DEPLOY / name]
        assert any(path.exists() for path in candidates), f"{readme}: {name} does not exist"
    for command in re.findall(r"(?:-f|--config)\s+(\S+\.yaml)", text(readme)):
        candidates = [REPO / command, readme.parent / command]
        assert any(path.exists() for path in candidates), f"{readme}: {command}"


def published_by(paths: list[Path]) -> dict[int, str]:
    ports: dict[int, str] = {}
    for path in paths:
        for name, service in compose_project(path)["services"].items():
            for host in published_ports(service):
                ports[host] = name
    return ports


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_localhost_ports_in_readmes_are_published(readme: Path) -> None:
    ports = published_by(TOPOLOGIES)
    mentioned = {int(port) for port in re.findall(r"localhost:(\d+)", text(readme))}
    for port in mentioned:
        assert port in ports, f"{readme.relative_to(REPO)} sends you to port {port}"


def test_compose_readme_covers_each_topology_service_and_ui() -> None:
    readme = text(COMPOSE / "README.md")
    for path in TOPOLOGIES:
        assert path.name in readme
        for name in compose_project(path)["services"]:
            assert f"`{name}`" in readme, f"compose README never mentions {name}"
    ports = published_by(TOPOLOGIES)
    for ui in ("jaeger", "grafana"):
        (port,) = [p for p, service in ports.items() if service == ui]
        assert f"http://localhost:{port}" in readme, ui


def test_collector_readme_lists_every_file_and_port() -> None:
    readme = text(DEPLOY / "collector" / "README.md")
    for path in [BASE_CONFIG, *OVERLAYS]:
        assert f"`{path.name}`" in readme, path.name
    config = load(BASE_CONFIG)
    endpoints = [
        *(spec["endpoint"] for spec in config["receivers"]["otlp"]["protocols"].values()),
        config["exporters"]["prometheus"]["endpoint"],
        config["extensions"]["health_check"]["endpoint"],
    ]
    for endpoint in endpoints:
        port = endpoint.rsplit(":", 1)[1]
        assert port in readme, f"collector README does not give port {port}"


#: Options of the third-party programs the READMEs run (docker, curl, otelcol-contrib).
THIRD_PARTY_OPTIONS = {"--build", "--rm", "--config"}


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_options_in_readmes_are_accepted_by_our_programs(readme: Path) -> None:
    accepted = "\n".join(
        help_text(*command)
        for command in (
            ("sample_bot",),
            ("sample_bot.nlu",),
            ("sample_bot.qna",),
            ("sample_bot.channel",),
            ("bot_telemetry.cli", "serve"),
        )
    )
    for flag in set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text(readme))) - THIRD_PARTY_OPTIONS:
        assert re.search(rf"{flag}\b", accepted), f"{readme.relative_to(REPO)}: {flag}"
