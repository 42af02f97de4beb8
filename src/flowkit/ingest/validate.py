"""Row checks: every row of a batch checked in one SQL statement, typed or given its reasons.

For each FlowDB column the mapping fills, the source text is trimmed (empty = missing), cast to
the column's type, and checked: required columns present; numbers finite; whole numbers (codes,
TACs, versions) whole, not negative and within their digits; durations, volumes and amounts not
negative; booleans one of their codes; times in the mapping's format, moved from the mapping's
time zone to UTC; an event's location_id a known cell (when the FlowDB has cells); a cell's
position on the globe and its service dates in order; a key (cell id and version, TAC) once per
file. A row failing any check gets every reason, `; `-separated, and goes to quarantine.
Rows with no value at all (blank lines) are skipped.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from flowkit.ingest.columns import NON_NEGATIVE, POSITION, Column, flowdb_columns
from flowkit.ingest.errors import IngestError
from flowkit.ingest.mapping import TableSource
from flowkit.ingest.sources import LINE

REASON = "_reason"
DEFAULT_TRUE = ("true", "t", "1", "yes", "y")
DEFAULT_FALSE = ("false", "f", "0", "no", "n")
KEYS = {"cells": ("id", "version"), "tacs": ("id",)}
_DECIMAL = re.compile(r"DECIMAL\((\d+),0\)")
_INTEGER_DIGITS = {"INTEGER": 9, "BIGINT": 18}


def check_columns(path, source_columns: list[str], section: TableSource, *, optional: set[str] = frozenset()) -> None:
    """One clear error if the file's columns are not the ones the mapping expects."""
    present = set(source_columns)
    missing = [f"{s} (for {c})" for c, s in section.columns.items() if s not in present and c not in optional]
    known = set(section.columns.values()) | set(section.ignore_columns)
    unknown = [c for c in source_columns if c not in known]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"column(s) not in the mapping: {', '.join(unknown)} (map them or list them in ignore_columns)")
    if problems:
        raise IngestError("wrong column set: " + "; ".join(problems), file=path)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _shown(value_sql: str) -> str:
    """SQL quoting a value in a reason: `'abc'`, at most 40 characters."""
    return f"'''' || left({value_sql}, 40) || ''''"


