"""The policy in force for this process: set by ``configure()``, read by every component that
was not given a policy of its own."""

from __future__ import annotations

from .policy import DEFAULT_POLICY, PrivacyPolicy

_current: PrivacyPolicy = DEFAULT_POLICY


def current_policy() -> PrivacyPolicy:
    """The process-wide policy (``DEFAULT_POLICY`` until ``configure(privacy=...)``)."""
    return _current


def set_current_policy(policy: PrivacyPolicy | None) -> None:
    """Make ``policy`` the process-wide one; ``None`` restores the default."""
    global _current
    _current = policy or DEFAULT_POLICY
