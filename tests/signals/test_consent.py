"""Consent registries and record_consent's edges."""

from __future__ import annotations

import logging

import pytest
from botbuilder.core import MemoryStorage

from bot_telemetry import PrivacyPolicy
from bot_telemetry.bot.consent import KEY_PREFIX, StorageConsentRegistry
from bot_telemetry.signals import MemoryConsentRegistry, lookup_consent, record_consent
from tests.support.telemetry import CapturedTelemetry


async def test_the_memory_registry_keeps_the_most_recent_users() -> None:
    registry = MemoryConsentRegistry(capacity=2)
    await registry.set("a", True)
    await registry.set("b", False)
    await registry.set("c", True)
    assert [await registry.get(key) for key in "abc"] == [None, False, True]


async def test_the_storage_registry_reads_and_writes_the_bots_storage() -> None:
    storage = MemoryStorage()
    writer = StorageConsentRegistry(storage)
    await writer.set("user-1", True)
    assert (await storage.read([KEY_PREFIX + "user-1"]))[KEY_PREFIX + "user-1"]["granted"] is True
    # another instance of the bot sees it; and a change there after its memory expires
    reader = StorageConsentRegistry(storage, remember_seconds=0)
    assert await reader.get("user-1") is True
    await writer.set("user-1", False)
    assert await reader.get("user-1") is False
    assert await reader.get("nobody") is None


async def test_lookup_is_skipped_outside_consent_mode_and_a_failing_registry_means_no() -> None:
    assert (await lookup_consent("u", PrivacyPolicy())).granted is None

    class Broken:
        async def get(self, user_key: str) -> bool | None:
            raise ConnectionError("storage down")

        async def set(self, user_key: str, granted: bool) -> None:
            raise ConnectionError("storage down")

    from bot_telemetry.signals import consent

    consent.set_consent_registry(Broken())  # type: ignore[arg-type]
    try:
        assert (await lookup_consent("u", PrivacyPolicy(consent_mode=True))).granted is None
    finally:
        consent.set_consent_registry(None)


async def test_a_decision_without_a_user_is_not_recorded(
    telemetry: CapturedTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await record_consent(True)
    assert telemetry.events("ConsentChanged") == []
    assert "no user in this turn" in caplog.text
    await record_consent(False, user_id="+15550100")
    (event,) = telemetry.events("ConsentChanged")
    attributes = dict(event.log_record.attributes or {})
    assert attributes["consent"] == "withdrawn" and "encryptedUserId" not in attributes
    assert "+15550100" not in str(attributes)
