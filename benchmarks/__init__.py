"""Benchmarks: what telemetry costs a bot, and how far the store scales (see BENCHMARKS.md)."""
