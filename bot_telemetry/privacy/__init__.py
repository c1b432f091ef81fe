"""Privacy layer: one policy applied to every signal, and the policy in force."""

from .current import current_policy, set_current_policy
from .policy import DEFAULT_POLICY, PERSONAL_KEYS, PSEUDONYMOUS_KEYS, PrivacyPolicy

__all__ = [
    "DEFAULT_POLICY",
    "PERSONAL_KEYS",
    "PSEUDONYMOUS_KEYS",
    "PrivacyPolicy",
    "current_policy",
    "set_current_policy",
]
