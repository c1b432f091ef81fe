"""deploy/image: the sample bot's Dockerfile against the repository and the Compose files."""

from __future__ import annotations

import fnmatch
import inspect
import json
import re
import shlex
import tomllib
from typing import Any

from sample_bot import service

from .files import COMPOSE, IMAGE, REPO, load, option

DOCKERFILE = (IMAGE / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction (continuation lines joined)."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return [
        line.split(None, 1)[1] for line in joined.splitlines() if line.split(None, 1)[:1] == [name]
    ]


def bot_services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load(COMPOSE / "bot-services.yaml")["services"]
    return found


def test_copied_paths_exist_and_survive_the_dockerignore() -> None:
    ignore = [
        line
        for line in (IMAGE / "Dockerfile.dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    for arguments in instructions("COPY"):
        *sources, _ = shlex.split(arguments)
        for source in sources:
            assert (REPO / source).exists(), source
            kept = False
            for pattern in ignore:  # last match wins, as in .dockerignore
                negated = pattern.startswith("!")
                if fnmatch.fnmatch(source, pattern.lstrip("!").removesuffix("/**")):
                    kept = negated
            assert kept, f"{source} is excluded from the build context"


def test_installs_extras_that_exist_with_the_pinned_constraints() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"])
    installs = [run for run in instructions("RUN") if "pip install" in run]
    assert installs, "the image installs nothing"
    for run in installs:
        assert "-c constraints.txt" in run
        for requested in re.findall(r"\.\[([\w,]+)\]", run):
            assert set(requested.split(",")) <= extras, requested


def test_exposes_exactly_the_ports_the_services_listen_on() -> None:
    exposed = {int(port) for arguments in instructions("EXPOSE") for port in arguments.split()}
    listening = {int(option(spec["command"], "--port")) for spec in bot_services().values()}
    assert exposed == listening


def test_default_command_is_the_bot_as_compose_runs_it() -> None:
    (cmd,) = instructions("CMD")
    command = json.loads(cmd)
    bot = bot_services()["bot"]["command"]
    assert command == bot[: len(command)]


def test_health_check_probes_the_route_every_sample_process_serves() -> None:
    (check,) = instructions("HEALTHCHECK")
    assert "/health" in check and "SERVICE_PORT" in check
    assert 'add_get("/health"' in inspect.getsource(service.add_plumbing)
    for spec in bot_services().values():
        assert "SERVICE_PORT" in spec["environment"]


def test_runs_as_a_non_root_user() -> None:
    (user,) = instructions("USER")
    assert user.strip() not in {"root", "0"}
