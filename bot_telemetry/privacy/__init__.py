"""Privacy layer: one policy applied to every signal, and the policy in force."""

from .current import current_policy, set_current_policy
from .keys import PERSONAL_KEYS, PSEUDONYMOUS_KEYS, SAFE_KEYS
from .policy import DEFAULT_POLICY, PrivacyPolicy, Treatment

__all__ = [
    "DEFAULT_POLICY",
    "PERSONAL_KEYS",
    "PSEUDONYMOUS_KEYS",
    "SAFE_KEYS",
    "PrivacyPolicy",
    "Treatment",
    "current_policy",
    "set_current_policy",
]
