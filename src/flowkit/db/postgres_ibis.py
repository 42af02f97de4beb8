"""Ibis on PostgreSQL as FlowDB needs it: the types DuckDB gives, and bulk loading by COPY.

Ibis's PostgreSQL compiler leaves PostgreSQL's own typing in place: `0.5` is numeric, sums and
averages of integers are numeric, EXTRACT is numeric, and a boolean casts only to integer. A kind
written once in Ibis would then store other column types on PostgreSQL than on DuckDB (Decimal
where DuckDB gives float) or fail. `FlowDBPostgresCompiler` overrides just those operations.
"""

from __future__ import annotations

import io
import math

import ibis.expr.datatypes as dt
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlglot.expressions as exp
from ibis.backends.postgres import Backend as IbisPostgresBackend
from ibis.backends.sql.compilers.postgres import PostgresCompiler


class FlowDBPostgresCompiler(PostgresCompiler):
    """Ibis's PostgreSQL compiler, made to give the types Ibis (and DuckDB) give.

    PostgreSQL reads `0.5` as numeric, averages and sums integers as numeric and cannot cast a
    boolean straight to bigint or double; without these overrides a kind's float column comes
    back as Decimal on PostgreSQL and some casts fail.
    """

    def visit_NonNullLiteral(self, op, *, value, dtype):
        if dtype.is_floating() and math.isfinite(value):
            return self.cast(exp.convert(value), dtype)
        return super().visit_NonNullLiteral(op, value=value, dtype=dtype)

    def visit_Cast(self, op, *, arg, to):
        if op.arg.dtype.is_boolean() and to.is_numeric() and not to.is_int32():
            arg = self.cast(arg, dt.int32)  # PostgreSQL casts booleans to integer only
        return super().visit_Cast(op, arg=arg, to=to)

    def visit_HexDigest(self, op, *, arg, how):
        if how == "md5":
            return self.f.md5(arg)  # as DuckDB's md5: lower-case hex of the UTF-8 bytes
        return self.f.encode(self.f[how](self.f.convert_to(arg, "UTF8")), "hex")  # sha224 … sha512

    def visit_Mean(self, op, *, arg, where):
        return self._typed(op, super().visit_Mean(op, arg=arg, where=where))

    def visit_Sum(self, op, *, arg, where):
        return self._typed(op, super().visit_Sum(op, arg=arg, where=where))

    def visit_VarianceStandardDevCovariance(self, op, *, how, where, **kw):
        return self._typed(op, super().visit_VarianceStandardDevCovariance(op, how=how, where=where, **kw))

    visit_Variance = visit_StandardDev = visit_Covariance = visit_VarianceStandardDevCovariance

    def _typed(self, op, aggregate: exp.Expression) -> exp.Expression:
        return aggregate if op.dtype.is_decimal() else self.cast(aggregate, op.dtype)

    def visit_WindowFunction(self, op, *, how, func, start, end, group_by, order_by):
        """An aggregate made `CAST(agg AS type)` above: the window goes inside the cast."""
        cast = func if isinstance(func, exp.Cast) and isinstance(func.this, exp.AggFunc) else None
        window = super().visit_WindowFunction(
            op, how=how, func=cast.this if cast else func, start=start, end=end, group_by=group_by, order_by=order_by
        )
        return exp.Cast(this=window, to=cast.args["to"]) if cast else window


def _extract_typed(name: str):
    """PostgreSQL's EXTRACT gives numeric: cast to bigint, what DuckDB's EXTRACT gives, so that
    stored results have the same column types on both backends."""
    base = getattr(PostgresCompiler, name)

    def visit(self, op, **kwargs):
        return self.cast(base(self, op, **kwargs), dt.int64)

    return visit


for _field in ("Year", "Quarter", "Month", "Day", "DayOfYear", "WeekOfYear", "Hour", "Minute", "EpochSeconds"):
    setattr(FlowDBPostgresCompiler, f"visit_Extract{_field}", _extract_typed(f"visit_Extract{_field}"))

COMPILER = FlowDBPostgresCompiler()


class PostgresBackend(IbisPostgresBackend):
    """Ibis's PostgreSQL backend with our compiler, and in-memory tables (the clusters of
    meaningful locations) loaded by COPY instead of one INSERT per row."""

    compiler = COMPILER

    def _register_in_memory_table(self, op) -> None:
        if null_columns := op.schema.null_fields:
            raise TypeError(f"in-memory tables cannot have null-typed columns: {null_columns}")
        create = exp.Create(
            kind="TABLE",
            this=exp.Schema(
                this=exp.to_identifier(op.name, quoted=True),
                expressions=op.schema.to_sqlglot_column_defs(self.dialect),
            ),
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
        table = op.data.to_pyarrow(op.schema)
        with self.con.cursor() as cursor, self.con.transaction():
            cursor.execute(create.sql(self.dialect))
            copy_arrow(cursor, f'"{op.name}"', table)


def copy_arrow(cursor: psycopg.Cursor, target: str, table: pa.Table) -> None:
    """COPY Arrow rows into `target` (a table, with its column list if need be)."""
    with cursor.copy(f"COPY {target} FROM STDIN (FORMAT csv)") as copy:
        for batch in _csv_batches(table):
            copy.write(batch)


def _csv_batches(table: pa.Table, rows: int = 200_000):
    """`table` as CSV chunks for COPY: dictionaries decoded, binary as bytea hex, NULL as empty."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
            column = column.cast(pa.timestamp("us", column.type.tz))  # PostgreSQL keeps microseconds
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = pa.chunked_array(
                [
                    pa.array([None if v is None else "\\x" + v.hex() for v in chunk.to_pylist()], pa.string())
                    for chunk in column.chunks
                ],
                pa.string(),
            )
        columns.append(column)
    table = pa.table(columns, names=table.column_names)
    options = pacsv.WriteOptions(include_header=False)
    for start in range(0, table.num_rows, rows):
        buffer = io.BytesIO()
        pacsv.write_csv(table.slice(start, rows), buffer, options)
        yield buffer.getvalue()


__all__ = ["COMPILER", "FlowDBPostgresCompiler", "PostgresBackend", "copy_arrow"]
