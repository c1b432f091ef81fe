"""What the measures say of themselves (GET /analytics/measures, the Measures page) stays true
to what they count."""

from __future__ import annotations

from bot_telemetry import contract
from bot_telemetry.analytics.measures import catalog


def test_active_users_names_every_turn_it_leaves_out() -> None:
    # The page's own events (webchat/join) were left out of activeUsers before its
    # description said so, and contactRelationUpdate never was said.
    doc = {m["measureType"]: m["doc"] for m in catalog()["measures"]}["activeUsers"]
    for left_out in (*contract.CHANNEL_ACTIVITY_TYPES, *contract.CLIENT_HOUSEKEEPING_EVENTS):
        assert left_out in doc
