"""Privacy layer: one policy applied to every signal."""

from .policy import DEFAULT_POLICY, PERSONAL_KEYS, PSEUDONYMOUS_KEYS, PrivacyPolicy

__all__ = ["DEFAULT_POLICY", "PERSONAL_KEYS", "PSEUDONYMOUS_KEYS", "PrivacyPolicy"]
