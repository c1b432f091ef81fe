"""Journeys: funnels (and why users dropped off), user flows (paths) and retention, each one
query over the logical model that runs on every engine (docs/funnels.md).

    from bot_telemetry.analytics import journeys
    journeys.funnel(engine, {"steps": ["LuisIntent.BookTable", "WaterfallComplete"]})
"""

from .funnel import FunnelResult, funnel
from .requests import FunnelRequest, PathsRequest, RequestError, RetentionRequest

__all__ = [
    "FunnelRequest",
    "FunnelResult",
    "PathsRequest",
    "RequestError",
    "RetentionRequest",
    "funnel",
]
