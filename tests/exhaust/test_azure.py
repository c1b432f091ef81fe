"""Exhaust files in Azure Blob Storage (Azurite, a real Blob endpoint): SAS links that work,
expire, and refuse tampering; the private ZIP; every link handed out in the audit trail."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot_telemetry.exhaust import Exhaust, ExhaustSettings
from bot_telemetry.exhaust.destinations import AzureBlobFolder
from bot_telemetry.exhaust.files import PRIVATE_HEADERS, RESPONSE_HEADERS, read_encrypted_zip
from bot_telemetry.privacy import IdentityVault
from bot_telemetry.store.database import Store
from bot_telemetry.store.engine import DuckDBEngine
from bot_telemetry.store.rows import logs_batch
from tests.exhaust.test_api import PRIVATE, body
from tests.exhaust.traffic import ANSWERS, USERS, VAULT_KEYS, Driven, drive, expected_responses
from tests.support.azurite import Azurite


@pytest.fixture(scope="module")
def exhaust(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exhaust]:
    vault = IdentityVault.parse(VAULT_KEYS)
    driven = asyncio.run(drive(vault))
    folder = tmp_path_factory.mktemp("exhaust-blob")
    store = Store.open(folder / "store.duckdb")
    for request in driven.requests:
        store.write(logs_batch(request))
    settings = ExhaustSettings(
        folder=folder / "exhaust",
        blob_connection_string=azurite.connection_string,
        blob_container="exhausts-test",
    )
    service = Exhaust(DuckDBEngine(store), settings, vault)
    yield service
    service.close()
    store.close()


def _run(exhaust: Exhaust, request: dict[str, object]) -> dict[str, object]:
    status, answer = exhaust.submit(request, base_url="http://unused", client="tester")
    assert status == 200
    tag = request["request"]["tag"]  # type: ignore[index]
    request_id = answer["result"]["requestId"]
    (done,) = exhaust.run_pending()
    assert done.status == "SUCCESS", done.status_message
    status, answer = exhaust.read(tag, request_id, base_url="http://unused", client="tester")
    assert status == 200
    return dict(answer["result"])


def test_the_response_file_is_a_blob_behind_an_expiring_sas_link(
    exhaust: Exhaust, azurite: Azurite
) -> None:
    result = _run(exhaust, body())
    (url,) = result["downloadUrls"]  # type: ignore[misc]
    assert url.startswith(f"{azurite.endpoint}/exhausts-test/uci-response-exhaust/")
    assert "sig=" in url and "se=" in url and "sp=r" in url
    download = requests.get(url, timeout=30)
    assert download.status_code == 200, download.text
    reader = csv.reader(io.StringIO(download.content.decode()))
    assert next(reader) == list(RESPONSE_HEADERS)
    rows = list(reader)
    assert len(rows) == len(USERS) * len(ANSWERS)
    response_at = list(RESPONSE_HEADERS).index("Question Response")
    device_at = list(RESPONSE_HEADERS).index("Device ID")
    for role, real_id in USERS.items():
        mine = [row[response_at] for row in rows if row[device_at] == Driven.pseudonym(real_id)]
        assert mine == expected_responses(role)

    tampered = url.replace("sig=", "sig=A")
    assert requests.get(tampered, timeout=30).status_code == 403
    assert isinstance(exhaust.destination, AzureBlobFolder)
    name = url.split("/exhausts-test/", 1)[1].split("?", 1)[0]
    expired = exhaust.destination.url(name, int(time.time() * 1000) - 60_000, "")
    refused = requests.get(expired, timeout=30)
    assert refused.status_code == 403 and "AuthorizationFailure" in refused.text
    trail = exhaust.jobs.audit_trail(str(result["requestId"]))
    assert [(r.action, r.client, r.outcome) for r in trail] == [("link", "tester", "issued")]


def test_the_private_zip_in_blob_storage_opens_with_the_requests_key(
    exhaust: Exhaust, tmp_path: Path
) -> None:
    result = _run(exhaust, body(PRIVATE))
    (url,) = result["downloadUrls"]  # type: ignore[misc]
    download = requests.get(url, timeout=30)
    assert download.status_code == 200
    archive = tmp_path / "private.zip"
    archive.write_bytes(download.content)
    (member,) = read_encrypted_zip(archive, "s3cret-zip-password").values()
    reader = csv.reader(io.StringIO(member.decode()))
    assert next(reader) == list(PRIVATE_HEADERS)
    decrypted = {row[4]: row[2] for row in reader}
    assert decrypted == {
        Driven.pseudonym(real): real if role == "consenting" else Driven.pseudonym(real)
        for role, real in USERS.items()
    }
