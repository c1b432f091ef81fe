"""The identity vault: AES-256-GCM, bound to the pseudonymous id, keys rotated by id."""

from __future__ import annotations

import base64

import pytest

from bot_telemetry.privacy import IdentityVault, VaultError
from bot_telemetry.privacy.vault import VAULT_KEYS_ENV, new_key

PHONE = "+44 7700 900123"


def test_a_real_id_round_trips_only_for_its_own_user() -> None:
    vault = IdentityVault.parse(f"a:{new_key()}")
    token = vault.encrypt(PHONE, "pseudo-1")
    assert token.startswith("v1:a:") and PHONE not in token
    assert "7700" not in base64.urlsafe_b64decode(token.split(":")[2] + "==").decode("latin-1")
    assert vault.decrypt(token, "pseudo-1") == PHONE
    assert vault.decrypt(token, "pseudo-2") is None  # copied onto another user's row
    assert vault.encrypt(PHONE, "pseudo-1") != token  # a fresh nonce each time


def test_tampered_tokens_and_unknown_keys_do_not_decrypt() -> None:
    vault = IdentityVault.parse(f"a:{new_key()}")
    token = vault.encrypt(PHONE, "p")
    body = token.split(":")[2]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    assert vault.decrypt(f"v1:a:{flipped}", "p") is None
    assert vault.decrypt(token.replace("v1:a:", "v1:b:"), "p") is None
    assert vault.decrypt("not a token", "p") is None
    assert vault.decrypt("v1:a:", "p") is None
    other = IdentityVault.parse(f"a:{new_key()}")  # same id, another key: no key, no id
    assert other.decrypt(token, "p") is None


def test_rotation_encrypts_with_the_first_key_and_decrypts_with_all() -> None:
    old_key, new = new_key(), new_key()
    before = IdentityVault.parse(f"2025a:{old_key}")
    old_token = before.encrypt(PHONE, "p")
    after = IdentityVault.parse(f"2025b:{new},2025a:{old_key}")
    assert after.encrypt(PHONE, "p").startswith("v1:2025b:")
    assert after.decrypt(old_token, "p") == PHONE
    retired = IdentityVault.parse(f"2025b:{new}")
    assert retired.decrypt(old_token, "p") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("justbase64", "has no id"),
        ("a:not-base64!", "not base64"),
        (f"a:{base64.b64encode(b'short').decode()}", "32"),
        (f"a:{new_key()},a:{new_key()}", "twice"),
        (f"bad id:{new_key()}", "key 1 of 1: its id"),
    ],
    # The keys are random: name the cases by what they test (parallel workers must agree).
    ids=["no-id", "not-base64", "short", "id-twice", "bad-id"],
)
def test_malformed_keys_are_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(VaultError, match=says):
        IdentityVault.parse(text)


KEY = new_key()


@pytest.mark.parametrize(
    "text",
    [KEY, f"{KEY}:2025a", f"2025a:{new_key()},{KEY}"],
    ids=["no-id", "key-before-id", "second-without-id"],
)
def test_an_error_never_shows_key_material(text: str) -> None:
    # A key written without its id was shown by its first 8 characters in the error, which
    # reaches logs and terminals; the error says the form expected instead.
    with pytest.raises(VaultError) as refused:
        IdentityVault.parse(text)
    said = str(refused.value)
    fragments = {KEY[i : i + 6] for i in range(len(KEY) - 5)}
    assert not any(fragment in said for fragment in fragments), said
    assert "id:base64key" in said and "vault-key" in said, said


def test_the_environment_names_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAULT_KEYS_ENV, raising=False)
    assert IdentityVault.from_environment() is None
    monkeypatch.setenv(VAULT_KEYS_ENV, f"k:{new_key()}")
    found = IdentityVault.from_environment()
    assert found is not None and found.key_ids == ("k",)
