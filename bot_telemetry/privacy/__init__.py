"""Privacy layer: one policy applied to every signal, the policy in force, and the identity
vault (real ids kept only encrypted)."""

from .current import current_policy, set_current_policy
from .keys import PERSONAL_KEYS, PSEUDONYMOUS_KEYS, SAFE_KEYS
from .policy import DEFAULT_POLICY, PrivacyPolicy, Treatment
from .vault import VAULT_KEYS_ENV, IdentityVault, VaultError

__all__ = [
    "DEFAULT_POLICY",
    "PERSONAL_KEYS",
    "PSEUDONYMOUS_KEYS",
    "SAFE_KEYS",
    "VAULT_KEYS_ENV",
    "IdentityVault",
    "PrivacyPolicy",
    "Treatment",
    "VaultError",
    "current_policy",
    "set_current_policy",
]
