"""What the sink (``_sink``) received for one tenant, asked over HTTP."""

from __future__ import annotations

import json
import urllib.request


def sink_counts(tenant_url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{tenant_url}/counts", timeout=10) as response:
        counts: dict[str, int] = json.loads(response.read())
        return counts
