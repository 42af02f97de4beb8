"""The cache of stored results: what is stored, what it cost, what it is worth keeping.

Every stored part has a row in `cache.stored_results`. Its worth is FlowKit's cache score
(flowmachine-semantics.md §1.5): each touch adds `(1 + ln 2 / half_life) ** (n - 2)` to the
record's multiplier, `n` counting every touch of every record, so recent touches weigh more
and old ones decay with the half-life measured in touches; score = multiplier × seconds of
compute / bytes stored. When the cache outgrows its limit, the lowest scores go first.
"""

from __future__ import annotations

import math
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flowkit.db import FlowDB
from flowkit.machine.spec import MACHINE_VERSION, QuerySpec

DEFAULT_HALF_LIFE = 1000.0
DEFAULT_PROTECTED_SECONDS = 86400.0
# Without a configured size, the cache may take this share of the free disk (FlowKit's default).
DEFAULT_SHARE_OF_FREE_DISK = 0.1


@dataclass(frozen=True)
class CacheRecord:
    query_id: str
    query_kind: str
    spec: str
    created: datetime
    last_accessed: datetime
    access_count: int
    compute_ms: float
    size_bytes: int
    multiplier: float
    dependencies: tuple[str, ...]

    @property
    def score(self) -> float:
        return self.multiplier * (self.compute_ms / 1000) / max(self.size_bytes, 1)


class Cache:
    """`cache.stored_results` and friends in one FlowDB."""

    def __init__(self, db: FlowDB):
        self.db = db
        self._touch_lock = threading.Lock()
        defaults = {
            "half_life": DEFAULT_HALF_LIFE,
            "cache_size": _default_size(db),
            "cache_protected_period": DEFAULT_PROTECTED_SECONDS,
        }
        for key, value in defaults.items():
            db.execute("INSERT INTO cache.settings VALUES (?, ?) ON CONFLICT DO NOTHING", [key, value])

    # -- settings ------------------------------------------------------------------------------

    def setting(self, key: str) -> float:
        return self.db.execute("SELECT value FROM cache.settings WHERE key = ?", [key]).fetchone()[0]

    def configure(self, **settings: float) -> None:
        """Change `half_life`, `cache_size` (bytes) or `cache_protected_period` (seconds)."""
        for key, value in settings.items():
            self.setting(key)  # unknown keys fail here
            self.db.execute("UPDATE cache.settings SET value = ? WHERE key = ?", [value, key])

    # -- records -------------------------------------------------------------------------------

    def stored_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT query_id FROM cache.stored_results").fetchall()}

    def record(self, cursor, part: QuerySpec, compute_ms: float) -> None:
        """Record a just-created `cache.x<id>` on `cursor`, inside the transaction that made it."""
        query_id = part.query_id
        size = self.db.table_size("cache", f"x{query_id}", cursor=cursor)
        cursor.execute(
            "INSERT INTO cache.stored_results VALUES (?, ?, ?, ?, now()::TIMESTAMP, 0, now()::TIMESTAMP, ?, ?, ?, 0)",
            [query_id, MACHINE_VERSION, part.query_kind, part.model_dump_json(), compute_ms, f"x{query_id}", size],
        )
        for child in sorted({child.query_id for child in part.children()}):
            cursor.execute("INSERT INTO cache.stored_dependencies VALUES (?, ?)", [query_id, child])

    def touch(self, query_id: str) -> None:
        """One more use of a record: access count, last access, and its score multiplier.

        Touches are serialised in this process: concurrent updates of one row would otherwise
        conflict (DuckDB aborts rather than waits). A new record's first touch follows the
        transaction that stored it.
        """
        with self._touch_lock:
            cursor = self.db.cursor()
            touches, half_life = cursor.execute(  # one round trip: a get touches its result every time
                "SELECT nextval('cache.touches'), (SELECT value FROM cache.settings WHERE key = 'half_life')"
            ).fetchone()
            increment = (1 + math.log(2) / half_life) ** (touches - 2)
            cursor.execute(
                "UPDATE cache.stored_results SET access_count = access_count + 1, last_accessed = now()::TIMESTAMP, "
                "cache_score_multiplier = cache_score_multiplier + ? WHERE query_id = ?",
                [increment, query_id],
            )

    def records(self) -> list[CacheRecord]:
        """Every record, lowest score first (the eviction order)."""
        rows = self.db.execute(
            "SELECT query_id, query_kind, spec, created, last_accessed, access_count, compute_time, size_bytes, "
            "cache_score_multiplier FROM cache.stored_results"
        ).fetchall()
        dependencies: dict[str, list[str]] = {}
        for query_id, depends_on in self.db.execute(
            "SELECT query_id, depends_on FROM cache.stored_dependencies"
        ).fetchall():
            dependencies.setdefault(query_id, []).append(depends_on)
        records = [CacheRecord(*row, tuple(sorted(dependencies.get(row[0], ())))) for row in rows]
        return sorted(records, key=lambda r: (r.score, r.query_id))

    def get(self, query_id: str) -> CacheRecord | None:
        return next((r for r in self.records() if r.query_id == query_id), None)

    def size(self) -> int:
        return int(self.db.execute("SELECT coalesce(sum(size_bytes), 0) FROM cache.stored_results").fetchone()[0])

    # -- removal -------------------------------------------------------------------------------

    def drop(self, query_id: str) -> None:
        """Remove one stored result and its record; results built from it stay stored."""
        cursor = self.db.cursor()
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"DROP TABLE IF EXISTS cache.x{query_id}")
            cursor.execute(
                "DELETE FROM cache.stored_dependencies WHERE query_id = ? OR depends_on = ?", [query_id, query_id]
            )
            cursor.execute("DELETE FROM cache.stored_results WHERE query_id = ?", [query_id])
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

    def eviction_candidates(self, in_use: set[str], protected_seconds: float | None = None) -> list[CacheRecord]:
        """Records that may go, lowest score first: old enough, and needed by no live query."""
        protected = self.setting("cache_protected_period") if protected_seconds is None else protected_seconds
        cutoff = datetime.now() - timedelta(seconds=protected) if protected >= 0 else None
        return [
            record
            for record in self.records()
            if record.query_id not in in_use and (cutoff is None or record.created < cutoff)
        ]

    def orphan_tables(self) -> list[str]:
        """Tables in the cache schema without a record (none, unless someone wrote there by hand)."""
        tables = self.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cache' AND table_name LIKE 'x%'"
        ).fetchall()
        return sorted({t for (t,) in tables} - {f"x{query_id}" for query_id in self.stored_ids()})


def _default_size(db: FlowDB) -> float:
    local = db.dialect == "duckdb" and db.path != ":memory:"  # a PostgreSQL server: its disk is not ours to see
    directory = Path(db.path).parent if local else Path(".")
    return shutil.disk_usage(directory).free * DEFAULT_SHARE_OF_FREE_DISK
