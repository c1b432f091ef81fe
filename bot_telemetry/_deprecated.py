"""Old spellings that still work, each with a ``DeprecationWarning`` naming the new one."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def renamed(owner: str, old: str, new: str, old_value: T | None, new_value: T | None) -> T | None:
    """The value of a renamed keyword argument, warning when the old name was used.

    >>> renamed("f", "policy", "privacy", None, 1)
    1
    """
    if old_value is None:
        return new_value
    warnings.warn(
        f"{owner}({old}=...) is deprecated; use {new}=...", DeprecationWarning, stacklevel=3
    )
    return new_value if new_value is not None else old_value


def moved(old_module: str, new_module: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` that forwards every name to ``new_module`` with a warning."""

    def forward(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(importlib.import_module(new_module), name)
        warnings.warn(
            f"{old_module}.{name} is deprecated; import it from {new_module}",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    return forward
