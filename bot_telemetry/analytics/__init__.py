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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .._lazy import lazy
from .window import EVERYTHING, TimeWindow

if TYPE_CHECKING:
    from .measures import MeasureResult, MeasureSpec, RequestError, query

# Imported on first use: .measures imports the engines (DuckDB, sqlglot), which the command
# line's argument parsing (.window's durations and times) has no use for.
__getattr__ = lazy(
    __name__,
    {name: ".measures" for name in ("MeasureResult", "MeasureSpec", "RequestError", "query")},
)

# ``query`` here is measures' function, but importing the submodule .query (Query) sets this
# package's ``query`` to that module, and then __getattr__ is never asked. Import it now (it
# is light) and drop the attribute its import set: the name goes to the function, as it did.
importlib.import_module(".query", __name__)
del globals()["query"]

__all__ = ["EVERYTHING", "MeasureResult", "MeasureSpec", "RequestError", "TimeWindow", "query"]
