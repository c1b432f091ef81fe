"""bot-telemetry on the Microsoft 365 Agents SDK (``pip install 'bot-telemetry[agents]'``).

The same contract as on botbuilder (span names, event names, property keys, attributes),
under the same names, so moving a bot is an import change:

    import bot_telemetry
    from bot_telemetry.agents import (
        OpenTelemetryAgentTelemetryClient, TelemetryMiddleware, TelemetryStorage,
        record_application_errors, set_telemetry_client,
    )

    bot_telemetry.configure(service_name="my-agent")   # the SDK's own spans stay out
    bot_telemetry.instrument_aiohttp_client()           # replies carry the trace
    web_app = web.Application(middlewares=[bot_telemetry.telemetry_middleware])
    adapter.use(TelemetryMiddleware())
    app = AgentApplication[TurnState](
        storage=TelemetryStorage(MemoryStorage()), connection_manager=connections
    )
    record_application_errors(app)
    set_telemetry_client(main_dialog, OpenTelemetryAgentTelemetryClient())

Nothing here imports botbuilder, and nothing on the botbuilder side imports this. Names
are imported on first use; the dependency wrappers live in ``bot_telemetry.dependencies``
(the layer above this one) and are reached from here for convenience.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..dependencies.agents_middleware import TimedMiddleware
    from ..dependencies.agents_storage import TelemetryStorage
    from ..dependencies.qna import TelemetryQnA
    from ..dependencies.recognition import RecognizerTelemetry as TelemetryRecognizer
    from .dialogs import dialogs_in, set_telemetry_client
    from .middleware import TelemetryMiddleware, record_application_errors
    from .telemetry_client import OpenTelemetryAgentTelemetryClient

_LAZY = {
    "TelemetryMiddleware": (".middleware", "TelemetryMiddleware"),
    "record_application_errors": (".middleware", "record_application_errors"),
    "OpenTelemetryAgentTelemetryClient": (".telemetry_client", "OpenTelemetryAgentTelemetryClient"),
    "set_telemetry_client": (".dialogs", "set_telemetry_client"),
    "dialogs_in": (".dialogs", "dialogs_in"),
    "TelemetryStorage": ("..dependencies.agents_storage", "TelemetryStorage"),
    "TimedMiddleware": ("..dependencies.agents_middleware", "TimedMiddleware"),
    # The Agents SDK has no recognizer type: the runtime-neutral wrapper is the one.
    "TelemetryRecognizer": ("..dependencies.recognition", "RecognizerTelemetry"),
    "TelemetryQnA": ("..dependencies.qna", "TelemetryQnA"),
}


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'bot_telemetry.agents' has no attribute {name!r}")
    module, attribute = found
    return getattr(importlib.import_module(module, __name__), attribute)


__all__ = [
    "OpenTelemetryAgentTelemetryClient",
    "TelemetryMiddleware",
    "TelemetryQnA",
    "TelemetryRecognizer",
    "TelemetryStorage",
    "TimedMiddleware",
    "dialogs_in",
    "record_application_errors",
    "set_telemetry_client",
]
