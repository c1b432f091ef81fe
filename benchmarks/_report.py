"""What every benchmark reports besides its figures: the machine, and a plain-text table."""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPU count and model, Python, OS and the load when the run started."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: ``percentile(latencies, 0.99)`` is the p99."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def print_table(title: str, rows: Mapping[str, Any]) -> None:
    print(title, file=sys.stdout)
    width = max(len(name) for name in rows)
    for name, value in rows.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
        print(f"  {name:<{width}}  {shown}")
