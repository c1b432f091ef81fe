"""One ``POST /batch/`` to PostHog's capture API, and what its answer means.

The body is ``{"api_key", "historical_migration"?, "sent_at", "batch": [event, ...]}``,
gzipped. Events arrive here already encoded (``encode``), so the sender measures each one
once and builds the body by joining bytes.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from .events import LIB, LIB_VERSION
from .settings import PostHogSettings

if TYPE_CHECKING:
    import requests

_log = logging.getLogger(__name__)

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
#: Statuses worth another try later: throttled, timed out at a proxy, the server's trouble.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
#: Our own status for "no answer at all" (refused connection, timeout, reset).
NO_ANSWER = 0


def encode(event: Any) -> bytes:
    """One event as the JSON bytes it takes in the body."""
    return _JSON.encode(event).encode()


@dataclass(frozen=True)
class Answer:
    """PostHog's answer to one request: its status (``NO_ANSWER`` when none came), what it
    said, and how long it asked us to wait (``Retry-After``)."""

    status: int
    detail: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def retryable(self) -> bool:
        return self.status == NO_ANSWER or self.status in RETRYABLE


class CaptureClient:
    """Posts batches to one PostHog project over a kept-alive HTTP session.

    Not thread-safe: each sending thread keeps its own (``requests.Session`` is not).
    """

    def __init__(self, settings: PostHogSettings) -> None:
        self.settings = settings
        self.url = settings.batch_url
        self._head = b'{"api_key":' + encode(settings.api_key)
        # Imported here: serve loads this module whether or not it sends to PostHog,
        # and requests is a twentieth of a second of its start.
        import requests

        self._session = requests.Session()
        self._session.headers.update(
            {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": f"{LIB}/{LIB_VERSION}",
            }
        )

    def body(self, events: list[bytes], historical: bool = False) -> bytes:
        """The request body (before gzip) for already encoded events."""
        sent_at = encode(datetime.now(UTC).isoformat())
        parts = [self._head]
        if historical:
            parts.append(b',"historical_migration":true')
        parts += [b',"sent_at":', sent_at, b',"batch":[', b",".join(events), b"]}"]
        return b"".join(parts)

    def post(self, events: list[bytes], historical: bool = False) -> Answer:
        import requests

        data = gzip.compress(self.body(events, historical), compresslevel=5, mtime=0)
        try:
            response = self._session.post(
                self.url, data=data, timeout=self.settings.timeout_seconds
            )
        except requests.RequestException as error:
            return Answer(NO_ANSWER, f"{type(error).__name__}: {error}"[:300])
        if response.status_code == 200:
            return Answer(200)
        return Answer(
            response.status_code,
            _detail(response),
            retry_after(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._session.close()


def _detail(response: requests.Response) -> str:
    try:
        found = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(found, dict):
        return str(found.get("detail") or found.get("error") or found)[:300]
    return str(found)[:300]


def retry_after(header: str | None) -> float | None:
    """Seconds from ``Retry-After``: a number, or an HTTP date (None: absent or unreadable).
    Also the CLI's, when a ``serve`` it asks answers 429."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
