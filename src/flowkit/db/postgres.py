"""A FlowDB on PostgreSQL with PostGIS: FlowKit's own storage, behind FlowDB's interface.

The schema is the DuckDB one (flowkit.db.schema) rewritten for PostgreSQL by `postgres_ddl`:
geometry columns become PostGIS geometries (EPSG:4326), `events.*` are partitioned by range on
`datetime` with one partition per day (created when rows for that day arrive, named
`events.<type>_<YYYYMMDD>` as in FlowKit), and times stay `timestamp` holding UTC so answers
equal DuckDB's. The cell → admin unit mapping is computed by PostGIS (`ST_Within`).

Each thread gets its own psycopg connection (autocommit; explicit BEGIN/COMMIT where needed),
its own cursor and its own Ibis backend over that connection, so temporary tables Ibis makes
for in-memory tables are visible to the SQL run on the same thread.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from functools import cache

import ibis
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
import sqlglot.expressions as exp

from flowkit.db import etl
from flowkit.db.postgres_ibis import PostgresBackend, copy_arrow
from flowkit.db.schema import ADMIN_LEVELS, ddl

# Geometry columns of the DuckDB schema (WKB blobs there) and their PostGIS types.
GEOMETRY_COLUMNS = {"geom_point": "Point", "geom_polygon": "MultiPolygon", "geom": "MultiPolygon"}
SRID = 4326
# UTC, as the times stored; no JIT: stored results are fresh tables without statistics, on which
# the planner's guesses make JIT compile (~100 ms) what runs in a few milliseconds; sorts and
# hashes of a month of events in memory rather than on disk.
SESSION_OPTIONS = "-c TimeZone=UTC -c jit=off -c work_mem=64MB"


@cache
def postgres_ddl() -> str:
    """FlowDB's schema for PostgreSQL, derived statement by statement from the DuckDB DDL."""
    statements = ["CREATE EXTENSION IF NOT EXISTS postgis"]
    for statement in sqlglot.parse(ddl(), read="duckdb"):
        statement = statement.transform(_to_postgres)
        sql = statement.sql("postgres")
        table = statement.find(exp.Table) if isinstance(statement, exp.Create) else None
        if table is not None and statement.kind == "TABLE" and table.db == "events":
            sql += " PARTITION BY RANGE (datetime)"
        statements.append(sql)
    return ";\n".join(statements) + ";"


def _to_postgres(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ColumnDef) and node.name in GEOMETRY_COLUMNS:
        kind = node.args["kind"]
        if kind.this == exp.DataType.Type.VARBINARY or kind.is_type("blob", "varbinary", "binary"):
            node = node.copy()
            node.set("kind", exp.DataType.build(f"geometry({GEOMETRY_COLUMNS[node.name]}, {SRID})", udt=True))
        return node
    if isinstance(node, exp.Subquery) and not node.alias and isinstance(node.parent, exp.From):
        return node.as_("_latest")  # PostgreSQL < 16 names every subquery in FROM
    if isinstance(node, exp.Insert) and node.args.get("alternative") == "IGNORE":
        node = node.copy()
        node.set("alternative", None)
        node.set("conflict", exp.OnConflict(action=exp.var("DO NOTHING")))
        return node
    return node


def qmark_to_pyformat(sql: str) -> str:
    """`?` placeholders (DuckDB's) as psycopg's `%s`, `%` escaped; quoted text left alone."""
    out, quote = [], None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


class PostgresCursor:
    """DuckDB-cursor-like access to one psycopg connection: `execute(sql, params)` with `?`."""

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection
        self._cursor = connection.cursor()

    def execute(self, sql: str, parameters=None) -> PostgresCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(qmark_to_pyformat(sql), list(parameters))
        return self

    def interrupt(self) -> None:
        """Cancel the statement running on this connection (from another thread)."""
        self.connection.cancel_safe()

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone()

    @property
    def description(self):
        return self._cursor.description

    def df(self) -> pd.DataFrame:
        columns = [c.name for c in self._cursor.description or []]
        return pd.DataFrame.from_records(self._cursor.fetchall(), columns=columns)


