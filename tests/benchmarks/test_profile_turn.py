"""profile_turn charges sampled stacks to the telemetry entry point that spent them."""

from __future__ import annotations

from benchmarks.profile_turn import attribute

MAIN = "thread (1): MainThread;<module> (runpy.py:1)"
MIDDLEWARE = "on_turn (/v/site-packages/bot_telemetry/bot/middleware.py:70)"
SDK = "start_span (/v/site-packages/opentelemetry/sdk/trace/__init__.py:1200)"
BOT = "on_message_activity (/v/site-packages/botbuilder/core/activity_handler.py:40)"
STORAGE = "read (/v/site-packages/bot_telemetry/dependencies/storage.py:80)"
EXPORT = "thread (2): bot-telemetry-export-traces;_drain (/v/bot_telemetry/export/batching.py:123)"


def test_telemetry_work_is_charged_to_where_the_bot_called_it() -> None:
    raw = "\n".join(
        [
            f"{MAIN};{MIDDLEWARE};{SDK} 10",  # telemetry on the turn's thread
            f"{MAIN};{MIDDLEWARE};{BOT} 50",  # the bot, called through the middleware
            f"{MAIN};{MIDDLEWARE};{BOT};{STORAGE} 4",  # a wrapper the bot called
            f"{MAIN};{BOT} 40",  # the bot alone
            f"{EXPORT};encode (/v/site-packages/opentelemetry/exporter/x.py:9) 5",
            "not a stack line",
        ]
    )

    report = attribute(raw, turns=100, rate=1000, depth=1)

    # 14 samples at 1 kHz over 100 turns: 140 us per turn
    assert report["us_per_turn"] == {"export": 50.0, "turn": 140.0}
    entries = {row["entry"]: row["us_per_turn"] for row in report["by_entry_point"]}
    assert entries == {
        "on_turn (bot_telemetry/bot/middleware.py)": 100.0,
        "read (bot_telemetry/dependencies/storage.py)": 40.0,
        "_drain (bot_telemetry/export/batching.py)": 50.0,
    }


def test_depth_names_the_telemetry_frames_below_the_entry() -> None:
    report = attribute(f"{MAIN};{MIDDLEWARE};{SDK} 3", turns=1, rate=1000, depth=2)

    [row] = report["by_entry_point"]
    assert row["entry"] == (
        "on_turn (bot_telemetry/bot/middleware.py)"
        " > start_span (opentelemetry/sdk/trace/__init__.py)"
    )
