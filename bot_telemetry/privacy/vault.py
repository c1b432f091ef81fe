"""The identity vault: a user's real channel id (a phone number on SMS or WhatsApp), kept
only encrypted, beside the pseudonymous id, for the users who consented.

AES-256-GCM (``cryptography``) with keys from the environment, never from code or the
store. Each ciphertext is bound to the user's pseudonymous id (GCM's associated data), so a
token copied onto another user's row does not decrypt; it names the key that made it, so
keys can be rotated::

    BOT_TELEMETRY_VAULT_KEYS="2025b:<base64 32 bytes>,2025a:<base64 32 bytes>"

The first key encrypts; every key listed decrypts. To rotate, put a new key first (bots and
the collector alike) and keep the old ones as long as tokens made with them are kept; drop a
key and what it encrypted can no longer be read by anyone. Without a key, nothing is
encrypted and nothing can be decrypted.

    vault = IdentityVault.from_environment()
    token = vault.encrypt("+44 7700 900123", pseudonymous_id)
    vault.decrypt(token, pseudonymous_id)      # '+44 7700 900123'
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VAULT_KEYS_ENV: Final = "BOT_TELEMETRY_VAULT_KEYS"
TOKEN_VERSION: Final = "v1"
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_NONCE_BYTES = 12
_FORM = (
    "write each key as id:base64key, e.g. 2025a:<32 bytes in base64> "
    "(make one with `bot-telemetry exhaust vault-key`), keys separated by ','"
)
_ID_RULE = f"its id (before the ':') must be 1-40 letters, digits, '.', '_' or '-'; {_FORM}"


class VaultError(ValueError):
    """The vault's keys are malformed; the message says which and how to fix it."""


def new_key() -> str:
    """A fresh 256-bit key, base64-encoded, for ``BOT_TELEMETRY_VAULT_KEYS``."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


class IdentityVault:
    """Encrypts real ids with the first key; decrypts with any key it holds."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]):
        if not keys:
            raise VaultError("an identity vault needs at least one key")
        self._keys: dict[str, AESGCM] = {}
        for number, (key_id, key) in enumerate(keys, 1):
            if not _KEY_ID.fullmatch(key_id):
                # Not echoed: a key written before its id ("<key>:2025a") would be the "id".
                raise VaultError(f"vault key {number}: {_ID_RULE}")
            if len(key) != 32:
                raise VaultError(
                    f"vault key {key_id!r} is {len(key)} bytes; AES-256 needs 32 "
                    "(make one with `bot-telemetry exhaust vault-key`)"
                )
            if key_id in self._keys:
                raise VaultError(f"vault key id {key_id!r} is listed twice")
            self._keys[key_id] = AESGCM(key)
        self.key_id = keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @classmethod
    def parse(cls, text: str) -> IdentityVault:
        """Keys written as ``id:base64,id:base64`` (the first encrypts)."""
        keys: list[tuple[str, bytes]] = []
        items = [part.strip() for part in text.split(",") if part.strip()]
        # An error names a key by its place in the list, never by what was written: that may
        # be the key itself (written without its id, or before it), and errors reach logs.
        for number, item in enumerate(items, 1):
            key_id, colon, encoded = item.partition(":")
            where = f"{VAULT_KEYS_ENV}: key {number} of {len(items)}"
            if not colon:
                raise VaultError(f"{where} has no id: {_FORM}")
            key_id = key_id.strip()
            if not _KEY_ID.fullmatch(key_id):
                raise VaultError(f"{where}: {_ID_RULE}")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as error:
                raise VaultError(f"{where} ({key_id!r}) is not base64: {_FORM}") from error
            keys.append((key_id, key))
        return cls(keys)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> IdentityVault | None:
        """The vault ``BOT_TELEMETRY_VAULT_KEYS`` describes; None when it is not set."""
        text = (os.environ if environ is None else environ).get(VAULT_KEYS_ENV, "").strip()
        return cls.parse(text) if text else None

    def encrypt(self, real_id: str, pseudonymous_id: str) -> str:
        """``real_id`` as a token only this vault's keys open, bound to ``pseudonymous_id``."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._keys[self.key_id].encrypt(
            nonce, real_id.encode(), _associated(pseudonymous_id)
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{TOKEN_VERSION}:{self.key_id}:{body}"

    def decrypt(self, token: str, pseudonymous_id: str) -> str | None:
        """The real id, or None: a key this vault lacks, a token altered or made for another
        user, or not a token at all."""
        parts = token.split(":")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            return None
        cipher = self._keys.get(parts[1])
        if cipher is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= _NONCE_BYTES:
            return None
        try:
            opened = cipher.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(pseudonymous_id)
            )
        except InvalidTag:
            return None
        return opened.decode(errors="replace")


def _associated(pseudonymous_id: str) -> bytes:
    return f"bot-telemetry vault {TOKEN_VERSION} {pseudonymous_id}".encode()


__all__ = ["VAULT_KEYS_ENV", "IdentityVault", "VaultError", "new_key"]
