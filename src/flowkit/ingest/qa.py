"""FlowETL's QA checks (FlowKit 1.34), each defined once, computed per day and stored.

A check is one SQL scalar over `day_rows`, the rows of one event type dated within one day
(`day <= datetime < day + 1`), written once in SQL that DuckDB and PostgreSQL both read. Generic
checks apply to every event type and are stored under their name; the others apply to some types
and are stored as `<name>.<cdr_type>` (e.g. `max_duration.calls`), as FlowETL names its tasks.

`run_checks(db, cdr_type, dates)` computes every applicable check for each date and appends
`(cdr_date, cdr_type, type_of_query_or_check, outcome, timestamp)` to `etl.post_etl_queries`;
`etl.deduped_post_etl_queries` keeps the latest outcome of each check on each ingested date,
which is what the API serves. Outcomes are text as PostgreSQL would cast FlowKit's values
(`format_outcome`; docs/semantics.md, "QA checks").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flowkit.db.schema import EVENT_TYPES

WITH_COUNTERPARTS = ("calls", "sms")

# Columns whose equality makes two rows duplicates (FlowETL's list; `id` is not among them).
_DUPLICATE_KEY_COMMON = ("msisdn", "datetime", "imsi", "imei", "tac", "location_id", "operator_code", "country_code")
DUPLICATE_KEYS = {
    "calls": (*_DUPLICATE_KEY_COMMON, "msisdn_counterpart", "outgoing", "duration", "network"),
    "sms": (*_DUPLICATE_KEY_COMMON, "msisdn_counterpart", "outgoing", "network"),
    "mds": (*_DUPLICATE_KEY_COMMON, "duration", "volume_total", "volume_upload", "volume_download"),
    "topups": (
        *_DUPLICATE_KEY_COMMON,
        "type",
        "recharge_amount",
        "airtime_fee",
        "tax_and_fee",
        "pre_event_balance",
        "post_event_balance",
    ),
}


def _count(value) -> str:
    return str(int(value))


def _timestamp(value: datetime) -> str:
    """PostgreSQL's text of a timestamptz in a UTC session: `2016-01-01 00:01:00+00`, with the
    fraction of a second only when there is one (`…:00.5+00`). Stored times are UTC."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "+00"


