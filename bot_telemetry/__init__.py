"""bot-telemetry: end-to-end, correlated OpenTelemetry telemetry for Bot Framework bots.

import bot_telemetry
telemetry = bot_telemetry.configure(service_name="bot")
adapter.use(bot_telemetry.TelemetryMiddleware())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy

if TYPE_CHECKING:
    from .bot.consent import record_consent
    from .bot.dialogs import set_telemetry_client
    from .bot.middleware import TelemetryMiddleware
    from .bot.prompts import record_prompt_answers
    from .bot.telemetry_client import OpenTelemetryBotTelemetryClient
    from .correlation.client import instrument_aiohttp_client
    from .correlation.server import instrument_app, telemetry_middleware
    from .dependencies.llm import llm_event_hooks
    from .dependencies.middleware import TimedMiddleware
    from .dependencies.qna import TelemetryQnA
    from .dependencies.recognizer import TelemetryRecognizer
    from .dependencies.storage import TelemetryStorage
    from .export.configure import Telemetry, configure
    from .privacy import PrivacyPolicy

# Imported on first use: botbuilder only by a bot, the OpenTelemetry SDK only by what calls
# configure(), so the collector and the command line (which import bot_telemetry.* modules,
# and so this package) start without them.
_LAZY = {
    "configure": ".export",
    "Telemetry": ".export",
    "PrivacyPolicy": ".privacy",
    "TelemetryMiddleware": ".bot.middleware",
    "OpenTelemetryBotTelemetryClient": ".bot.telemetry_client",
    "set_telemetry_client": ".bot.dialogs",
    "record_prompt_answers": ".bot.prompts",
    "record_consent": ".bot.consent",
    "instrument_app": ".correlation.server",
    "telemetry_middleware": ".correlation.server",
    "instrument_aiohttp_client": ".correlation.client",
    "TelemetryRecognizer": ".dependencies.recognizer",
    "TelemetryQnA": ".dependencies.qna",
    "TelemetryStorage": ".dependencies.storage",
    "TimedMiddleware": ".dependencies.middleware",
    "llm_event_hooks": ".dependencies.llm",
}


__getattr__ = lazy(__name__, _LAZY)


__all__ = [
    "OpenTelemetryBotTelemetryClient",
    "PrivacyPolicy",
    "Telemetry",
    "TelemetryMiddleware",
    "TelemetryQnA",
    "TelemetryRecognizer",
    "TelemetryStorage",
    "TimedMiddleware",
    "configure",
    "instrument_aiohttp_client",
    "instrument_app",
    "llm_event_hooks",
    "record_consent",
    "record_prompt_answers",
    "set_telemetry_client",
    "telemetry_middleware",
]
