"""A ``bot-telemetry serve`` holding the survey's telemetry, posted to it over OTLP/HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot_telemetry.privacy import IdentityVault
from bot_telemetry.privacy.vault import VAULT_KEYS_ENV
from bot_telemetry.web import CollectorThread, ServerConfig
from tests.exhaust.traffic import VAULT_KEYS, Driven, drive

TOKEN = "exhaust-tests-token-0123456789"


@dataclass
class Served:
    url: str
    store: Path
    driven: Driven
    token: str | None

    @property
    def folder(self) -> Path:
        return self.store.parent / "exhaust"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(self.url + path, params=params, headers=self.headers(), timeout=30)

    def post(self, path: str, body: object) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.headers(), timeout=30)


def _serve(tmp: Path, token: str | None, **config: Any) -> Iterator[Served]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(VAULT_KEYS_ENV, VAULT_KEYS)
        driven = asyncio.run(drive(IdentityVault.parse(VAULT_KEYS)))
        store = tmp / "telemetry.duckdb"
        settings = ServerConfig(store=store, port=0, token=token, **config)
        with CollectorThread(settings) as collector:
            headers = {"Content-Type": "application/x-protobuf"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            for request in driven.requests:
                answer = requests.post(
                    f"{collector.url}/v1/logs",
                    data=request.SerializeToString(),
                    headers=headers,
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
            yield Served(collector.url, store, driven, token)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """On loopback without a token (the default)."""
    yield from _serve(tmp_path_factory.mktemp("exhaust-open"), None)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """With a token, which every request then carries."""
    yield from _serve(tmp_path_factory.mktemp("exhaust-token"), TOKEN)
