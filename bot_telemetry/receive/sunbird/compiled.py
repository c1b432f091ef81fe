"""The schemas of ``schemas.py`` compiled, once per eid, into straight-line Python that only
answers "valid or not": no node objects walked, no ``Problem`` built, for the common case of a
valid event. ``validate`` asks it first and asks the schema nodes only when it says no, so a
refused event gets the same first problem and message as before, and an accepted one is
exactly what the nodes accept (tests/receive/sunbird/test_compiled.py checks both on
generated events).

    accepts = compile_event(ENVELOPE, EDATA["FEEDBACK"])
    accepts({"eid": "FEEDBACK", ...})   # True or False

Each check is written as the node's own ``check`` decides (``type(v) is str``, bounds as
``not v < minimum``, required fields present, closed objects without other fields), so the
two stay one rule in two forms; a node type the compiler does not know is refused at import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .schemas import Anything, Array, Node, Number, Object, OneOf, Text

Check = Callable[[Any], bool]


class _Writer:
    """Python source for one check function, and the constants it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self._names = 0

    def name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def constant(self, value: Any) -> str:
        name = self.name("_c")
        self.constants[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def node(self, node: Node, value: str, depth: int) -> None:
        """Statements that ``return False`` unless ``value`` matches ``node``."""
        if type(node) is Anything or type(node) is Node:
            return
        if type(node) is Text:
            if node.non_empty:
                self.line(depth, f"if type({value}) is not str or not {value}: return False")
            else:
                self.line(depth, f"if type({value}) is not str: return False")
            return
        if type(node) is Number:
            self.line(
                depth,
                f"if type({value}) is not int and type({value}) is not float: return False",
            )
            if node.minimum is not None:
                minimum = self.constant(node.minimum)
                self.line(depth, f"if {value} < {minimum}: return False")
            if node.maximum is not None:
                maximum = self.constant(node.maximum)
                self.line(depth, f"if {value} > {maximum}: return False")
            return
        if type(node) is OneOf:
            values = self.constant(frozenset(node.values))
            self.line(
                depth, f"if type({value}) is not str or {value} not in {values}: return False"
            )
            return
        if type(node) is Array:
            self.line(depth, f"if type({value}) is not list: return False")
            if type(node.item) is not Anything:
                item = self.name("i")
                self.line(depth, f"for {item} in {value}:")
                before = len(self.lines)
                self.node(node.item, item, depth + 1)
                if len(self.lines) == before:
                    self.line(depth + 1, "pass")
            return
        if type(node) is Object:
            self.line(depth, f"if type({value}) is not dict: return False")
            for name, child in node.required:
                field = self.name("v")
                self.line(depth, f"{field} = {value}.get({name!r}, _MISSING)")
                self.line(depth, f"if {field} is _MISSING: return False")
                self.node(child, field, depth)
            for name, child in node.optional:
                field = self.name("v")
                self.line(depth, f"{field} = {value}.get({name!r}, _MISSING)")
                self.line(depth, f"if {field} is not _MISSING:")
                before = len(self.lines)
                self.node(child, field, depth + 1)
                if len(self.lines) == before:
                    self.lines.pop()  # any value will do: nothing to check
            if node.closed:
                known = self.constant(node.known)
                self.line(depth, f"if not {known}.issuperset({value}): return False")
            return
        raise TypeError(f"no compiled form for the schema node {type(node).__name__}")


_MISSING = object()


def compile_event(envelope: Object, edata: Object) -> Check:
    """A function saying whether an event matches ``envelope`` and, under its ``edata``
    field, ``edata``."""
    writer = _Writer()
    writer.line(0, "def accepts(event):")
    writer.node(envelope, "event", 1)
    writer.line(1, 'edata = event["edata"]')  # the envelope requires it
    writer.node(edata, "edata", 1)
    writer.line(1, "return True")
    namespace: dict[str, Any] = {
        "_MISSING": _MISSING,
        "str": str,
        "int": int,
        "float": float,
        "list": list,
        "dict": dict,
        "type": type,
        **writer.constants,
    }
    exec(compile("\n".join(writer.lines), f"<sunbird schema {id(edata):x}>", "exec"), namespace)
    accepts: Check = namespace["accepts"]
    return accepts


def compile_all(envelope: Object, edata: dict[str, Object]) -> dict[str, Check]:
    """``compile_event`` for each eid."""
    return {eid: compile_event(envelope, schema) for eid, schema in edata.items()}
