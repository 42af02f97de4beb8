"""The record of ingested files (`etl.ingested_files`) and the transaction a file loads in.

A file is known by the SHA-256 of its bytes: loaded once, it is never loaded again. Its record
is written in the same transaction as its rows, so a file is either loaded and recorded, or
neither (a killed ingester leaves nothing behind).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

LOADED, REFUSED = "loaded", "refused"


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def transaction(db) -> Iterator[None]:
    """One transaction on this thread's connection of `db` (DuckDB or PostgreSQL FlowDB)."""
    if db.dialect == "postgres":
        with db.connection().transaction():
            yield
        return
    cursor = db.cursor()
    cursor.execute("BEGIN")
    try:
        yield
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")


@dataclass(frozen=True)
class FileRecord:
    checksum: str
    file_name: str
    cdr_type: str
    status: str
    rows_loaded: int
    rows_quarantined: int
    first_date: date | None = None
    last_date: date | None = None
    policy: str | None = None
    existing_dates: tuple[date, ...] = ()


def loaded(db, digest: str) -> FileRecord | None:
    """The record of the file with this checksum, if it was loaded."""
    rows = db.execute(
        "SELECT checksum, file_name, cdr_type, status, rows_loaded, rows_quarantined, first_date, last_date, policy, "
        "existing_dates FROM etl.ingested_files WHERE checksum = ? AND status = ?",
        [digest, LOADED],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    existing = tuple(date.fromisoformat(d) for d in (row[-1] or "").split(",") if d)
    return FileRecord(*row[:-1], existing_dates=existing)


def record(db, entry: FileRecord) -> None:
    """Write a file's record (a refused file's earlier record is replaced)."""
    db.execute("DELETE FROM etl.ingested_files WHERE checksum = ? AND status = ?", [entry.checksum, REFUSED])
    db.execute(
        "INSERT INTO etl.ingested_files (checksum, file_name, cdr_type, status, rows_loaded, rows_quarantined, "
        "first_date, last_date, policy, existing_dates, loaded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now() AT TIME ZONE 'UTC')",
        [
            entry.checksum,
            entry.file_name,
            entry.cdr_type,
            entry.status,
            entry.rows_loaded,
            entry.rows_quarantined,
            entry.first_date,
            entry.last_date,
            entry.policy,
            ",".join(d.isoformat() for d in entry.existing_dates) or None,
        ],
    )


__all__ = ["FileRecord", "LOADED", "REFUSED", "checksum", "loaded", "record", "transaction"]
