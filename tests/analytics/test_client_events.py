"""A client event's one-line label, the same whichever engine read its attributes."""

from __future__ import annotations

import pytest

from bot_telemetry.analytics.client_events import label


@pytest.mark.parametrize(
    ("eid", "edata", "expected"),
    [
        ("FEEDBACK", {"rating": 5}, "FEEDBACK rating 5 on sample-bot"),
        ("FEEDBACK", {"rating": "5"}, "FEEDBACK rating 5 on sample-bot"),  # ClickHouse: text
        ("FEEDBACK", {"rating": "2.5"}, "FEEDBACK rating 2.5 on sample-bot"),
        ("FEEDBACK", {"rating": "great"}, "FEEDBACK on sample-bot"),
        ("FEEDBACK", {"rating": "nan"}, "FEEDBACK on sample-bot"),
        ("FEEDBACK", {"rating": True}, "FEEDBACK on sample-bot"),
        ("END", {"type": "session", "duration": 6.29}, "END session after 6.29 s"),
        ("END", {"type": "session", "duration": "6.29"}, "END session after 6.29 s"),
        ("INTERACT", {"type": "CLICK", "id": "send-box"}, "INTERACT CLICK send-box"),
    ],
)
def test_labels_read_numbers_and_their_text_alike(
    eid: str, edata: dict[str, object], expected: str
) -> None:
    properties = {f"sunbird.edata.{key}": value for key, value in edata.items()}
    properties["sunbird.object.id"] = "sample-bot"
    assert label(eid, properties) == expected
