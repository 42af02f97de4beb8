"""The FlowDB columns a source file can fill, read from FlowDB's one schema (flowkit.db.schema)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb

from flowkit.db.schema import ddl

EVENT_TABLES = ("calls", "sms", "mds", "topups")
TABLES = {**{t: f"events.{t}" for t in EVENT_TABLES}, "cells": "infrastructure.cells", "tacs": "infrastructure.tacs"}
# Subscriber identifiers: replaced by their pseudonym before they reach the FlowDB.
IDENTIFIERS = ("msisdn", "msisdn_counterpart", "imei", "imsi")
# Columns that must not be negative.
NON_NEGATIVE = frozenset(
    {"duration", "volume_total", "volume_upload", "volume_download", "recharge_amount", "airtime_fee", "tax_and_fee"}
)
# Cell positions come from these two source columns (or from a GeoJSON file's point geometry).
POSITION = ("longitude", "latitude")
# Columns a source never fills: surrogate keys and geometries made by the loader.
MADE_BY_LOADER = frozenset({"cell_id", "geom_point", "geom_polygon"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's name of the type: VARCHAR, DOUBLE, DECIMAL(8,0), TIMESTAMP, ...
    required: bool


@cache
def _schema() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(ddl())
    return connection


@cache
def flowdb_columns(kind: str) -> tuple[Column, ...]:
    """The columns of the FlowDB table that files of `kind` (calls, ..., cells, tacs) fill, in order."""
    schema, table = TABLES[kind].split(".")
    rows = (
        _schema()
        .cursor()
        .execute(
            "SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        )
        .fetchall()
    )
    return tuple(Column(name, type_, required) for name, type_, required in rows if name not in MADE_BY_LOADER)


__all__ = ["Column", "EVENT_TABLES", "IDENTIFIERS", "NON_NEGATIVE", "POSITION", "TABLES", "flowdb_columns"]
