"""Helpers shared by the tests: free ports, real processes, in-memory telemetry."""
