"""Loading FlowKit's public 7-day test dataset, as FlowDB's test image does, for parity tests.

The dataset (Flowminder/FlowKit `flowdb/testdata/test_data/data/`, MPL-2.0) is a set of CSV
files; FlowKit's ingest SQL copies each one into its table **by position**, so the header
labels do not matter. Two consequences we reproduce:

* `cells.csv` is headed `..., longitude, latitude, ...` but its 4th column holds latitudes and
  its 5th longitudes; read by position, the 4th becomes the latitude, so positions are right.
* calls are loaded into `datetime, msisdn_counterpart, id, ...` although the CSV says
  `start_time`; FlowDB also adds one self-call (two rows) that no CSV holds.

A dataset may be split over several directories of the same layout (`infrastructure/`,
`tac_database.csv`, `records/<type>/<prefix>_YYYYMMDD.csv`); a file name present in more
than one directory is loaded from the first.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import shapely

from flowkit.db.flowdb import FlowDB

# Per event type: the records folder, the file-name prefix, and the CSV's columns by position.
_RECORDS = {
    "calls": (
        "calls",
        "calls",
        {
            "datetime": "TIMESTAMP",
            "msisdn_counterpart": "VARCHAR",
            "id": "VARCHAR",
            "msisdn": "VARCHAR",
            "location_id": "VARCHAR",
            "outgoing": "BOOLEAN",
            "duration": "DOUBLE",
            "tac": "DOUBLE",
        },
    ),
    "sms": (
        "sms",
        "sms",
        {
            "datetime": "TIMESTAMP",
            "msisdn_counterpart": "VARCHAR",
            "id": "VARCHAR",
            "msisdn": "VARCHAR",
            "location_id": "VARCHAR",
            "outgoing": "BOOLEAN",
            "tac": "DOUBLE",
        },
    ),
    "mds": (
        "mds",
        "mds",
        {
            "id": "VARCHAR",
            "msisdn": "VARCHAR",
            "tac": "DOUBLE",
            "datetime": "TIMESTAMP",
            "duration": "DOUBLE",
            "location_id": "VARCHAR",
            "volume_total": "DOUBLE",
            "volume_upload": "DOUBLE",
            "volume_download": "DOUBLE",
        },
    ),
    "topups": (
        "topups",
        "topup",
        {
            "id": "VARCHAR",
            "msisdn": "VARCHAR",
            "tac": "DOUBLE",
            "datetime": "TIMESTAMP",
            "location_id": "VARCHAR",
            "recharge_amount": "DOUBLE",
            "airtime_fee": "DOUBLE",
            "tax_and_fee": "DOUBLE",
            "pre_event_balance": "DOUBLE",
            "post_event_balance": "DOUBLE",
        },
    ),
}

_CELLS = {
    "id": "VARCHAR",
    "site_id": "VARCHAR",
    "version": "INTEGER",
    "latitude": "DOUBLE",  # headed "longitude" in the CSV
    "longitude": "DOUBLE",  # headed "latitude" in the CSV
    "date_of_first_service": "DATE",
    "date_of_last_service": "DATE",
}
_SITES = {
    "id": "VARCHAR",
    "version": "INTEGER",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "date_of_first_service": "DATE",
    "date_of_last_service": "DATE",
}

# The self-call FlowDB's ingest_calls.sql inserts after loading the CSVs: caller and callee rows.
_SELF_CALL = (
    "INSERT INTO events.calls (datetime, msisdn_counterpart, id, msisdn, location_id, outgoing, duration, tac) "
    "SELECT TIMESTAMP '2016-01-01 00:00:06', 'self_caller', '5ZNJA-PdRJ4-jxEdG-yOXpZ', 'self_caller', "
    "'JxDglNVk', outgoing, 3393.0, 92380772 FROM (VALUES (true), (false)) t(outgoing)"
)


def load_flowkit_testdata(db: FlowDB, *directories: Path) -> None:
    """Load the dataset found in `directories` into an empty FlowDB, then derive its locations."""
    _load_positions(db, "cells", _first(directories, "infrastructure/cells.csv"), _CELLS, ["site_id"])
    _load_positions(db, "sites", _first(directories, "infrastructure/sites.csv"), _SITES, [])
    tacs = _first(directories, "tac_database.csv")
    if tacs:
        columns = [c for (c,) in db.execute("SELECT name FROM pragma_table_info('infrastructure.tacs')").fetchall()]
        db.execute(
            f"INSERT INTO infrastructure.tacs BY NAME SELECT {', '.join(columns)} "
            "FROM read_csv(?, header = true, all_varchar = true)",
            [str(tacs[0])],
        )
    for event_type, (folder, prefix, columns) in _RECORDS.items():
        files = _first(directories, f"records/{folder}/{prefix}_*.csv")
        if not files:
            continue
        db.execute(
            f"INSERT INTO events.{event_type} BY NAME SELECT * FROM {_read_csv(columns)} ORDER BY datetime",
            [[str(f) for f in files]],
        )
        days = [datetime.strptime(f.stem.removeprefix(f"{prefix}_"), "%Y%m%d").date() for f in files]
        if event_type == "calls" and date(2016, 1, 1) in days:
            db.execute(_SELF_CALL)
        db.mark_ingested(event_type, days)
    db.refresh_cell_admin_units()


def _read_csv(columns: dict[str, str]) -> str:
    """DuckDB's CSV reader over the file(s) of parameter 1, naming and typing columns by position."""
    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return f"read_csv(?, header = true, columns = {{{spec}}})"


def _first(directories: tuple[Path, ...], pattern: str) -> list[Path]:
    """Files matching `pattern` in any directory, sorted by name; a name seen twice comes from the first."""
    found: dict[str, Path] = {}
    for directory in directories:
        for path in sorted(Path(directory).glob(pattern)):
            found.setdefault(path.name, path)
    return [found[name] for name in sorted(found)]


def _load_positions(db: FlowDB, table: str, files: list[Path], columns: dict[str, str], extra: list[str]) -> None:
    """Cells or sites: the CSV read by position, the point stored as WKB as FlowDB's schema has it."""
    if not files:
        return
    frame = db.execute(f"SELECT * FROM {_read_csv(columns)}", [str(files[0])]).df()
    frame["geom_point"] = shapely.to_wkb(shapely.points(frame.pop("longitude"), frame.pop("latitude")))
    cursor = db.cursor()
    cursor.register("_rows", frame)
    names = ["id", *extra, "version", "date_of_first_service", "date_of_last_service", "geom_point"]
    cursor.execute(f"INSERT INTO infrastructure.{table} ({', '.join(names)}) SELECT {', '.join(names)} FROM _rows")
    cursor.unregister("_rows")
