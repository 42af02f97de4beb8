"""Reading source files: CSV (plain or gzip), Parquet, and geographic files, in batches.

Every batch is an Arrow table of the file's own columns (CSV fields as text) plus `_line`: the
physical line a CSV row starts on (the header is line 1; quoted line breaks are counted), or the
1-based row or feature number of a Parquet or geographic file. Rows a CSV reader cannot split
into the header's number of fields come out as `Malformed` rows with their line. Problems with
the file as a whole (empty, truncated, not in its encoding, wrong columns) are `IngestError`s.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from flowkit.ingest.errors import IngestError

LINE = "_line"
BLOCK_BYTES = 64 << 20
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Malformed:
    """A CSV row with the wrong number of fields."""

    line: int
    text: str
    fields: int


@dataclass
class Batch:
    table: pa.Table  # the file's columns + LINE
    malformed: list[Malformed] = field(default_factory=list)


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(2) == GZIP_MAGIC


class CsvSource:
    """A CSV file, gzip-compressed or not, read as text columns."""

    def __init__(self, path: Path, *, delimiter: str = ",", encoding: str = "utf-8"):
        self.path, self.delimiter, self.encoding = path, delimiter, encoding
        self.compressed = is_gzip(path)
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise IngestError(f"unknown encoding {encoding!r} in the mapping", file=path) from None
        self.columns = self._header()

    def _open_binary(self):
        return gzip.open(self.path, "rb") if self.compressed else open(self.path, "rb")

    def _header(self) -> list[str]:
        with self._guard(), self._open_binary() as file:
            first = file.readline()
        if not first.strip():
            raise IngestError(
                "the file is empty" if not first else "the first line (the header) is empty", file=self.path
            )
        try:
            text = first.decode(self.encoding)
        except UnicodeDecodeError as error:
            raise IngestError(
                f"the header is not valid {self.encoding}: {error.reason}", file=self.path, line=1
            ) from None
        columns = [c.strip() for c in next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=self.delimiter))]
        doubled = sorted({c for c in columns if columns.count(c) > 1})
        if doubled:
            raise IngestError(f"the header names a column twice: {', '.join(doubled)}", file=self.path, line=1)
        return columns

    def _guard(self):
        return _ReadErrors(self)

    def batches(self) -> Iterator[Batch]:
        lines = _LineCounter()
        with self._guard():
            stream = pa.input_stream(str(self.path), compression="gzip" if self.compressed else None)
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    block_size=BLOCK_BYTES,
                    encoding=self.encoding,
                    column_names=self.columns,
                    skip_rows=1,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=lines.malformed,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(self.columns, pa.string()), strings_can_be_null=False
                ),
            )
            seen = 0
            for record_batch in reader:
                table = pa.Table.from_batches([record_batch])
                yield Batch(*lines.number(table))
                seen += table.num_rows
        rest = lines.finish()
        if rest:
            yield Batch(
                pa.table({c: pa.array([], pa.string()) for c in self.columns} | {LINE: pa.array([], pa.int64())}), rest
            )
        if not seen and not rest:
            raise IngestError("the file has a header but no rows", file=self.path)

    def bad_encoding_line(self) -> int | None:
        """The first line that is not valid text in the file's encoding (only on the error path)."""
        with self._open_binary() as file:
            for number, line in enumerate(file, start=1):
                try:
                    line.decode(self.encoding)
                except UnicodeDecodeError:
                    return number
        return None


class _ReadErrors:
    """Turns a reader's failures into IngestErrors that say what is wrong with the file."""

    def __init__(self, source: CsvSource):
        self.source = source

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, IngestError):
            return False
        path, text = self.source.path, str(error)
        if (
            isinstance(error, EOFError)
            or "Truncated compressed stream" in text
            or "ended before the end-of-stream" in text
        ):
            raise IngestError("the gzip stream ends early: the file is truncated", file=path) from None
        if isinstance(error, gzip.BadGzipFile) or "zlib" in text.lower() or "gzip" in text.lower():
            raise IngestError(f"not a valid gzip stream: {text}", file=path) from None
        if isinstance(error, UnicodeDecodeError) or "invalid UTF8" in text:
            raise IngestError(self._not_text(), file=path, line=self.source.bad_encoding_line()) from None
        if isinstance(error, pa.ArrowInvalid | OSError):
            line = self.source.bad_encoding_line()  # a row the reader could not even show
            if line is not None:
                raise IngestError(self._not_text(), file=path, line=line) from None
            raise IngestError(f"cannot read the file as CSV: {text}", file=path) from None
        return False

    def _not_text(self) -> str:
        return f"not valid {self.source.encoding} text (set `encoding` in the mapping if the file is in another one)"


