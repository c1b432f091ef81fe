"""botbuilder's telemetry tests read ``track_event`` calls off a mock; these read what we
really emitted (the in-memory log exporter) back into the same shape: one ``Call`` per
custom event, in emit order, with its name, properties and measurements."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot_telemetry import contract
from tests.support.telemetry import CapturedTelemetry

#: Properties every custom event gets inside a TelemetryMiddleware turn (a documented
#: difference: botbuilder's components send none of them).
TURN_PROPERTIES = frozenset((*contract.ACTIVITY_PROPERTIES, *contract.TURN_IDENTITY_KEYS))


@dataclass(frozen=True)
class Call:
    name: str
    properties: dict[str, Any]
    measurements: dict[str, float] | None


def calls(telemetry: CapturedTelemetry, names: Collection[str] | None = None) -> list[Call]:
    """The custom events recorded so far (only those named ``names``, if given).

    Also checks what botbuilder's JSON would have made of them: every name, key and value
    is a plain ``str``/number/bool, never an ``Enum`` member (a ``str`` Enum compares equal
    to its value, so equality alone would not show it).
    """
    found = []
    for record in telemetry.events():
        attributes = dict(record.log_record.attributes or {})
        name = attributes.pop(contract.CUSTOM_EVENT_NAME)
        raw = attributes.pop(contract.CUSTOM_MEASUREMENTS, None)
        assert type(name) is str, f"event name {name!r} is a {type(name).__name__}"
        for key, value in attributes.items():
            assert type(key) is str, f"key {key!r} is a {type(key).__name__}"
            assert type(value) in (str, int, float, bool), f"{key}={value!r}"
        if names is None or name in names:
            measurements = json.loads(raw) if isinstance(raw, str) else None
            found.append(Call(name, attributes, measurements))
    return found


def assert_calls(
    actual: Sequence[Call],
    expected: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    compare_falsy: bool = False,
) -> None:
    """botbuilder's ``assert_telemetry_calls``: the same number of events, in order, each
    with its name and every listed key. A listed value is compared when it is truthy
    (``compare_falsy``: always, as the waterfall tests do)."""
    assert [call.name for call in actual] == [name for name, _ in expected]
    for index, (call, (name, properties)) in enumerate(zip(actual, expected, strict=True)):
        for key, value in properties.items():
            assert key in call.properties, f"[{index}] {name}: {key!r} missing"
            if value or compare_falsy:
                assert call.properties[key] == value, f"[{index}] {name}: {key!r}"


def without_turn_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in properties.items() if key not in TURN_PROPERTIES}
