"""Client telemetry: Sunbird v3 event bundles in, validated, de-duplicated, unbundled, enriched
and stored as events beside the bot's (docs/client-telemetry.md).

    from bot_telemetry.receive.sunbird import add_telemetry_routes
    receiver = add_telemetry_routes(app, writer, dedup_window=3600)

One module per step: ``schemas``, ``compiled`` (the schemas as one check per eid) and
``validate``, ``dedup``, ``enrich``, ``rows`` (an event as a stored row), ``ingest`` (the
pipeline), ``http`` (the endpoint).
"""

from .http import RECEIVER_KEY, TELEMETRY_PATH, add_telemetry_routes, telemetry_handler
from .ingest import BundleError, ClientHeaders, Outcome, SunbirdReceiver
from .schemas import Problem
from .validate import validate

__all__ = [
    "RECEIVER_KEY",
    "TELEMETRY_PATH",
    "BundleError",
    "ClientHeaders",
    "Outcome",
    "Problem",
    "SunbirdReceiver",
    "add_telemetry_routes",
    "telemetry_handler",
    "validate",
]
