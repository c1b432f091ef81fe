"""Every Python block of README.md and docs/*.md runs as written, or says why not.

A block runs unless an HTML comment right before it says why not
(``<!-- not run: needs your bot's adapter -->``). The blocks of one document run in order in
one process, as cells of a notebook (a later block may use what an earlier one made), in a
folder whose ``.bot-telemetry/telemetry.duckdb`` holds the test helpers' traffic, with
``configure()`` exporting to a closed port. A line ``expression  # value`` whose comment is a
Python literal (with no ``...`` in it) must show what the expression gives.

Blocks that do not run are still checked: they must parse (top-level ``await`` allowed, as
fragments of async handlers), and every ``bot_telemetry`` name they import or use must exist.
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


def test_the_documents_have_python_blocks_and_some_run() -> None:
    # The pattern finds what a reader sees: if it stopped matching, nothing would be checked.
    assert len(ALL_BLOCKS) >= 20, [block.where for block in ALL_BLOCKS]
    assert REPO / "docs" / "measures.md" in RUN, RUN


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


@pytest.mark.parametrize("document", RUN, ids=lambda path: str(path.relative_to(REPO)))
def test_the_blocks_that_run_run_as_written(document: Path, tmp_path: Path) -> None:
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
        [sys.executable, "-m", "tests.test_docs_examples", str(document)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


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
    run_document(Path(sys.argv[1]))
