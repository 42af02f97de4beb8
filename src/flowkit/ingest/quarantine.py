"""Quarantine files: the rows of a source file that were not loaded, and why.

`<quarantine dir>/<file name>.quarantine.csv` with columns file, line, reason, then the row's
own fields as they were in the file. It holds raw data (subscriber numbers included), so it is
written readable by its owner only, and it is the operator's: it never enters the FlowDB.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flowkit.ingest.sources import LINE, Malformed
from flowkit.ingest.validate import REASON

FIXED = ("file", "line", "reason")


class Quarantine:
    """The quarantine file of one source file, written as its rows are checked."""

    def __init__(self, directory: Path, source: Path, columns: list[str], *, delimiter: str = ","):
        self.source, self.columns, self.delimiter = source, columns, delimiter
        self.path = directory / f"{source.name}.quarantine.csv"
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._writer: pacsv.CSVWriter | None = None
        self._file = None
        self.rows = 0
        self.first: tuple[int, str] | None = None  # (line, reason) of the first row quarantined
        self._schema = pa.schema(
            [("file", pa.string()), ("line", pa.int64()), ("reason", pa.string())] + [(c, pa.string()) for c in columns]
        )

    def add(self, raw: pa.Table, bad: pa.Table, malformed: list[Malformed] = ()) -> None:
        """Quarantine the `bad` rows (`_line`, `_reason`) of `raw`, and rows that could not be split."""
        tables = []
        if bad.num_rows:
            fields = raw.filter(pc.is_in(raw.column(LINE), bad.column(LINE)))
            tables.append(
                pa.table(
                    [bad.column(LINE), bad.column(REASON)]
                    + [pc.cast(fields.column(c), pa.string()) for c in self.columns],
                    names=[LINE, REASON, *self.columns],
                )
            )
        if malformed:
            tables.append(self._malformed(malformed))
        if not tables:
            return
        table = pa.concat_tables(tables).sort_by(LINE)
        table = table.add_column(0, "file", pa.array([self.source.name] * table.num_rows, pa.string()))
        table = table.rename_columns(["file", "line", "reason", *self.columns])
        if self.first is None:
            self.first = (table.column("line")[0].as_py(), table.column("reason")[0].as_py())
        self._write(table)
        self.rows += table.num_rows

    def _malformed(self, rows: list[Malformed]) -> pa.Table:
        width = len(self.columns)
        records = []
        for row in rows:
            fields = next(csv.reader(io.StringIO(row.text), delimiter=self.delimiter), [])
            fields = fields[: width - 1] + [self.delimiter.join(fields[width - 1 :])] if len(fields) > width else fields
            fields += [None] * (width - len(fields))
            reason = f"{row.fields} field(s) where the header has {width}"
            records.append([row.line, reason, *fields])
        names = [LINE, REASON, *self.columns]
        types = [pa.int64()] + [pa.string()] * (len(names) - 1)
        return pa.table([pa.array(list(values), t) for values, t in zip(zip(*records), types)], names=names)

    def _write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._partial.parent.mkdir(parents=True, exist_ok=True)
            self._partial.unlink(missing_ok=True)
            self._file = os.fdopen(os.open(self._partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
            self._writer = pacsv.CSVWriter(self._file, self._schema)
        self._writer.write_table(table.cast(self._schema))

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()
            self._writer = self._file = None

    def keep(self) -> Path | None:
        """The quarantine file, complete (none if no row was quarantined; an older one is removed)."""
        self._close()
        if not self.rows:
            self.path.unlink(missing_ok=True)
            return None
        self._partial.replace(self.path)
        return self.path

    def discard(self) -> None:
        self._close()
        self._partial.unlink(missing_ok=True)


__all__ = ["Quarantine"]
