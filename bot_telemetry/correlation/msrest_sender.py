"""msrest's async ``requests`` sender, which botframework-connector uses for the bot's replies.

The sender runs ``requests`` in a worker thread; we wrap its ``send`` coroutine, which still
runs on the event loop in the turn's context, so the span and injected headers belong to
the right turn.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from yarl import URL

from .outgoing import start_quietly

_log = logging.getLogger(__name__)


def instrument() -> bool:
    """Wrap ``AsyncRequestsHTTPSender.send``; False when msrest is not installed."""
    try:
        from msrest.universal_http.async_requests import AsyncRequestsHTTPSender
    except ImportError:
        return False
    original = AsyncRequestsHTTPSender.send
    if getattr(original, "__bot_telemetry__", False):
        return True

    @functools.wraps(original)
    async def send(self: Any, request: Any, **kwargs: Any) -> Any:
        outgoing = None
        try:
            outgoing = start_quietly(str(request.method), URL(str(request.url)), request.headers)
        except ValueError:
            _log.debug("unparsable URL in an msrest request", exc_info=True)
        if outgoing is None:
            return await original(self, request, **kwargs)
        try:
            response = await original(self, request, **kwargs)
        except BaseException as error:
            outgoing.fail(error)
            raise
        outgoing.finish(int(getattr(response, "status_code", 0) or 0))
        return response

    send.__bot_telemetry__ = True  # type: ignore[attr-defined]
    AsyncRequestsHTTPSender.send = send  # type: ignore[method-assign]
    return True