class PostgresFlowDB:
    """A FlowDB in a PostgreSQL database with PostGIS (`postgresql://user@host:port/dbname`)."""

    dialect = "postgres"

    def __init__(self, url: str, *, read_only: bool = False):
        self.path = self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, psycopg.Connection] = {}
        if not read_only:
            self.init_schema()

    def init_schema(self) -> None:
        with self.connection().transaction():
            self.connection().execute("SELECT pg_advisory_xact_lock(20160101)")  # one initialiser at a time
            self.connection().execute(postgres_ddl())

    # -- connections ---------------------------------------------------------------------------

    def connection(self) -> psycopg.Connection:
        """This thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(self.url, autocommit=True, options=SESSION_OPTIONS)
            self._local.connection = connection
            self._local.cursor = self._local.backend = None
            with self._lock:
                for thread in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(thread).close()  # a finished worker's connection
                self._connections[threading.current_thread()] = connection
        return connection

    def cursor(self) -> PostgresCursor:
        """This thread's cursor."""
        connection = self.connection()
        if self._local.cursor is None:
            self._local.cursor = PostgresCursor(connection)
        return self._local.cursor

    def ibis(self) -> ibis.BaseBackend:
        """This thread's Ibis backend, on this thread's connection."""
        connection = self.connection()
        if self._local.backend is None:
            self._local.backend = PostgresBackend.from_connection(connection)
        return self._local.backend

    def execute(self, sql: str, parameters=None) -> PostgresCursor:
        return self.cursor().execute(sql, parameters)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()

    # -- FlowDB's interface --------------------------------------------------------------------

    def wkb(self, column: str) -> str:
        """SQL reading a geometry column as WKB."""
        return f"ST_AsBinary({column})"

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchone()[0]
        )

    def table_size(self, schema: str, name: str, *, cursor=None) -> int:
        """Bytes a table takes on disk, indexes and TOAST included."""
        cursor = cursor or self.cursor()
        return cursor.execute(
            "SELECT pg_total_relation_size(format('%I.%I', ?::text, ?::text)::regclass)", [schema, name]
        ).fetchone()[0]

    def insert(self, name: str, table: pa.Table) -> None:
        """Append Arrow rows to `schema.table` by column name (COPY; WKB into PostGIS geometries;
        the daily partitions of an events table made first)."""
        if not table.num_rows:
            return
        schema, _, relation = name.partition(".")
        if schema == "events":
            self._ensure_partitions(relation, table.column("datetime"))
        geometries = [c for c in table.column_names if c in GEOMETRY_COLUMNS]
        columns = ", ".join(f'"{c}"' for c in table.column_names)
        with self.connection().transaction():
            if not geometries:
                self._copy(name, columns, table)
                return
            self.execute(f"CREATE TEMP TABLE _load ON COMMIT DROP AS SELECT {columns} FROM {name} WITH NO DATA")
            for column in geometries:
                self.execute(f'ALTER TABLE _load ALTER COLUMN "{column}" TYPE bytea USING NULL')
            self._copy("_load", columns, table)
            select = ", ".join(_from_wkb(c) if c in geometries else f'"{c}"' for c in table.column_names)
            self.execute(f"INSERT INTO {name} ({columns}) SELECT {select} FROM _load")

    def _copy(self, name: str, columns: str, table: pa.Table) -> None:
        with self.connection().cursor() as cursor:
            copy_arrow(cursor, f"{name} ({columns})", table)

    def _ensure_partitions(self, relation: str, datetimes: pa.ChunkedArray) -> None:
        days = pc.unique(pc.cast(datetimes, pa.date32())).to_pylist()
        for day in sorted(d for d in days if d is not None):
            self.ensure_partition(relation, day)

    def ensure_partition(self, relation: str, day: date) -> None:
        """The partition of `events.<relation>` holding `day` (FlowKit's `<relation>_<YYYYMMDD>`)."""
        self.execute(
            f"CREATE TABLE IF NOT EXISTS events.{relation}_{day:%Y%m%d} PARTITION OF events.{relation} "
            f"FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')"
        )

    def refresh_cell_admin_units(self) -> int:
        """Recompute `geography.cell_admin_units` and `geography.site_locations` with PostGIS.

        As the DuckDB FlowDB: a cell belongs to the admin unit strictly containing it
        (`ST_Within`), the lowest gid winning where polygons overlap.
        """
        units = ",\n".join(
            f"(SELECT a.admin{level}pcod FROM geography.admin{level} a "
            f"WHERE ST_Within(c.geom_point, a.geom) ORDER BY a.gid LIMIT 1) AS admin{level}pcod"
            for level in ADMIN_LEVELS
        )
        pcods = ", ".join(f"admin{level}pcod" for level in ADMIN_LEVELS)
        dates = "date_of_first_service, date_of_last_service"
        with self.connection().transaction():
            self.execute("DELETE FROM geography.cell_admin_units")
            self.execute(
                f"INSERT INTO geography.cell_admin_units (location_id, version, {dates}, lon, lat, {pcods}, site_id) "
                f"SELECT c.id, c.version, c.date_of_first_service, c.date_of_last_service, "
                f"ST_X(c.geom_point), ST_Y(c.geom_point), {units}, c.site_id "
                "FROM infrastructure.cells c WHERE c.geom_point IS NOT NULL"
            )
            mapped = self.execute("SELECT count(*) FROM geography.cell_admin_units").fetchone()[0]
            self.execute("DELETE FROM geography.site_locations")
            self.execute(
                f"INSERT INTO geography.site_locations (site_id, version, {dates}, lon, lat) "
                f"SELECT id, version, {dates}, ST_X(geom_point), ST_Y(geom_point) "
                "FROM infrastructure.sites WHERE geom_point IS NOT NULL"
            )
        self.execute("ANALYZE geography.cell_admin_units, geography.site_locations")
        return mapped

    def mark_ingested(self, cdr_type: str, dates: list[date]) -> None:
        """Record dates of one event type as ingested (what etl.available_dates lists), after
        gathering the planner's statistics of their partitions (COPY leaves none)."""
        for day in sorted(set(dates)):
            if self.table_exists("events", f"{cdr_type}_{day:%Y%m%d}"):
                self.execute(f"ANALYZE events.{cdr_type}_{day:%Y%m%d}")
        etl.mark_ingested(self, cdr_type, dates)

    def available_dates(self) -> dict[str, list[str]]:
        return etl.available_dates(self)


def _from_wkb(column: str) -> str:
    """SQL making a PostGIS geometry of a WKB column; polygons become multipolygons, as FlowKit loads them."""
    geometry = f'ST_GeomFromWKB("{column}", {SRID})'
    return f"ST_Multi({geometry})" if GEOMETRY_COLUMNS[column] == "MultiPolygon" else geometry


__all__ = ["PostgresFlowDB", "postgres_ddl", "qmark_to_pyformat"]
