"""A FlowDB: the schema, its connection, and the derived tables queries rely on."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pyarrow as pa
import shapely

from flowkit.db import etl
from flowkit.db.geometry import locate_points
from flowkit.db.schema import ADMIN_LEVELS, EVENT_TYPES, ddl


class FlowDB:
    """An embedded DuckDB FlowDB.

    One DuckDB connection per process; every thread gets its own cursor (DuckDB connections
    are not safe to share between threads, their cursors are).
    """

    dialect = "duckdb"

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

    def wkb(self, column: str) -> str:
        """SQL reading a geometry column as WKB (geometries are WKB blobs here)."""
        return column

    def insert(self, name: str, table: pa.Table) -> None:
        """Append Arrow rows to `schema.table` by column name."""
        cursor = self.cursor()
        cursor.register("_flowdb_insert", table)
        try:
            cursor.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _flowdb_insert")
        finally:
            cursor.unregister("_flowdb_insert")

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchone()[0]
        )

    def table_size(self, schema: str, name: str, *, cursor=None) -> int:
        """Bytes a table takes, as its columns in memory (DuckDB reports no per-table storage size)."""
        cursor = cursor or self.cursor()
        return cursor.sql(f'SELECT * FROM "{schema}"."{name}"').to_arrow_table().nbytes

    def refresh_cell_admin_units(self) -> int:
        """Recompute the derived location tables from cells, sites and admin boundaries.

        `geography.cell_admin_units` (every cell version, its position and the admin unit of
        each level containing it) and `geography.site_locations`; returns the cell versions mapped.
        """
        cells = self._positions(
            "SELECT id AS location_id, version, date_of_first_service, date_of_last_service, geom_point, site_id "
            "FROM infrastructure.cells WHERE geom_point IS NOT NULL ORDER BY id, version"
        )
        for level in ADMIN_LEVELS:
            admin = self.execute(f"SELECT admin{level}pcod, geom FROM geography.admin{level} ORDER BY gid").fetchall()
            cells[f"admin{level}pcod"] = locate_points(
                cells["lon"].to_numpy(), cells["lat"].to_numpy(), [bytes(g) for _, g in admin], [p for p, _ in admin]
            )
        sites = self._positions(
            "SELECT id AS site_id, version, date_of_first_service, date_of_last_service, geom_point "
            "FROM infrastructure.sites WHERE geom_point IS NOT NULL ORDER BY id, version"
        )
        cursor = self.cursor()
        cursor.execute("BEGIN")
        for table, frame in (("cell_admin_units", cells), ("site_locations", sites)):
            cursor.execute(f"DELETE FROM geography.{table}")
            cursor.register("_positions", frame)
            cursor.execute(f"INSERT INTO geography.{table} BY NAME SELECT * FROM _positions")
            cursor.unregister("_positions")
        cursor.execute("COMMIT")
        return len(cells)

    def _positions(self, sql: str) -> pd.DataFrame:
        """Rows of `sql` with their WKB `geom_point` replaced by `lon` and `lat`."""
        frame = self.execute(sql).df()
        points = shapely.from_wkb([bytes(g) for g in frame.pop("geom_point")])
        frame["lon"] = shapely.get_x(points) if len(frame) else pd.Series(dtype=float)
        frame["lat"] = shapely.get_y(points) if len(frame) else pd.Series(dtype=float)
        return frame

    def mark_ingested(self, cdr_type: str, dates: list[date]) -> None:
        """Record dates of one event type as ingested (what etl.available_dates lists)."""
        etl.mark_ingested(self, cdr_type, dates)

    def available_dates(self) -> dict[str, list[str]]:
        return etl.available_dates(self)


__all__ = ["FlowDB", "EVENT_TYPES"]
