"""Set one telemetry client on a whole Agents SDK dialog tree.

microsoft-agents-hosting-dialogs, like botbuilder-dialogs, does not pass a telemetry
client down: ``DialogSet.add`` leaves the added dialog on the null client, and
``ComponentDialog`` keeps its children in a private ``DialogSet`` its
``telemetry_client`` setter never touches. Call this after the tree is built (dialogs
added later need another call):

    set_telemetry_client(booking_dialog, OpenTelemetryAgentTelemetryClient())

``dialogs_in`` walks the same tree, for anything else that must reach every dialog
(prompts included).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

from microsoft_agents.hosting.dialogs import ComponentDialog, Dialog, DialogManager, DialogSet
from microsoft_agents.hosting.dialogs.dialog_container import DialogContainer

from .._private import component_dialog_set, dialog_set_dialogs

__all__ = ["DialogTree", "dialogs_in", "set_telemetry_client"]

DialogTree: TypeAlias = Dialog | DialogSet | DialogManager


def set_telemetry_client(root: DialogTree, client: Any) -> int:
    """Set ``client`` on ``root`` and every dialog and dialog set below it.

    Returns how many dialogs were set. Cycles and shared dialogs are visited once.
    ``None`` restores the SDK's null client.
    """
    dialogs = 0
    for node in _nodes(root):
        if isinstance(node, Dialog):
            node.telemetry_client = client
            dialogs += 1
        elif isinstance(node, DialogSet):
            node.telemetry_client = client
    return dialogs


def dialogs_in(root: DialogTree) -> Iterator[Dialog]:
    """Every dialog in the tree under ``root`` (itself included), each once."""
    for node in _nodes(root):
        if isinstance(node, Dialog):
            yield node


def _nodes(root: DialogTree) -> Iterator[object]:
    if not isinstance(root, Dialog | DialogSet | DialogManager):
        raise TypeError(
            f"takes a Dialog, DialogSet or DialogManager of microsoft-agents-hosting-dialogs, "
            f"not {type(root).__name__}"
        )
    seen: set[int] = set()
    pending: list[object] = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        pending.extend(_children(node))


def _children(node: object) -> Iterable[object]:
    if isinstance(node, DialogSet):
        return dialog_set_dialogs(node)
    if isinstance(node, ComponentDialog):
        return [component_dialog_set(node)]
    if isinstance(node, DialogContainer):
        return [node.dialogs]
    if isinstance(node, DialogManager):
        return [child for child in (node.root_dialog, node.dialogs) if child is not None]
    return []
