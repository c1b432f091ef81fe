"""Reading deploy/ the way its consumers do: the collector's config merge, Compose's extends.

No Docker engine or collector binary runs these files here, so the tests check them by
the same rules those tools apply: the collector merges ``--config`` files (maps merge
recursively, lists are replaced) and Compose resolves ``extends`` (the local service
definition wins, ``environment`` merges by key).
"""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COLLECTOR = DEPLOY / "collector"
COMPOSE = DEPLOY / "compose"
AZURE = DEPLOY / "azure"
IMAGE = DEPLOY / "image"

BASE_CONFIG = COLLECTOR / "otelcol.yaml"
#: The collector's backend overlays, each used as ``--config otelcol.yaml --config <overlay>``.
OVERLAYS = sorted(path for path in COLLECTOR.glob("*.yaml") if path != BASE_CONFIG)
TOPOLOGIES = sorted(COMPOSE.glob("compose.*.yaml"))
BOT_SERVICES = ("channel", "bot", "nlu", "qna")

_ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def merge(base: Any, overlay: Any) -> Any:
    """The collector's merge of two config files: maps recursively, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(overlay, Mapping):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return overlay


def collector_config(*paths: Path) -> dict[str, Any]:
    """What ``otelcol-contrib --config A --config B ...`` runs with."""
    config: dict[str, Any] = {}
    for path in paths:
        config = merge(config, load(path))
    return config


def env_references(node: Any) -> Iterator[tuple[str, str | None]]:
    """Every ``${env:NAME}`` / ``${env:NAME:-default}`` in a parsed config: (name, default)."""
    if isinstance(node, Mapping):
        for value in node.values():
            yield from env_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from env_references(value)
    elif isinstance(node, str):
        for match in _ENV_REFERENCE.finditer(node):
            yield match.group(1), match.group(2)


def expand(value: str, environment: Mapping[str, str]) -> str:
    """A config string with its ``${env:...}`` references replaced as the collector would."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        return environment.get(name) or default or ""

    return _ENV_REFERENCE.sub(replace, value)


def compose_project(path: Path) -> dict[str, Any]:
    """A Compose file with every ``extends`` resolved."""
    project = load(path)
    services = project.get("services", {})
    for name, service in services.items():
        services[name] = _resolve_extends(service, path.parent)
    return dict(project)


def _resolve_extends(service: dict[str, Any], folder: Path) -> dict[str, Any]:
    extends = service.get("extends")
    if extends is None:
        return service
    source = folder / extends["file"]
    base = _resolve_extends(dict(load(source)["services"][extends["service"]]), source.parent)
    resolved = {**base, **{key: value for key, value in service.items() if key != "extends"}}
    if "environment" in base or "environment" in service:
        resolved["environment"] = {
            **as_mapping(base.get("environment")),
            **as_mapping(service.get("environment")),
        }
    return resolved


def as_mapping(environment: Any) -> dict[str, str]:
    """Compose's environment in either spelling (map or KEY=VALUE list), as a map."""
    if environment is None:
        return {}
    if isinstance(environment, Mapping):
        return {str(key): "" if value is None else str(value) for key, value in environment.items()}
    pairs = (str(item).split("=", 1) for item in environment)
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def option(command: list[str], name: str) -> str:
    """The value after ``name`` in a command line."""
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def published_ports(service: Mapping[str, Any]) -> dict[int, int]:
    """host port -> container port for a Compose service's ``ports``."""
    published: dict[int, int] = {}
    for entry in service.get("ports", []):
        host, container = str(entry).split(":")[-2:]
        published[int(host)] = int(container.split("/")[0])
    return published


def host_port(address: str, default_scheme: str = "http") -> tuple[str, int]:
    """(host, port) of ``http://h:p/...`` or ``h:p``."""
    parts = urlsplit(address if "://" in address else f"{default_scheme}://{address}")
    assert parts.hostname and parts.port, f"no host:port in {address!r}"
    return parts.hostname, parts.port


@cache
def help_text(*command: str) -> str:
    """``python -m <command...> --help``: the options a program of ours accepts. Run as -m
    runs it (runpy), in this process: a process per program cost a second or more each, for
    a parser that prints its help and exits."""
    module, *arguments = command
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [module, *arguments, "--help"])
        patch.setenv("COLUMNS", "80")  # as in a process whose output is a pipe
        # As -m finds it: a package's __main__ another test imported would be run again over
        # the imported one (runpy warns of "unpredictable behaviour").
        patch.delitem(sys.modules, f"{module}.__main__", raising=False)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with pytest.raises(SystemExit) as exited:
                runpy.run_module(module, run_name="__main__")
    assert exited.value.code in (0, None), err.getvalue()
    return out.getvalue()
