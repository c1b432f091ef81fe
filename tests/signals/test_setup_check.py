"""One warning when the bot's telemetry would go nowhere, and none when it would not."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from bot_telemetry.signals import setup_check
from bot_telemetry.signals.setup_check import NOT_CONFIGURED, warn_if_not_recording


@pytest.fixture(autouse=True)
def fresh() -> None:
    setup_check.reset_warning()


def test_a_span_from_no_sdk_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot_telemetry"):
        assert warn_if_not_recording(trace.INVALID_SPAN)
        assert not warn_if_not_recording(trace.INVALID_SPAN)
    assert [r.getMessage() for r in caplog.records] == [NOT_CONFIGURED]
    assert "configure(" in NOT_CONFIGURED


def test_a_span_an_sdk_sampled_out_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    span = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_span("turn")
    assert not span.is_recording()
    with caplog.at_level(logging.WARNING, logger="bot_telemetry"):
        assert not warn_if_not_recording(span)
    assert caplog.records == []
