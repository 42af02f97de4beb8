"""Loading one file: checked rows into FlowDB in one transaction, exactly once.

`ingest_file` reads a file in batches, checks every row (flowkit.ingest.validate), sends bad
rows to quarantine, pseudonymises the identifiers of good ones, and inserts them together with
the file's record and its dates' `etl.etl_records` rows in one transaction. A file whose
checksum is recorded is not loaded again. An event file with rows on a date that already held
rows of its type follows the mapping's `on_existing_date`: append, replace (that date's rows go
first, in the same transaction) or refuse (nothing loaded; the refusal recorded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from flowkit.ingest import ledger
from flowkit.ingest.columns import EVENT_TABLES, IDENTIFIERS, TABLES
from flowkit.ingest.errors import IngestError
from flowkit.ingest.mapping import ADMIN_KINDS, Mapping
from flowkit.ingest.pseudonyms import Pseudonymiser
from flowkit.ingest.quarantine import Quarantine
from flowkit.ingest.sources import LINE, GeoSource, open_source
from flowkit.ingest.validate import RowChecks, check_columns

OnLoaded = Callable[[object, str, list[date]], None]
Progress = Callable[[int], None]


@dataclass
class Outcome:
    """What became of one file."""

    file: Path
    kind: str
    status: str  # loaded | already loaded
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine: Path | None = None
    dates: list[date] = field(default_factory=list)
    policy: str | None = None
    existing_dates: list[date] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, dates: list[date]):
        self.dates = dates


def ingest_file(
    db,
    path: str | Path,
    kind: str,
    mapping: Mapping,
    *,
    pseudonymiser: Pseudonymiser | None = None,
    quarantine_dir: Path,
    on_loaded: OnLoaded | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Load one file of `kind` (calls, sms, mds, topups, cells, tacs, admin0..3) into `db`."""
    path = Path(path)
    if not path.is_file():
        raise IngestError("no such file", file=path)
    digest = ledger.checksum(path)
    done = ledger.loaded(db, digest)
    if done is not None:
        return Outcome(path, done.cdr_type, "already loaded", done.rows_loaded, done.rows_quarantined)
    if kind in EVENT_TABLES:
        if pseudonymiser is None:
            raise IngestError("event files need the pseudonymisation key", file=path)
        return _EventLoad(db, path, kind, mapping, pseudonymiser, quarantine_dir, progress).run(digest, on_loaded)
    from flowkit.ingest.reference import load_reference

    if kind not in ("cells", "tacs", *ADMIN_KINDS):
        raise IngestError(f"unknown kind {kind!r}", file=path)
    return load_reference(db, path, kind, mapping, digest, quarantine_dir=quarantine_dir)