class RowChecks:
    """The checks for files of one kind, with one source's columns and types."""

    def __init__(
        self,
        kind: str,
        section: TableSource,
        zone: str,
        source_types: dict[str, pa.DataType],
        *,
        known_cells: pa.Array | None = None,
        passthrough: tuple[str, ...] = (),
    ):
        self.kind, self.section, self.zone, self.source_types = kind, section, zone, source_types
        # FlowDB column -> source column, for the mapped columns this file has (check_columns has
        # made sure only optional ones are absent)
        self.mapped = {c: s for c, s in section.columns.items() if s in source_types}
        self.columns = [c for c in flowdb_columns(kind) if c.name in self.mapped]
        if kind == "cells":
            self.columns += [Column(name, "DOUBLE", False) for name in POSITION if name in self.mapped]
        self.known_cells = known_cells if kind not in ("cells", "tacs") else None
        self.passthrough = [name for name in passthrough if name in source_types]
        self.connection = duckdb.connect()
        if self.known_cells is not None:
            self.connection.register("_known_cells", pa.table({"id": self.known_cells}))
        self.sql = self._statement()

    # -- SQL -------------------------------------------------------------------------------------

    def _statement(self) -> str:
        raw = [f"{self._text(source)} AS {_quote(column)}" for column, source in self.mapped.items()]
        raw += [_quote(name) for name in self.passthrough]
        raw += [self._typed_source(c) for c in self.columns if c.type in ("TIMESTAMP", "DATE")]
        values = [name for name in self.source_types if name != LINE and name not in self.passthrough]
        blank = " AND ".join(f"{self._text(name)} IS NULL" for name in values) or "false"
        typed = [f"{self._cast(c)} AS {self._typed(c)}" for c in self.columns]
        reasons = [r for c in self.columns for r in self._reasons(c)] + self._row_reasons()
        select = [LINE, f"NULLIF(concat_ws('; ', {', '.join(reasons) or 'NULL'}), '') AS {REASON}"]
        select += [f"{self._typed(c)} AS {_quote(c.name)}" for c in self.columns] + [
            _quote(n) for n in self.passthrough
        ]
        return (
            f"WITH v AS (SELECT {LINE}, {', '.join(raw)} FROM _raw WHERE NOT ({blank})), "
            f"t AS (SELECT v.*, {', '.join(typed) or 'NULL AS _nothing'} FROM v) "
            f"SELECT {', '.join(select)} FROM t AS v"
        )

    @staticmethod
    def _typed(column: Column) -> str:
        """The name of a column's typed value in the statement."""
        return _quote("_as_" + column.name)

    def _text(self, source: str) -> str:
        return f"NULLIF(trim(CAST({_quote(source)} AS VARCHAR)), '')"

    def _typed_source(self, column: Column) -> str:
        """The source column itself, for times a Parquet file already types."""
        source = self.mapped[column.name]
        return f"{_quote(source)} AS {_quote('_typed_' + column.name)}"

    def _cast(self, column: Column) -> str:
        v, name, kind = f"v.{_quote(column.name)}", column.name, column.type
        if kind == "VARCHAR":
            return v
        if kind == "DOUBLE":
            return f"TRY_CAST({v} AS DOUBLE)"
        if kind == "BOOLEAN":
            codes = self.section.values.get(name)
            true, false = (codes.true, codes.false) if codes else (DEFAULT_TRUE, DEFAULT_FALSE)
            return (
                f"CASE WHEN lower({v}) IN ({', '.join(_literal(c.lower()) for c in true)}) THEN true "
                f"WHEN lower({v}) IN ({', '.join(_literal(c.lower()) for c in false)}) THEN false END"
            )
        if kind == "TIMESTAMP":
            return self._timestamp(column)
        if kind == "DATE":
            source_type = self._source_type(column)
            if pa.types.is_date(source_type) or pa.types.is_timestamp(source_type):
                return f"CAST(v.{_quote('_typed_' + name)} AS DATE)"
            return f"CAST(try_strptime({v}, {_literal(self.section.date_format)}) AS DATE)"
        digits = self._digits(kind)
        number = f"TRY_CAST({v} AS DOUBLE)"
        return f"CASE WHEN {number} = trunc({number}) AND {number} >= 0 AND {number} < 1e{digits} THEN CAST({number} AS {kind}) END"

    def _digits(self, kind: str) -> int:
        match = _DECIMAL.fullmatch(kind)
        if match:
            return int(match.group(1))
        if kind in _INTEGER_DIGITS:
            return _INTEGER_DIGITS[kind]
        raise IngestError(f"no check for FlowDB columns of type {kind}")

    def _source_type(self, column: Column) -> pa.DataType:
        return self.source_types[self.mapped[column.name]]

    def _timestamp(self, column: Column) -> str:
        source_type = self._source_type(column)
        typed = f"v.{_quote('_typed_' + column.name)}"
        if pa.types.is_timestamp(source_type):
            if source_type.tz is not None:
                return f"timezone('UTC', {typed})"
            local = f"CAST({typed} AS TIMESTAMP)"
        else:
            text, fmt = f"v.{_quote(column.name)}", self.section.datetime_format
            if fmt is None:
                local = f"TRY_CAST({text} AS TIMESTAMP)"
            elif "%z" in fmt or "%Z" in fmt:
                return f"timezone('UTC', try_strptime({text}, {_literal(fmt)}))"
            else:
                local = f"try_strptime({text}, {_literal(fmt)})"
        if self.zone == "UTC":
            return local
        return f"timezone('UTC', timezone({_literal(self.zone)}, {local}))"

    def _reasons(self, column: Column) -> list[str]:
        v, name, typed = f"v.{_quote(column.name)}", column.name, f"v.{self._typed(column)}"
        reasons = []
        if column.required:
            reasons.append(f"CASE WHEN {v} IS NULL THEN '{name}: missing' END")
        if column.type == "VARCHAR":
            pass
        elif column.type == "TIMESTAMP" or column.type == "DATE":
            fmt = self.section.datetime_format if column.type == "TIMESTAMP" else self.section.date_format
            expected = f"the format {fmt}" if fmt else "ISO 8601 (YYYY-MM-DD HH:MM:SS)"
            reasons.append(
                f"CASE WHEN {v} IS NOT NULL AND ({typed}) IS NULL "
                f"THEN '{name}: ' || {_shown(v)} || ' is not a time in {expected}' END"
            )
        elif column.type == "BOOLEAN":
            reasons.append(
                f"CASE WHEN {v} IS NOT NULL AND ({typed}) IS NULL THEN '{name}: unknown code ' || {_shown(v)} END"
            )
        elif column.type == "DOUBLE":
            reasons.append(
                f"CASE WHEN {v} IS NOT NULL AND (({typed}) IS NULL OR NOT isfinite({typed})) "
                f"THEN '{name}: ' || {_shown(v)} || ' is not a number' END"
            )
            if name in NON_NEGATIVE:
                reasons.append(f"CASE WHEN ({typed}) < 0 THEN '{name}: negative (' || {v} || ')' END")
            if name in POSITION:
                limit = 180 if name == "longitude" else 90
                reasons.append(f"CASE WHEN abs({typed}) > {limit} THEN '{name}: ' || {v} || ' is off the globe' END")
        else:
            digits = self._digits(column.type)
            reasons.append(
                f"CASE WHEN {v} IS NOT NULL AND ({typed}) IS NULL "
                f"THEN '{name}: ' || {_shown(v)} || ' is not a whole number from 0 to {digits} digits' END"
            )
        return reasons

    def _row_reasons(self) -> list[str]:
        reasons = []
        mapped = {c.name for c in self.columns}
        if self.known_cells is not None and "location_id" in mapped:
            v = "v.location_id"
            reasons.append(
                f"CASE WHEN {v} IS NOT NULL AND {v} NOT IN (SELECT id FROM _known_cells) "
                f"THEN 'location_id: ' || {_shown(v)} || ' is not a known cell' END"
            )
        if {"date_of_first_service", "date_of_last_service"} <= mapped:
            first, last = (f"v.{self._typed(c)}" for c in self.columns if c.name.startswith("date_of_"))
            reasons.append(
                f"CASE WHEN {last} < {first} THEN 'date_of_last_service is before date_of_first_service' END"
            )
        keys = [k for k in KEYS.get(self.kind, ()) if k in mapped]
        if keys:
            by = ", ".join(f"v.{_quote(k)}" for k in keys)
            reasons.append(
                f"CASE WHEN count(*) OVER (PARTITION BY {by}) > 1 THEN '({', '.join(keys)}) repeated in the file' END"
            )
        return reasons

    # -- running ---------------------------------------------------------------------------------

    def check(self, raw: pa.Table) -> tuple[pa.Table, pa.Table]:
        """(good rows as `_line` and FlowDB columns, in no order; bad rows as `_line` and `_reason`, in line order)."""
        self.connection.register("_raw", raw)
        try:
            checked = self.connection.sql(self.sql).to_arrow_table()
        finally:
            self.connection.unregister("_raw")
        bad = pc.is_valid(checked.column(REASON))
        good = checked.filter(pc.invert(bad)).drop_columns([REASON])
        return good, checked.filter(bad).select([LINE, REASON]).sort_by(LINE)


__all__ = ["REASON", "RowChecks", "check_columns"]
