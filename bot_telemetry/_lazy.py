"""Names a package loads on first use (PEP 562), so importing it imports none of them: the
command line and the collector import ``bot_telemetry.*`` modules without botbuilder, the
OpenTelemetry SDK or the web server."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module, relative to
    ``package``) when ``name`` is first asked for.

        __getattr__ = lazy(__name__, {"configure": ".export"})
    """

    def load(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    return load
