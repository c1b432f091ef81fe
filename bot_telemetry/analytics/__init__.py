"""Analytics layer: the queries every view answers: app map, transactions, conversations,
custom events, client events and measures over time, each on any engine.

``query`` runs measures (``bot_telemetry.analytics.measures``); ``Query`` (in the module
``bot_telemetry.analytics.query``) is one named query of the model.
"""

from .measures import MeasureResult, MeasureSpec, RequestError, query
from .window import EVERYTHING, TimeWindow

__all__ = ["EVERYTHING", "MeasureResult", "MeasureSpec", "RequestError", "TimeWindow", "query"]
