"""The layers of docs/architecture.md, enforced: every import in the package, read from the source.

A layer imports only the layers it is allowed to (those below it); the library never imports
the sample bot; the collector side never imports a bot runtime; the bot-facing layers use the
OpenTelemetry API only. Imports inside functions and under ``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bot_telemetry"

_BOT_SIDE = ("contract", "privacy", "correlation", "signals")
#: What each layer may import from the package (besides itself and the helper modules).
ALLOWED: dict[str, frozenset[str]] = {
    "contract": frozenset(),
    "privacy": frozenset({"contract"}),
    "correlation": frozenset({"contract", "privacy"}),
    "signals": frozenset({"contract", "privacy", "correlation"}),
    "bot": frozenset(_BOT_SIDE),
    "agents": frozenset(_BOT_SIDE),
    "dependencies": frozenset(_BOT_SIDE),
    # Shared by both halves: the export queue and its accounting; the PostHog protocol.
    "delivery": frozenset(),
    "posthog": frozenset({"contract", "privacy", "delivery"}),
    "export": frozenset({*_BOT_SIDE, "delivery", "posthog"}),
    "store": frozenset({"contract", "privacy"}),
    "receive": frozenset({"contract", "privacy", "store"}),
    "analytics": frozenset({"contract", "privacy", "store"}),
    "exhaust": frozenset({"contract", "privacy", "store", "analytics"}),
    "web": frozenset(
        {"contract", "privacy", "store", "receive", "analytics", "exhaust", "export"}
        | {"delivery", "posthog"}
    ),
    "cli": frozenset(
        {"contract", "privacy", "store", "receive", "analytics", "exhaust", "web", "export"}
        | {"delivery", "posthog"}
    ),
}
#: Modules at the package's top: helpers any layer may use (they import nothing of ours).
HELPERS = frozenset({"_deprecated", "_lazy", "_private"})
#: Old spellings kept for a deprecation period: they forward by name, importing nothing.
SHIMS = frozenset({"collector"})
COLLECTOR_SIDE = frozenset({"store", "receive", "analytics", "exhaust", "web", "cli"})
API_ONLY = frozenset(
    {"contract", "privacy", "correlation", "signals", "bot", "agents", "dependencies"}
    | {"delivery", "posthog"}
)
RUNTIMES = ("botbuilder", "botframework", "microsoft_agents")


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # absolute


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Parsed once per file and text: every test reads the whole package again (nine times).
@functools.cache
def _imports(path: Path, source: str) -> tuple[Import, ...]:
    tree = ast.parse(source, str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from .. import contract" imports the module bot_telemetry.contract
            targets = [f"{module}.{alias.name}" for alias in node.names] if node.level else []
            found.append(Import(path, node.lineno, module))
            found.extend(Import(path, node.lineno, target) for target in targets)
    return tuple(found)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "bot_telemetry" or len(parts) < 2:
        return None
    return parts[1]


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _violations(extra: dict[Path, str] | None = None) -> list[str]:
    problems = []
    sources = {path: path.read_text(encoding="utf-8") for path in _sources()}
    sources.update(extra or {})
    for path, source in sources.items():
        own = _layer(_module_name(path))
        if own is None or own in SHIMS:
            continue  # the package's facade (__init__) may import anything
        for found in _imports(path, source):
            where = f"{found.path.relative_to(PACKAGE.parent)}:{found.line}"
            top = found.module.split(".")[0]
            if top == "sample_bot":
                problems.append(f"{where}: the library imports the sample ({found.module})")
            if own in COLLECTOR_SIDE and top in RUNTIMES:
                problems.append(f"{where}: the collector side imports a bot runtime ({top})")
            if own in API_ONLY and found.module.startswith("opentelemetry.sdk"):
                problems.append(f"{where}: layer {own} must use the OpenTelemetry API only")
            if own in {"bot", "dependencies", "signals"} and top == "microsoft_agents":
                problems.append(f"{where}: layer {own} imports the Agents SDK")
            if own == "agents" and top in ("botbuilder", "botframework"):
                problems.append(f"{where}: layer agents imports botbuilder")
            target = _layer(found.module)
            if target is None or target == own:
                continue
            if own in HELPERS:
                problems.append(f"{where}: helper module {own} imports {found.module}")
            elif target not in HELPERS and target not in ALLOWED.get(own, frozenset()):
                problems.append(f"{where}: layer {own} imports layer {target} ({found.module})")
    return problems


def test_every_layer_is_known() -> None:
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    layers |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert layers - set(ALLOWED) - HELPERS - SHIMS == set()


def test_no_layer_imports_a_layer_above_it() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ..web import render\n", "layer analytics imports layer web"),
        ("import sample_bot.demo\n", "the library imports the sample"),
        ("def f():\n    from botbuilder.core import TurnContext\n", "imports a bot runtime"),
        ("from opentelemetry.sdk.trace import TracerProvider\n", "OpenTelemetry API only"),
    ],
)
def test_the_check_sees_a_violation(source: str, expected: str) -> None:
    # The check itself can fail: add a module with a bad import and look for the complaint.
    layer = "signals" if "opentelemetry.sdk" in source else "analytics"
    planted = PACKAGE / layer / "planted.py"
    assert not any(expected in problem for problem in _violations())
    assert any(expected in problem for problem in _violations({planted: source}))
