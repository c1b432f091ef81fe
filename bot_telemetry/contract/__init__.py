"""The telemetry contract: event names, property keys, span attributes and the analytics
vocabulary. The bottom layer: every other layer imports it, it imports nothing of ours, so
a renamed key breaks at import time rather than in a dashboard.

    from bot_telemetry.contract import BOT_MESSAGE_RECEIVED, CONVERSATION_ID, TURN_SPAN_NAME
"""

from .analytics import *  # noqa: F403
from .answers import *  # noqa: F403
from .client_events import *  # noqa: F403
from .events import *  # noqa: F403
from .metrics import *  # noqa: F403
from .properties import *  # noqa: F403
from .spans import *  # noqa: F403
