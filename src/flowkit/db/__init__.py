"""FlowDB: FlowKit's standard schema on embedded DuckDB (or PostgreSQL with PostGIS), and the
synthetic country that fills it."""

from __future__ import annotations

from pathlib import Path

from flowkit.db.flowdb import FlowDB

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def connect_flowdb(target: str | Path = ":memory:", *, read_only: bool = False):
    """The FlowDB at `target`: a PostgreSQL database for a `postgresql://` URL, else a DuckDB file
    (or `:memory:`). Both create FlowKit's schema unless `read_only`."""
    if is_postgres_url(target):
        from flowkit.db.postgres import PostgresFlowDB

        return PostgresFlowDB(str(target), read_only=read_only)
    return FlowDB(target, read_only=read_only)


__all__ = ["FlowDB", "connect_flowdb", "is_postgres_url"]
