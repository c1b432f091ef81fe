"""Exhaust layer: data exports of what users answered, with their consent, as Sunbird UCI's
data exhaust jobs (submit, read, list; a runner; files behind links that expire).

    from bot_telemetry.exhaust import Exhaust, ExhaustSettings
    exhaust = Exhaust(engine, ExhaustSettings.beside(store_path))
    exhaust.submit(body, base_url=url); exhaust.run_pending(); exhaust.read(tag, rid, base_url=url)

See docs/exhaust.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy

if TYPE_CHECKING:
    from .requests import DATASETS, PRIVATE_EXHAUST, RESPONSE_EXHAUST, RequestError, parse_submit
    from .service import Exhaust, ExhaustSettings

# Imported on first use: `serve --exhaust-schedule` is checked with .schedule alone, and
# .service imports the engines (DuckDB, sqlglot) the command line's parsing has no use for.
__getattr__ = lazy(
    __name__,
    {
        **dict.fromkeys(
            ("DATASETS", "PRIVATE_EXHAUST", "RESPONSE_EXHAUST", "RequestError", "parse_submit"),
            ".requests",
        ),
        "Exhaust": ".service",
        "ExhaustSettings": ".service",
    },
)

__all__ = [
    "DATASETS",
    "PRIVATE_EXHAUST",
    "RESPONSE_EXHAUST",
    "Exhaust",
    "ExhaustSettings",
    "RequestError",
    "parse_submit",
]
