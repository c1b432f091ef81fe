"""Request paths that get no SERVER span, named as OpenTelemetry's Python instrumentations
name them: ``OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS``, else ``OTEL_PYTHON_EXCLUDED_URLS``,
each a comma-separated list of regular expressions searched for in the request's path.

    OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS="^/healthz$,^/static/"

A health probe every few seconds, or a page's static files, would otherwise each be a trace
of their own beside the turns. The variables are read on each request (two lookups), so
they may be set before or after the app is made. Unlike OpenTelemetry's reading of them
(``opentelemetry-util-http``), an empty part is ignored rather than matching every path, and
a part that is not a regular expression is left out with a warning instead of raising.
"""

from __future__ import annotations

import functools
import logging
import os
import re

SERVER_EXCLUDED_URLS = "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"
EXCLUDED_URLS = "OTEL_PYTHON_EXCLUDED_URLS"

_log = logging.getLogger(__name__)


def excluded(path: str) -> bool:
    """Whether a request for ``path`` is left without a span."""
    text = os.environ.get(SERVER_EXCLUDED_URLS)
    if text is None:  # set, even empty, the aiohttp variable wins (as in OpenTelemetry's)
        text = os.environ.get(EXCLUDED_URLS)
    if not text:
        return False
    pattern = _pattern(text)
    return pattern is not None and pattern.search(path) is not None


# Keyed by the variable's text: compiled (and warned about) once per value it takes.
@functools.lru_cache(maxsize=8)
def _pattern(text: str) -> re.Pattern[str] | None:
    parts = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            re.compile(part)
        except re.error as error:
            _log.warning(
                "excluded URLs: %r is not a regular expression (%s); requests it was meant "
                "to leave out still get spans",
                part,
                error,
            )
            continue
        parts.append(f"(?:{part})")
    return re.compile("|".join(parts)) if parts else None