def _number(value) -> str:
    """PostgreSQL's text of a double: shortest round-trip digits, no `.0` on whole numbers."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class QACheck:
    """One check: its name, the event types it applies to, its SQL and its outcome's format.

    `sql` is a SELECT of one value over `day_rows`; it may use `{day}` (the day as a DATE
    literal), `{duplicate_key}` (the type's duplicate-defining columns) and `{subscribers}` (a
    SELECT of the day's subscriber numbers, counterparts included where the type has them).
    """

    name: str
    description: str
    sql: str
    outcome: Callable[[object], str] = _count
    cdr_types: tuple[str, ...] = EVENT_TYPES

    @property
    def generic(self) -> bool:
        return self.cdr_types == EVENT_TYPES

    def stored_name(self, cdr_type: str) -> str:
        return self.name if self.generic else f"{self.name}.{cdr_type}"

    def render(self, cdr_type: str, day: date) -> str:
        subscribers = "SELECT msisdn FROM day_rows"
        if cdr_type in WITH_COUNTERPARTS:
            subscribers += " UNION SELECT msisdn_counterpart FROM day_rows WHERE msisdn_counterpart IS NOT NULL"
        return self.sql.format(
            day=f"DATE '{day.isoformat()}'",
            duplicate_key=", ".join(DUPLICATE_KEYS[cdr_type]),
            subscribers=subscribers,
        )


_LOCATABLE = (
    "FROM day_rows e JOIN infrastructure.cells c ON e.location_id = c.id "
    "WHERE c.geom_point IS NOT NULL "
    "AND coalesce(c.date_of_first_service <= {day}, true) AND coalesce(c.date_of_last_service >= {day}, true)"
)

CHECKS: tuple[QACheck, ...] = (
    QACheck("count_added_rows", "rows", "SELECT count(*) FROM day_rows"),
    QACheck(
        "count_duplicated",
        "groups of rows identical over the duplicate key that hold more than one row",
        "SELECT count(*) FROM (SELECT 1 AS one FROM day_rows GROUP BY {duplicate_key} HAVING count(*) > 1) AS d",
    ),
    QACheck(
        "count_duplicates",
        "surplus copies: Σ (rows − 1) over those groups, 0 if none",
        "SELECT coalesce(sum(n - 1), 0) FROM "
        "(SELECT count(*) AS n FROM day_rows GROUP BY {duplicate_key} HAVING count(*) > 1) AS d",
    ),
    QACheck(
        "count_msisdns",
        "distinct subscribers; for calls and sms non-NULL counterparts too",
        "SELECT count(DISTINCT msisdn) FROM ({subscribers}) AS s",
    ),
    QACheck("count_imeis", "distinct non-NULL IMEIs", "SELECT count(DISTINCT imei) FROM day_rows"),
    QACheck("count_imsis", "distinct non-NULL IMSIs", "SELECT count(DISTINCT imsi) FROM day_rows"),
    QACheck("count_null_imeis", "rows without IMEI", "SELECT count(*) FROM day_rows WHERE imei IS NULL"),
    QACheck("count_null_imsis", "rows without IMSI", "SELECT count(*) FROM day_rows WHERE imsi IS NULL"),
    QACheck(
        "count_null_location_ids", "rows without location", "SELECT count(*) FROM day_rows WHERE location_id IS NULL"
    ),
    QACheck(
        "count_location_ids",
        "distinct location ids, NULL counting as one",
        "SELECT count(*) FROM (SELECT DISTINCT location_id FROM day_rows) AS l",
    ),
    QACheck(
        "count_locatable_events",
        "rows joined to a cell version in service that day with a position (once per matching version)",
        "SELECT count(*) " + _LOCATABLE,
    ),
    QACheck(
        "count_locatable_location_ids",
        "distinct location ids of those rows",
        "SELECT count(DISTINCT e.location_id) " + _LOCATABLE,
    ),
    QACheck("earliest_timestamp", "first event time", "SELECT min(datetime) FROM day_rows", _timestamp),
    QACheck("latest_timestamp", "last event time", "SELECT max(datetime) FROM day_rows", _timestamp),
    QACheck(
        "max_msisdns_per_imei",
        "most distinct subscribers sharing one IMEI (NULL IMEIs ignored; NULL if none)",
        "SELECT max(n) FROM (SELECT count(DISTINCT msisdn) AS n FROM day_rows "
        "WHERE imei IS NOT NULL GROUP BY imei) AS m",
    ),
    QACheck(
        "max_msisdns_per_imsi",
        "most distinct subscribers sharing one IMSI (NULL IMSIs ignored; NULL if none)",
        "SELECT max(n) FROM (SELECT count(DISTINCT msisdn) AS n FROM day_rows "
        "WHERE imsi IS NOT NULL GROUP BY imsi) AS m",
    ),
    QACheck(
        "count_added_rows_outgoing",
        "rows with outgoing true",
        "SELECT count(*) FROM day_rows WHERE outgoing",
        cdr_types=WITH_COUNTERPARTS,
    ),
    QACheck(
        "count_null_counterparts",
        "rows without counterpart",
        "SELECT count(*) FROM day_rows WHERE msisdn_counterpart IS NULL",
        cdr_types=WITH_COUNTERPARTS,
    ),
    QACheck(
        "count_onnet_msisdns",
        "distinct subscribers (msisdn column only)",
        "SELECT count(DISTINCT msisdn) FROM day_rows",
        cdr_types=WITH_COUNTERPARTS,
    ),
    QACheck(
        "count_onnet_msisdns_incoming",
        "distinct subscribers with an incoming row (outgoing false)",
        "SELECT count(DISTINCT msisdn) FROM day_rows WHERE NOT outgoing",
        cdr_types=WITH_COUNTERPARTS,
    ),
    QACheck(
        "count_onnet_msisdns_outgoing",
        "distinct subscribers with an outgoing row",
        "SELECT count(DISTINCT msisdn) FROM day_rows WHERE outgoing",
        cdr_types=WITH_COUNTERPARTS,
    ),
    QACheck(
        "count_null_durations",
        "rows without duration",
        "SELECT count(*) FROM day_rows WHERE duration IS NULL",
        cdr_types=("calls",),
    ),
    QACheck("max_duration", "longest duration", "SELECT max(duration) FROM day_rows", _number, ("calls",)),
    QACheck(
        "median_duration",
        "median duration, interpolated (percentile_cont 0.5)",
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) FROM day_rows",
        _number,
        ("calls",),
    ),
)


def checks_for(cdr_type: str) -> list[QACheck]:
    """The checks that apply to an event type, in definition order."""
    if cdr_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {cdr_type!r}; expected one of {', '.join(EVENT_TYPES)}")
    return [check for check in CHECKS if cdr_type in check.cdr_types]


def day_sql(cdr_type: str, day: date) -> str:
    """One query computing every check of `cdr_type` on `day`, one column per check."""
    checks = checks_for(cdr_type)
    columns = ",\n  ".join(f"({check.render(cdr_type, day)}) AS c{n}" for n, check in enumerate(checks))
    return (
        f"WITH day_rows AS MATERIALIZED (SELECT * FROM events.{cdr_type} "
        f"WHERE datetime >= TIMESTAMP '{day.isoformat()}' AND datetime < TIMESTAMP '{day + timedelta(days=1)}')\n"
        f"SELECT\n  {columns}"
    )


def compute(db, cdr_type: str, day: date) -> dict[str, str | None]:
    """Every applicable check's outcome on one day, by stored name (None where the value is NULL)."""
    checks = checks_for(cdr_type)
    values = db.execute(day_sql(cdr_type, day)).fetchone()
    return {
        check.stored_name(cdr_type): None if value is None else check.outcome(value)
        for check, value in zip(checks, values, strict=True)
    }


def run_checks(db, cdr_type: str, dates: Iterable[date]) -> int:
    """Compute every applicable check of `cdr_type` for each date and store the outcomes (one
    timestamp for the whole run); returns the number of rows stored."""
    days, names, outcomes = [], [], []
    for day in sorted(set(dates)):
        for name, outcome in compute(db, cdr_type, day).items():
            days.append(day)
            names.append(name)
            outcomes.append(outcome)
    if days:
        db.execute(
            "INSERT INTO etl.post_etl_queries (id, cdr_date, cdr_type, type_of_query_or_check, outcome, timestamp) "
            "SELECT b.base + row_number() OVER (), t.d, ?, t.c, t.o, now()::TIMESTAMP FROM "
            "(SELECT unnest(?::DATE[]) AS d, unnest(?::VARCHAR[]) AS c, unnest(?::VARCHAR[]) AS o) AS t, "
            "(SELECT coalesce(max(id), 0) AS base FROM etl.post_etl_queries) AS b",
            [cdr_type, days, names, outcomes],
        )
    return len(days)


def loaded_dates(db, cdr_types: Sequence[str] | None = None) -> dict[str, list[date]]:
    """Ingested dates per event type (etl.available_dates), optionally of some types only."""
    rows = db.execute("SELECT cdr_type, cdr_date FROM etl.available_dates ORDER BY cdr_type, cdr_date").fetchall()
    found: dict[str, list[date]] = {}
    for cdr_type, day in rows:
        if cdr_types is None or cdr_type in cdr_types:
            found.setdefault(cdr_type, []).append(day)
    return found


def run_all(db, cdr_types: Sequence[str] | None = None, start: date | None = None, end: date | None = None) -> int:
    """(Re)compute the checks for every ingested date (of `cdr_types`, within [start, end]);
    returns the number of rows stored."""
    stored = 0
    for cdr_type, days in loaded_dates(db, cdr_types).items():
        if cdr_type in EVENT_TYPES:
            stored += run_checks(db, cdr_type, [d for d in days if (start or d) <= d <= (end or d)])
    return stored


def available_checks(db) -> list[dict[str, str]]:
    """Every (cdr_type, check) with an outcome on an ingested date: GET /api/0/qa/."""
    rows = db.execute(
        "SELECT DISTINCT cdr_type, type_of_query_or_check FROM etl.deduped_post_etl_queries "
        "ORDER BY cdr_type, type_of_query_or_check"
    ).fetchall()
    return [{"cdr_type": cdr_type, "type_of_query_or_check": check} for cdr_type, check in rows]


def outcomes(
    db, cdr_type: str | None = None, check: str | None = None, start: date | None = None, end: date | None = None
) -> list[dict[str, str | None]]:
    """Latest outcomes on ingested dates within [start, end] (both inclusive), by date, type, check."""
    clauses, params = [], []
    for clause, value in (
        ("cdr_type = ?", cdr_type),
        ("type_of_query_or_check = ?", check),
        ("cdr_date >= ?", start),
        ("cdr_date <= ?", end),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    rows = db.execute(
        "SELECT cdr_date, cdr_type, type_of_query_or_check, outcome FROM etl.deduped_post_etl_queries "
        f"{where}ORDER BY cdr_date, cdr_type, type_of_query_or_check",
        params,
    ).fetchall()
    return [
        {"cdr_date": day.isoformat(), "cdr_type": kind, "type_of_query_or_check": name, "outcome": outcome}
        for day, kind, name, outcome in rows
    ]


__all__ = [
    "CHECKS",
    "DUPLICATE_KEYS",
    "QACheck",
    "available_checks",
    "checks_for",
    "compute",
    "loaded_dates",
    "outcomes",
    "run_all",
    "run_checks",
]
