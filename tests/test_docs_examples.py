"""Every Python block of README.md and docs/*.md runs as written, or says why not.

A block runs unless an HTML comment right before it says why not
(``<!-- not run: needs your bot's adapter -->``). The blocks of one document run in order in
one process, as cells of a notebook (a later block may use what an earlier one made), in a
folder whose ``.bot-telemetry/telemetry.duckdb`` holds the test helpers' traffic, with
``configure()`` exporting to a closed port. A line ``expression  # value`` whose comment is a
Python literal (with no ``...`` in it) must show what the expression gives.

Blocks that do not run are still checked: they must parse (top-level ``await`` allowed, as
fragments of async handlers), every ``bot_telemetry`` name they import or use must exist and
take the arguments they give it, and so must every ``bot_telemetry.x.Name`` the package's
docstrings give.
Blocks that start a server are run by their own tests (tests/agents/test_docs.py,
tests/receive/sunbird/test_http.py).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(
    r"(?:<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*\n\s*)?^```python\n(?P<code>.*?)^```",
    re.S | re.M,
)
_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    code: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def blocks(document: Path) -> list[Block]:
    text = document.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code"))  # the fence's line, from 1
        found.append(Block(document, line, match.group("code"), match.group("reason")))
    return found


ALL_BLOCKS = [block for document in DOCUMENTS for block in blocks(document)]
RUN = sorted({block.document for block in ALL_BLOCKS if block.not_run is None})


def _names_used(tree: ast.AST) -> list[tuple[str, str]]:
    """(module, name) for each ``from bot_telemetry... import name`` and each
    ``bot_telemetry.name`` after ``import bot_telemetry``."""
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot_telemetry"):
            used += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            used += [(alias.name, "") for alias in node.names if alias.name.startswith("bot_")]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "bot_telemetry"
        ):
            used.append(("bot_telemetry", node.attr))
    return used


def _wrong_calls(tree: ast.AST, where: str) -> list[str]:
    """Calls of ``bot_telemetry`` names whose arguments their signature does not take (a
    keyword renamed, one positional too many)."""
    import inspect

    import bot_telemetry

    imported: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot_telemetry"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                if hasattr(module, alias.name):
                    imported[alias.asname or alias.name] = getattr(module, alias.name)
    wrong = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in imported:
            name, called = func.id, imported[func.id]
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "bot_telemetry"
            and hasattr(bot_telemetry, func.attr)
        ):
            name, called = f"bot_telemetry.{func.attr}", getattr(bot_telemetry, func.attr)
        else:
            continue
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            keyword.arg is None for keyword in node.keywords
        ):
            continue
        try:
            signature = inspect.signature(called)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        try:
            signature.bind(*node.args, **{keyword.arg or "": None for keyword in node.keywords})
        except TypeError as error:
            wrong.append(f"{where}, line {node.lineno}: {name}{signature}: {error}")
    return wrong


def test_the_documents_have_python_blocks_and_some_run() -> None:
    # The pattern finds what a reader sees: if it stopped matching, nothing would be checked.
    assert len(ALL_BLOCKS) >= 20, [block.where for block in ALL_BLOCKS]
    assert REPO / "docs" / "measures.md" in RUN, RUN
    unexplained = [block.where for block in ALL_BLOCKS if block.not_run == ""]
    assert not unexplained, f"<!-- not run: ... --> says why: {unexplained}"


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.where)
def test_every_block_parses_and_names_what_exists(block: Block) -> None:
    try:
        tree = compile(block.code, block.where, "exec", flags=_FLAGS)
    except SyntaxError as error:
        pytest.fail(f"{block.where}: not Python: {error}")
    for module_name, name in _names_used(tree):
        module = importlib.import_module(module_name)
        if name and not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ModuleNotFoundError:
                pytest.fail(f"{block.where}: {module_name} has no {name}")
    wrong = _wrong_calls(tree, block.where)
    assert not wrong, wrong


def test_the_blocks_that_run_run_as_written(tmp_path: Path) -> None:
    """All documents in one process (one start, one store), each in its own namespace."""
    from tests.support.measure_traffic import planned_store

    (tmp_path / ".bot-telemetry").mkdir()
    planned_store(tmp_path / ".bot-telemetry" / "telemetry.duckdb")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        # configure() in a block must not send to a collector of someone else's on
        # 127.0.0.1:4318, nor wait out retries at exit against a port where nothing listens.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        **{f"OTEL_{signal}_EXPORTER": "none" for signal in ("TRACES", "LOGS", "METRICS")},
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.test_docs_examples", *map(str, RUN)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _docstrings() -> list[tuple[str, str]]:
    """(where, docstring) of every module of the package and of its classes, functions and
    methods."""
    import inspect
    import pkgutil

    import bot_telemetry

    found = []
    for info in pkgutil.walk_packages(bot_telemetry.__path__, "bot_telemetry."):
        if info.name.endswith("__main__"):  # runs the command
            continue
        module = importlib.import_module(info.name)
        found.append((info.name, module.__doc__ or ""))
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) != info.name:
                continue
            if inspect.isfunction(value) or inspect.isclass(value):
                found.append((f"{info.name}.{name}", value.__doc__ or ""))
            if inspect.isclass(value):
                found += [
                    (f"{info.name}.{name}.{member}", method.__doc__ or "")
                    for member, method in vars(value).items()
                    if inspect.isfunction(method)
                ]
    return found


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for part in parts[end:]:
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def test_every_bot_telemetry_name_a_docstring_gives_exists() -> None:
    """``bot_telemetry.x.Name`` in a docstring, and ``from bot_telemetry.x import Name`` in
    its examples, name something there (``help()`` is documentation a reader copies from).
    Telemetry names that look dotted (the metric ``bot_telemetry.telemetry.dropped``) are
    constants of the contract or the delivery layer, not Python names."""
    from bot_telemetry import contract, delivery

    telemetry_names = {
        value
        for module in (contract, delivery)
        for value in vars(module).values()
        if isinstance(value, str)
    }
    wrong = []
    for where, text in _docstrings():
        for dotted in re.findall(r"``(bot_telemetry(?:\.\w+)+)(?:\(\))?``", text):
            if dotted not in telemetry_names and not _resolves(dotted):
                wrong.append(f"{where}: {dotted}")
        for module, names in re.findall(r"from (bot_telemetry[\w.]*) import \(?([\w, ]+)", text):
            wrong += [
                f"{where}: from {module} import {name}"
                for name in (part.strip() for part in names.split(","))
                if name and not _resolves(f"{module}.{name}")
            ]
    assert not wrong, wrong


def _shown(line: str) -> object:
    """The value a ``# comment`` shows, or ``Ellipsis`` when it shows none exactly."""
    comment = line.partition("#")[2].strip()
    try:
        value = ast.literal_eval(comment)
    except (ValueError, SyntaxError):
        return Ellipsis
    return Ellipsis if "..." in comment else value


def run_document(document: Path) -> None:
    """Run ``document``'s blocks that run, in order, in one namespace."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks(document):
        if block.not_run is not None:
            continue
        tree = ast.parse(block.code, block.where)
        lines = block.code.splitlines()
        for statement in tree.body:
            code = compile(ast.Module([statement], []), block.where, "exec")
            if not isinstance(statement, ast.Expr) or "#" not in lines[statement.end_lineno - 1]:
                exec(code, namespace)
                continue
            shown = _shown(lines[statement.end_lineno - 1])
            value = eval(compile(ast.Expression(statement.value), block.where, "eval"), namespace)
            line = block.line + statement.lineno
            assert shown is Ellipsis or value == shown, (
                f"{document.name}:{line} shows {shown!r}, gives {value!r}"
            )


if __name__ == "__main__":
    import traceback

    failed = []
    for argument in sys.argv[1:]:
        try:
            run_document(Path(argument))
        except Exception:
            failed.append(argument)
            traceback.print_exc()
    sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