class _EventLoad:
    """One event file on its way into `events.<kind>`."""

    def __init__(self, db, path, kind, mapping: Mapping, pseudonymiser, quarantine_dir: Path, progress):
        self.db, self.path, self.kind, self.mapping = db, path, kind, mapping
        self.pseudonymiser, self.progress = pseudonymiser, progress
        self.section = mapping.source(kind)
        self.source = open_source(path, delimiter=self.section.delimiter, encoding=self.section.encoding)
        if isinstance(self.source, GeoSource):
            raise IngestError("event files are CSV (optionally gzip) or Parquet", file=path)
        check_columns(path, self.source.columns, self.section)
        self.quarantine = Quarantine(quarantine_dir, path, self.source.columns, delimiter=self.section.delimiter)
        self.dates: set[date] = set()
        self.existing: list[date] = []
        self.rows = self.read = 0

    def run(self, digest: str, on_loaded: OnLoaded | None) -> Outcome:
        policy = self.mapping.on_existing_date
        try:
            with ledger.transaction(self.db):
                self._load_rows(policy)
                if not self.rows:
                    detail = (
                        f" (first: line {self.quarantine.first[0]}: {self.quarantine.first[1]})"
                        if self.quarantine.first
                        else ""
                    )
                    raise _NothingLoaded(f"no row passed the checks{detail}; nothing loaded")
                dates = sorted(self.dates)
                ledger.record(self.db, self._record(digest, ledger.LOADED, policy if self.existing else None))
                self.db.mark_ingested(self.kind, dates)
        except _Refused as refusal:
            self.quarantine.discard()  # the file was not read to its end: its quarantine would be partial
            with ledger.transaction(self.db):
                ledger.record(self.db, self._record(digest, ledger.REFUSED, "refuse", refusal.dates))
            shown = ", ".join(d.isoformat() for d in refusal.dates)
            raise IngestError(
                f'refused: {self.kind} already loaded for {shown} (on_existing_date = "refuse"); nothing loaded',
                file=self.path,
            ) from None
        except _NothingLoaded as empty:
            quarantine = self.quarantine.keep()
            raise IngestError(f"{empty}{f'; see {quarantine}' if quarantine else ''}", file=self.path) from None
        except BaseException:
            self.quarantine.discard()
            raise
        quarantine = self.quarantine.keep()
        if on_loaded is not None:
            on_loaded(self.db, self.kind, dates)
        return Outcome(
            self.path,
            self.kind,
            "loaded",
            self.rows,
            self.quarantine.rows,
            quarantine,
            dates,
            policy if self.existing else None,
            self.existing,
        )

    def _load_rows(self, policy: str) -> None:
        checks = None
        for batch in self.source.batches():
            if checks is None:
                types = {name: batch.table.schema.field(name).type for name in batch.table.column_names}
                checks = RowChecks(
                    self.kind, self.section, self.mapping.zone(self.kind), types, known_cells=_known_cells(self.db)
                )
            good, bad = checks.check(batch.table)
            self.quarantine.add(batch.table, bad, batch.malformed)
            self.read += batch.table.num_rows + len(batch.malformed)
            if good.num_rows:
                good = self._pseudonymised(good.drop_columns([LINE]))
                self._prepare_dates(good, policy)
                self.db.insert(TABLES[self.kind], good)
                self.rows += good.num_rows
            if self.progress is not None:
                self.progress(self.read)

    def _pseudonymised(self, table: pa.Table) -> pa.Table:
        names = [name for name in IDENTIFIERS if name in table.column_names]
        for name, pseudonyms in zip(names, self.pseudonymiser.columns([table.column(n) for n in names])):
            table = table.set_column(table.column_names.index(name), name, pseudonyms)
        return table

    def _prepare_dates(self, table: pa.Table, policy: str) -> None:
        """Apply the policy to dates of this batch not seen before in the file (their rows are not in yet)."""
        days = pc.unique(pc.cast(table.column("datetime"), pa.date32())).to_pylist()
        new = sorted(set(days) - self.dates)
        held = [day for day in new if self._has_rows(day)]
        if held and policy == "refuse":
            raise _Refused(sorted(set(self.existing) | set(held)))
        for day in held:
            if policy == "replace":
                self.db.execute(f"DELETE FROM {TABLES[self.kind]} WHERE datetime >= ? AND datetime < ?", _bounds(day))
        self.existing = sorted(set(self.existing) | set(held))
        self.dates.update(new)

    def _has_rows(self, day: date) -> bool:
        return bool(
            self.db.execute(
                f"SELECT EXISTS (SELECT 1 FROM {TABLES[self.kind]} WHERE datetime >= ? AND datetime < ?)", _bounds(day)
            ).fetchall()[0][0]
        )

    def _record(self, digest: str, status: str, policy: str | None, existing=None) -> ledger.FileRecord:
        dates = sorted(self.dates)
        return ledger.FileRecord(
            digest,
            self.path.name,
            self.kind,
            status,
            self.rows if status == ledger.LOADED else 0,
            self.quarantine.rows if status == ledger.LOADED else 0,
            dates[0] if dates else None,
            dates[-1] if dates else None,
            policy,
            tuple(existing if existing is not None else self.existing),
        )


class _NothingLoaded(Exception):
    pass


def _bounds(day: date) -> list[datetime]:
    start = datetime.combine(day, time())
    return [start, start + timedelta(days=1)]


def _known_cells(db) -> pa.Array | None:
    """Ids of the FlowDB's cells (any version), or None when it has none: then any location_id goes."""
    ids = [row[0] for row in db.execute("SELECT DISTINCT id FROM infrastructure.cells").fetchall()]
    return pa.array(ids, pa.string()) if ids else None


__all__ = ["OnLoaded", "Outcome", "ingest_file"]
