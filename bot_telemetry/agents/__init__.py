"""bot-telemetry on the Microsoft 365 Agents SDK (``pip install 'bot-telemetry[agents]'``).

The same contract as on botbuilder (span names, event names, property keys, attributes),
under the same names:

    import bot_telemetry
    from bot_telemetry.agents import (
        OpenTelemetryAgentTelemetryClient, TelemetryMiddleware, record_application_errors,
        record_consent, record_prompt_answers, set_telemetry_client,
    )
    from bot_telemetry.dependencies.agents import TelemetryStorage

    bot_telemetry.configure(service_name="my-agent")   # the SDK's own spans stay out
    bot_telemetry.instrument_aiohttp_client()           # replies carry the trace
    web_app = web.Application(middlewares=[bot_telemetry.telemetry_middleware])
    adapter.use(TelemetryMiddleware())
    app = AgentApplication[TurnState](
        storage=TelemetryStorage(MemoryStorage()), connection_manager=connections
    )
    record_application_errors(app)
    set_telemetry_client(main_dialog, OpenTelemetryAgentTelemetryClient())
    record_prompt_answers(main_dialog)           # a PromptAnswered event per answer
    await record_consent(context, granted)       # from a consent prompt (docs/exhaust.md)

Nothing here imports botbuilder, and nothing on the botbuilder side imports this. The
dependency wrappers (storage, middleware, recognizer, Q&A) are in
``bot_telemetry.dependencies.agents``, the layer above this one.
"""

from .consent import record_consent
from .dialogs import dialogs_in, set_telemetry_client
from .middleware import TelemetryMiddleware, record_application_errors
from .prompts import record_prompt_answers
from .telemetry_client import OpenTelemetryAgentTelemetryClient

__all__ = [
    "OpenTelemetryAgentTelemetryClient",
    "TelemetryMiddleware",
    "dialogs_in",
    "record_application_errors",
    "record_consent",
    "record_prompt_answers",
    "set_telemetry_client",
]
