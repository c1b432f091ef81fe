"""Azurite, from the npm registry: a real Azure Blob endpoint on loopback for the tests."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import tools
from tests.support.ports import free_port
from tests.support.processes import REPO, wait_until_ready

AZURITE_BLOB = REPO / ".tools/azurite/node_modules/azurite/dist/src/blob/main.js"
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass
class Azurite:
    port: int
    location: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.endpoint};"
        )


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azure Blob endpoint (Azurite, from npm) on a free loopback port."""
    node = tools.node()
    tools.require("azurite", AZURITE_BLOB)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as location:
        log = Path(location) / "azurite.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    node,
                    str(AZURITE_BLOB),
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(port),
                    "--location",
                    str(Path(location) / "data"),
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--silent",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            # Any answer below 500 (here a 400/403 for an unauthenticated request) means ready.
            wait_until_ready(
                f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list", process, log, timeout=30
            )
            yield Azurite(port, Path(location))
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
