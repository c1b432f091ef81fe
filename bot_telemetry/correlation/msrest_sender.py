"""msrest's ``requests`` senders, which botframework-connector uses to call the channel.

The async sender (the bot's replies, ``TeamsInfo.get_member``) runs ``requests`` in a
worker thread; we wrap its ``send`` coroutine, which still runs on the event loop in the
turn's context, so the span and injected headers belong to the right turn. The synchronous
one (botbuilder's ``TeamsConnectorClient``: ``TeamsInfo.get_team_details``,
``get_team_channels``) sends on the caller's thread, in the turn's context too; its
``send`` is wrapped the same way. The async sender does not go through the synchronous
``send``, so no call gets two spans.

msrest is not imported for this: a bot on the Agents SDK (whose connector uses aiohttp)
never loads it. When it is not loaded yet, the senders are wrapped the moment they are.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from yarl import URL

from .outgoing import OutgoingRequest, start_quietly

_log = logging.getLogger(__name__)


_MODULE = "msrest.universal_http.async_requests"
_SYNC_MODULE = "msrest.universal_http.requests"


def instrument() -> bool:
    """Wrap ``AsyncRequestsHTTPSender.send`` and ``RequestsHTTPSender.send`` now, or each
    when its msrest module is first imported; False when msrest is not installed."""
    waiting = False
    for name in (_MODULE, _SYNC_MODULE):
        module = sys.modules.get(name)
        if module is not None:
            _wrap_module(name, module)
        else:
            waiting = True
    if not waiting:
        return True
    try:
        installed = importlib.util.find_spec("msrest") is not None
    except ValueError:  # a half-initialised msrest in sys.modules
        installed = False
    if not installed:
        return False
    if not any(isinstance(finder, _WrapOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _WrapOnImport())
    return True


def _wrap_module(name: str, module: ModuleType) -> bool:
    return _wrap(module) if name == _MODULE else _wrap_sync(module)


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Finds msrest's sender module as the normal path finder would, and wraps the sender
    once the module has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in (_MODULE, _SYNC_MODULE):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_module = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            _wrap_module(fullname, module)
            # Both wrapped: nothing left to wait for.
            if all(name in sys.modules for name in (_MODULE, _SYNC_MODULE)):
                if self in sys.meta_path:
                    sys.meta_path.remove(self)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _wrap(module: ModuleType) -> bool:
    sender = module.AsyncRequestsHTTPSender
    original = sender.send
    if getattr(original, "__bot_telemetry__", False):
        return True

    @functools.wraps(original)
    async def send(self: Any, request: Any, **kwargs: Any) -> Any:
        outgoing = _start(request)
        if outgoing is None:
            return await original(self, request, **kwargs)
        try:
            response = await original(self, request, **kwargs)
        except BaseException as error:
            outgoing.fail(error)
            raise
        return _finished(outgoing, response)

    _install(sender, send)
    return True


def _wrap_sync(module: ModuleType) -> bool:
    sender = module.RequestsHTTPSender
    original = sender.send
    if getattr(original, "__bot_telemetry__", False):
        return True

    @functools.wraps(original)
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        outgoing = _start(request)
        if outgoing is None:
            return original(self, request, **kwargs)
        try:
            response = original(self, request, **kwargs)
        except BaseException as error:
            outgoing.fail(error)
            raise
        return _finished(outgoing, response)

    _install(sender, send)
    return True


def _start(request: Any) -> OutgoingRequest | None:
    try:
        return start_quietly(str(request.method), URL(str(request.url)), request.headers)
    except ValueError:
        _log.debug("unparsable URL in an msrest request", exc_info=True)
        return None


def _finished(outgoing: OutgoingRequest, response: Any) -> Any:
    outgoing.finish(int(getattr(response, "status_code", 0) or 0))
    return response


def _install(sender: Any, send: Any) -> None:
    send.__bot_telemetry__ = True
    sender.send = send
