"""Receive layer: OTLP exports in, rows out to the store's writer."""
