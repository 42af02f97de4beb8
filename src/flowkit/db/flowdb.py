"""A FlowDB: the schema, its connection, and the derived tables queries rely on."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import shapely

from flowkit.db.geometry import locate_points
from flowkit.db.schema import ADMIN_LEVELS, EVENT_TYPES, ddl


class FlowDB:
    """An embedded DuckDB FlowDB.

    One DuckDB connection per process; every thread gets its own cursor (DuckDB connections
    are not safe to share between threads, their cursors are).
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False):
        self.path = str(path)
        self.connection = duckdb.connect(self.path, read_only=read_only)
        self._local = threading.local()
        if not read_only:
            self.connection.execute(ddl())

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self.connection.cursor()
        return cursor

    def ibis(self) -> ibis.BaseBackend:
        """This thread's Ibis backend, sharing this thread's cursor."""
        backend = getattr(self._local, "backend", None)
        if backend is None:
            backend = self._local.backend = ibis.duckdb.from_connection(self.cursor())
        return backend

    def execute(self, sql: str, parameters=None) -> duckdb.DuckDBPyConnection:
        return self.cursor().execute(sql, parameters)

    def close(self) -> None:
        self.connection.close()

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchone()[0]
        )

    def refresh_cell_admin_units(self) -> int:
        """Recompute geography.cell_admin_units from cells and admin boundaries; returns its rows."""
        cells = self.execute(
            "SELECT id, version, date_of_first_service, date_of_last_service, geom_point "
            "FROM infrastructure.cells WHERE geom_point IS NOT NULL ORDER BY id, version"
        ).df()
        points = shapely.from_wkb([bytes(g) for g in cells["geom_point"]]) if len(cells) else []
        mapping = pd.DataFrame(
            {
                "location_id": cells["id"],
                "version": cells["version"],
                "date_of_first_service": cells["date_of_first_service"],
                "date_of_last_service": cells["date_of_last_service"],
                "lon": shapely.get_x(points) if len(cells) else [],
                "lat": shapely.get_y(points) if len(cells) else [],
            }
        )
        for level in ADMIN_LEVELS:
            admin = self.execute(f"SELECT admin{level}pcod, geom FROM geography.admin{level} ORDER BY gid").fetchall()
            mapping[f"admin{level}pcod"] = locate_points(
                mapping["lon"].to_numpy(),
                mapping["lat"].to_numpy(),
                [bytes(g) for _, g in admin],
                [p for p, _ in admin],
            )
        cursor = self.cursor()
        cursor.execute("BEGIN")
        cursor.execute("DELETE FROM geography.cell_admin_units")
        cursor.register("_cell_admin_units", mapping)
        cursor.execute("INSERT INTO geography.cell_admin_units SELECT * FROM _cell_admin_units")
        cursor.unregister("_cell_admin_units")
        cursor.execute("COMMIT")
        return len(mapping)

    def mark_ingested(self, cdr_type: str, dates: list[date]) -> None:
        """Record dates of one event type as ingested (what etl.available_dates lists)."""
        self.execute(
            "INSERT INTO etl.etl_records SELECT (SELECT coalesce(max(id), 0) FROM etl.etl_records) + row_number() OVER (), "
            "?, unnest(?::DATE[]), 'ingested', now()::TIMESTAMP",
            [cdr_type, list(dates)],
        )

    def available_dates(self) -> dict[str, list[str]]:
        rows = self.execute(
            "SELECT cdr_type, strftime(cdr_date, '%Y-%m-%d') FROM etl.available_dates ORDER BY cdr_type, cdr_date"
        ).fetchall()
        dates: dict[str, list[str]] = {}
        for cdr_type, day in rows:
            dates.setdefault(cdr_type, []).append(day)
        return dates


__all__ = ["FlowDB", "EVENT_TYPES"]
