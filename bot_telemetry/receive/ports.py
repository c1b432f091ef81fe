"""The OTLP specification's default ports, apart from the receivers: the command line names
them in ``serve --help`` without importing protobuf."""

from __future__ import annotations

DEFAULT_GRPC_PORT = 4317
DEFAULT_HTTP_PORT = 4318

__all__ = ["DEFAULT_GRPC_PORT", "DEFAULT_HTTP_PORT"]
