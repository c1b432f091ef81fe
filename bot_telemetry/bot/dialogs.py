"""Set one telemetry client on a whole dialog tree.

botbuilder-dialogs does not pass a telemetry client down: ``DialogSet.add`` leaves the
added dialog on the null client, and ``ComponentDialog`` keeps its children in a private
``DialogSet`` its ``telemetry_client`` setter never touches. Call this after the tree is
built (dialogs added later need another call):

    set_telemetry_client(main_dialog, OpenTelemetryBotTelemetryClient())
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeAlias

from botbuilder.core import BotTelemetryClient
from botbuilder.dialogs import ComponentDialog, Dialog, DialogSet
from botbuilder.dialogs.dialog_container import DialogContainer
from botbuilder.dialogs.dialog_manager import DialogManager

from .._private import component_dialog_set, dialog_set_dialogs

DialogTree: TypeAlias = Dialog | DialogSet | DialogManager


def set_telemetry_client(root: DialogTree, client: BotTelemetryClient | None) -> int:
    """Set ``client`` on ``root`` and every dialog and dialog set below it.

    Returns how many dialogs were set. Cycles and shared dialogs are visited once.
    ``None`` restores botbuilder's null client.
    """
    dialogs = 0
    for node in walk_dialogs(root, "set_telemetry_client"):
        if isinstance(node, Dialog):
            node.telemetry_client = client
            dialogs += 1
        elif isinstance(node, DialogSet):
            node.telemetry_client = client
    return dialogs


def walk_dialogs(root: DialogTree, caller: str = "walk_dialogs") -> Iterator[object]:
    """Every dialog and dialog set in the tree below ``root`` (``root`` included), once each."""
    if not isinstance(root, Dialog | DialogSet | DialogManager):
        raise TypeError(
            f"{caller}() takes a Dialog, DialogSet or DialogManager, not {type(root).__name__}"
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
