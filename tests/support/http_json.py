"""JSON over real HTTP for tests: a POST answered with its status and its JSON body, an error
status included (urllib raises on those)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def post_json(url: str, body: Any, timeout: float = 30) -> tuple[int, Any]:
    """POST ``body`` as JSON to ``url``; the answer's status and its JSON."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
