"""A query of the logical model, written once and run on any engine.

    EDGES = Query("appmap.edges", "SELECT ... FROM spans WHERE start_ns >= $start ...")
    for row in EDGES.run(engine, start=0, end=2**63 - 1):
        ...

The SQL is DuckDB SQL over the relations of ``bot_telemetry.store.model`` with ``$name``
parameters and our macros (docs/analytics-model.md); each engine compiles it to its own
dialect once and keeps the result. Every query is registered by name in ``QUERIES``, which the
cross-engine test and the query benchmark walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.engine import Engine, Result

#: Every query defined in the package, by name.
QUERIES: dict[str, Query] = {}


@dataclass(frozen=True)
class Query:
    name: str
    sql: str

    def __post_init__(self) -> None:
        existing = QUERIES.get(self.name)
        if existing is not None and existing.sql != self.sql:
            raise ValueError(f"two queries are named {self.name!r}")
        QUERIES[self.name] = self

    def run(self, engine: Engine, **values: Any) -> Result:
        """The query's rows on ``engine``, with ``$name`` parameters from ``values``."""
        return engine.query(self.sql, values)