class _LineCounter:
    """Physical line numbers of the rows a CSV reader returns, and of the rows it skipped.

    The reader numbers a skipped (malformed) row by its place among all rows, the header being
    row 1; rows are numbered here from that place and the line breaks inside quoted values.
    """

    def __init__(self):
        self.rows = 0  # rows returned so far
        self.breaks = 0  # line breaks inside values of the rows returned, and of the malformed rows placed
        self.pending: list[tuple[int, str, int]] = []  # (place among data rows, text, fields), in order
        self.placed = 0  # malformed rows already numbered

    def malformed(self, row) -> str:
        self.pending.append((row.number - 2, row.text, row.actual_columns))
        return "skip"

    def number(self, table: pa.Table) -> tuple[pa.Table, list[Malformed]]:
        n = table.num_rows
        breaks = np.zeros(n, dtype=np.int64)
        for column in table.columns:
            breaks += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy()
        # Malformed rows among these rows' places: a malformed row at place p with r malformed
        # rows before it comes right before returned row p - r.
        places = np.array([p for p, _, _ in self.pending], dtype=np.int64)
        ranks = np.arange(self.placed, self.placed + len(places))
        before_row = places - ranks  # index (among returned rows) of the row it precedes
        mine = before_row < self.rows + n
        taken = [self.pending[i] for i in np.flatnonzero(mine)]
        local_before = before_row[mine] - self.rows
        malformed_breaks = np.array([t.count("\n") for _, t, _ in taken], dtype=np.int64)
        # Breaks before each returned row: earlier rows' and malformed rows' placed before it.
        count_before = np.searchsorted(local_before, np.arange(n), side="right")
        cumulative_malformed = np.concatenate([[0], np.cumsum(malformed_breaks)])
        row_breaks_before = np.concatenate([[0], np.cumsum(breaks)])[:-1]
        index = self.rows + np.arange(n) + self.placed + count_before  # place among all data rows
        lines = 2 + index + self.breaks + row_breaks_before + cumulative_malformed[count_before]
        numbered = []
        for k, (place, text, fields) in enumerate(taken):
            row_local = local_before[k]
            line = 2 + place + self.breaks + (row_breaks_before[row_local] if row_local < n else breaks.sum())
            numbered.append(Malformed(int(line + cumulative_malformed[k]), text, fields))
        self.pending = [self.pending[i] for i in np.flatnonzero(~mine)]
        self.placed += len(taken)
        self.rows += n
        self.breaks += int(breaks.sum() + malformed_breaks.sum())
        return table.append_column(LINE, pa.array(lines, pa.int64())), numbered

    def finish(self) -> list[Malformed]:
        """Malformed rows after the last returned row."""
        rest = []
        for place, text, fields in self.pending:
            rest.append(Malformed(2 + place + self.breaks, text, fields))
            self.breaks += text.count("\n")
        self.pending = []
        return rest


class ParquetSource:
    """A Parquet file: its columns keep their types; `_line` is the 1-based row number."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise IngestError(f"cannot read the file as Parquet: {error}", file=path) from None
        self.columns = self.file.schema_arrow.names

    def batches(self) -> Iterator[Batch]:
        if self.file.metadata.num_rows == 0:
            raise IngestError("the file has no rows", file=self.path)
        start = 1
        try:
            for record_batch in self.file.iter_batches(batch_size=1 << 20):
                table = pa.Table.from_batches([record_batch])
                yield Batch(table.append_column(LINE, pa.array(np.arange(start, start + table.num_rows), pa.int64())))
                start += table.num_rows
        except (pa.ArrowInvalid, OSError) as error:
            raise IngestError(f"cannot read the file as Parquet: {error}", file=self.path) from None


class GeoSource:
    """A GeoJSON, GeoPackage or Shapefile: feature properties, and the geometry as WKB in `_geometry`."""

    GEOMETRY = "_geometry"

    def __init__(self, path: Path):
        import pyogrio

        self.path = path
        try:
            info = pyogrio.read_info(path)
        except Exception as error:  # pyogrio raises its own DataSourceError, DataLayerError, ...
            raise IngestError(f"cannot read the file as geographic data: {error}", file=path) from None
        crs = (info.get("crs") or "EPSG:4326").upper()
        if crs not in ("EPSG:4326", "OGC:CRS84"):
            raise IngestError(
                f"coordinates are in {crs}; reproject the file to EPSG:4326 (longitude, latitude)", file=path
            )
        if not info["features"]:
            raise IngestError("the file has no features", file=path)
        self.columns = [str(c) for c in info["fields"]]

    def batches(self) -> Iterator[Batch]:
        import pyogrio

        try:
            meta, table = pyogrio.read_arrow(self.path)
        except Exception as error:
            raise IngestError(f"cannot read the file as geographic data: {error}", file=self.path) from None
        geometry = meta["geometry_name"] or "wkb_geometry"
        table = table.rename_columns([self.GEOMETRY if c == geometry else c for c in table.column_names])
        yield Batch(table.append_column(LINE, pa.array(np.arange(1, table.num_rows + 1), pa.int64())))


GEO_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")


def open_source(path: Path, *, delimiter: str = ",", encoding: str = "utf-8"):
    """The reader for this file, by its content (gzip) or name (.parquet, geographic files)."""
    if not path.is_file():
        raise IngestError("no such file", file=path)
    if path.stat().st_size == 0:
        raise IngestError("the file is empty", file=path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return ParquetSource(path)
    if suffix in GEO_SUFFIXES:
        return GeoSource(path)
    return CsvSource(path, delimiter=delimiter, encoding=encoding)


__all__ = ["Batch", "CsvSource", "GeoSource", "LINE", "Malformed", "ParquetSource", "open_source"]
