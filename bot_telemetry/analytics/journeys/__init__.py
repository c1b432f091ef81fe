"""Journeys: funnels (and why users dropped off), dialog funnels, user flows (paths) and
retention, each one query over the logical model that runs on every engine
(docs/journeys.md).

    from bot_telemetry.analytics import journeys
    journeys.funnel(engine, {"steps": ["LuisIntent.BookTable", "WaterfallComplete"]})
    journeys.paths(engine, {"startEvent": "LuisIntent.BookTable"})
    journeys.retention(engine, {"period": "week"})
"""

from .dialogs import DialogFunnel, dialog_funnels
from .funnel import FunnelResult, funnel
from .paths import PathsResult, paths
from .requests import FunnelRequest, PathsRequest, RequestError, RetentionRequest
from .retention import RetentionResult, retention

__all__ = [
    "DialogFunnel",
    "FunnelRequest",
    "FunnelResult",
    "PathsRequest",
    "PathsResult",
    "RequestError",
    "RetentionRequest",
    "RetentionResult",
    "dialog_funnels",
    "funnel",
    "paths",
    "retention",
]
