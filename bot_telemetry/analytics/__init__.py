"""Analytics layer: the queries every view answers: app map, transactions, conversations,
custom events, client events, measures over time, funnels, user flows and retention, each on
any engine.

``query`` runs measures (``bot_telemetry.analytics.measures``); ``bot_telemetry.analytics.journeys``
has ``funnel``, ``dialog_funnels``, ``paths`` and ``retention``; a bad request to any of them
raises ``RequestError``. ``Query`` (in the module ``bot_telemetry.analytics.query``) is one
named query of the model.

    from bot_telemetry.analytics import journeys, query
    from bot_telemetry.store.location import open_engine, parse_store

    engine = open_engine(parse_store(".bot-telemetry/telemetry.duckdb"))
    query(engine, start_time="2026-11-01T00:00:00Z", measures=["activeUsers"])[0].response
    journeys.funnel(engine, {"steps": ["LuisIntent.BookTable", "WaterfallComplete"]})["steps"]
"""

from .measures import MeasureResult, MeasureSpec, RequestError, query
from .window import EVERYTHING, TimeWindow

__all__ = ["EVERYTHING", "MeasureResult", "MeasureSpec", "RequestError", "TimeWindow", "query"]
