"""The ETL records both FlowDB backends share: which dates of which event type are ingested.

Written once in SQL that DuckDB and PostgreSQL both read (`?` placeholders are translated for
PostgreSQL by its FlowDB).
"""

from __future__ import annotations

from datetime import date


def mark_ingested(db, cdr_type: str, dates: list[date]) -> None:
    """Record dates of one event type as ingested (what etl.available_dates lists)."""
    db.execute(
        "INSERT INTO etl.etl_records SELECT (SELECT coalesce(max(id), 0) FROM etl.etl_records) + row_number() OVER (), "
        "?, t.d, 'ingested', now()::TIMESTAMP FROM unnest(?::DATE[]) AS t(d)",
        [cdr_type, list(dates)],
    )


def available_dates(db) -> dict[str, list[str]]:
    """Ingested dates per event type, as FlowAPI's /available_dates lists them."""
    rows = db.execute(
        "SELECT cdr_type, CAST(cdr_date AS VARCHAR) FROM etl.available_dates ORDER BY cdr_type, cdr_date"
    ).fetchall()
    dates: dict[str, list[str]] = {}
    for cdr_type, day in rows:
        dates.setdefault(cdr_type, []).append(day)
    return dates
