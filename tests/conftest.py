"""Shared fixtures: small FlowDBs built by hand, so that tests can state exact answers.

`tiny_db(calls=..., sms=..., mds=...)` builds an in-memory FlowDB with the default geography
below (or the `admins` / `cells` given), maps cells to admin units, and returns a `TinyMachine`
(a `Machine` with helpers that run a spec and return its result as a DataFrame). It builds on
the backend the `backend` fixture names: DuckDB unless a module overrides `backend`, e.g. with
`params=BACKENDS` to run every case on DuckDB and on PostgreSQL (a fresh database per module,
emptied for each tiny FlowDB).

Default geography: a 40 × 20 strip of boxes (lon 0‥40, lat 0‥20).

    admin0   Z                                   (0,0)-(40,20)
    admin1   A  (0,0)-(20,20)                    B  (20,0)-(40,20)
    admin2   AA (0,0)-(20,20)                    BB (20,0)-(40,20)
    admin3   A1 lon 0‥10   A2 lon 10‥20         B1 lon 20‥30   B2 lon 30‥40

Default cells (lon, lat); every one has a single version in service forever unless noted:

    cA1 (5, 10) in A1     cA2 (15, 10) in A2     cB1 (25, 10) in B1     cB2 (35, 10) in B2
    cA1s (5, 5)   a second cell in A1, same lon as cA1 but smaller lat (lon-lat tie-breaks)
    cEdge (10, 10) on the A1|A2 border: in no admin3 unit (strict within) but inside A, AA, Z
    cOut (50, 10)  outside every polygon: located only at lon-lat
    cMoved  version 1 at (5, 15) in A1,  in service 2016-01-01 … 2016-01-02 (both inclusive)
            version 2 at (35, 15) in B2, in service 2016-01-03 … 2016-01-04

Events are given compactly as tuples `(subscriber, "YYYY-MM-DD HH:MM[:SS]", cell)` with an
optional fourth item `outgoing` (default True; ignored for mds, which has no such column) and
an optional last item, a dict of further event columns (e.g. `{"msisdn_counterpart": "s2",
"duration": 60}`, `{"volume_total": 5}` for mds, or `{"id": "c1"}` on both legs of one call);
columns not given are NULL. Top-ups are given like mds events, their amounts and balances in the
dict (`{"recharge_amount": 5, "pre_event_balance": 1, "post_event_balance": 6}`); handset models
(`tacs=`) as dicts of `infrastructure.tacs` columns (`{"id": 1001, "brand": "Nokia", "hnd_type":
"Feature"}`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import shapely

from flowkit.db import FlowDB, connect_flowdb
from flowkit.machine.catalogue import parse_spec
from flowkit.machine.queries import Machine, QueryState
from flowkit.machine.spec import QuerySpec

# level -> [(pcod, (min_lon, min_lat, max_lon, max_lat)[, parent pcod]), ...]
ADMINS: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {
    0: [("Z", (0, 0, 40, 20))],
    1: [("A", (0, 0, 20, 20), "Z"), ("B", (20, 0, 40, 20), "Z")],
    2: [("AA", (0, 0, 20, 20), "A"), ("BB", (20, 0, 40, 20), "B")],
    3: [
        ("A1", (0, 0, 10, 20), "AA"),
        ("A2", (10, 0, 20, 20), "AA"),
        ("B1", (20, 0, 30, 20), "BB"),
        ("B2", (30, 0, 40, 20), "BB"),
    ],
}

# (cell id, lon, lat) or (cell id, lon, lat, date_of_first_service, date_of_last_service);
# versions of one cell id are numbered 1, 2, ... in the order listed.
CELLS: list[tuple] = [
    ("cA1", 5, 10),
    ("cA2", 15, 10),
    ("cB1", 25, 10),
    ("cB2", 35, 10),
    ("cA1s", 5, 5),
    ("cEdge", 10, 10),
    ("cOut", 50, 10),
    ("cMoved", 5, 15, "2016-01-01", "2016-01-02"),
    ("cMoved", 35, 15, "2016-01-03", "2016-01-04"),
]

Event = tuple  # (subscriber, datetime, cell[, outgoing])


class TinyMachine(Machine):
    """A Machine over a hand-built FlowDB, with helpers for tests."""

    def as_spec(self, spec: QuerySpec | dict) -> QuerySpec:
        """A spec object from a spec or a dict (nested-only kinds such as daily_location too)."""
        if isinstance(spec, QuerySpec):
            return spec
        kind = QuerySpec.registry.get(spec.get("query_kind"))
        if kind is not None and not kind.top_level:
            return kind.model_validate(spec)
        return parse_spec(spec)

    def compute(self, spec: QuerySpec | dict) -> pd.DataFrame:
        """Run a spec to completion and return its stored (unredacted) result."""
        spec = self.as_spec(spec)
        query_id = self.run(spec)
        state = self.wait(query_id, timeout=30)
        assert state == QueryState.COMPLETED, f"{spec.query_kind} {state}: {self.error(query_id)}"
        return self.result(query_id).to_pandas()

    def served(self, spec: QuerySpec | dict) -> pd.DataFrame:
        """The result as it may leave the API: the kind's redaction rule applied."""
        spec = self.as_spec(spec)
        query_id = self.run(spec)
        state = self.wait(query_id, timeout=30)
        assert state == QueryState.COMPLETED, f"{spec.query_kind} {state}: {self.error(query_id)}"
        return type(spec).redaction.apply(self.result(query_id)).to_pandas()

    def failure(self, spec: QuerySpec | dict) -> str:
        """Run a spec expected to error; returns the error message."""
        query_id = self.run(self.as_spec(spec))
        state = self.wait(query_id, timeout=30)
        assert state == QueryState.ERRORED, f"expected an error, got {state}"
        return self.error(query_id)


def _insert(db: FlowDB, table: str, frame: pd.DataFrame) -> None:
    db.insert(table, pa.Table.from_pandas(frame, preserve_index=False))


def _events_frame(rows: Iterable[Event], *, with_outgoing: bool) -> pd.DataFrame:
    records = []
    extra_columns: dict[str, None] = {}
    for n, row in enumerate(rows):
        subscriber, when, cell, *rest = row
        extras = rest.pop() if rest and isinstance(rest[-1], dict) else {}
        record = {"id": f"e{n}", "msisdn": subscriber, "datetime": pd.Timestamp(when), "location_id": cell}
        if with_outgoing:
            record["outgoing"] = rest[0] if rest else True
        records.append({**record, **extras})
        extra_columns.update(dict.fromkeys(extras))
    columns = ["id", "msisdn", "datetime", "location_id"] + (["outgoing"] if with_outgoing else [])
    return pd.DataFrame.from_records(records, columns=columns + [c for c in extra_columns if c not in columns])


def build_tiny_db(
    *,
    admins: dict[int, Sequence[tuple]] = ADMINS,
    cells: Sequence[tuple] = CELLS,
    calls: Iterable[Event] = (),
    sms: Iterable[Event] = (),
    mds: Iterable[Event] = (),
    topups: Iterable[Event] = (),
    tacs: Sequence[dict] = (),
    db=None,
) -> TinyMachine:
    """A FlowDB (in-memory DuckDB unless `db` is given, empty) holding exactly the given
    geography and events, behind a Machine."""
    db = db if db is not None else FlowDB()
    for level, units in admins.items():
        rows = [
            {"gid": gid, f"admin{level}pcod": pcod, f"admin{level}name": f"Unit {pcod}", "geom": shapely.box(*box).wkb}
            | ({f"admin{level - 1}pcod": parent[0]} if parent else {})
            for gid, (pcod, box, *parent) in enumerate(units, start=1)
        ]
        for row in rows:  # rows with and without a parent column
            db.insert(f"geography.admin{level}", pa.Table.from_pylist([row]))
    versions: dict[str, int] = {}
    rows = []
    for cell_id, lon, lat, *service in cells:
        versions[cell_id] = versions.get(cell_id, 0) + 1
        first, last = (date.fromisoformat(d) for d in service) if service else (None, None)
        rows.append(
            {
                "id": cell_id,
                "version": versions[cell_id],
                "date_of_first_service": first,
                "date_of_last_service": last,
                "geom_point": shapely.Point(lon, lat).wkb,
            }
        )
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("version", pa.int32()),
            ("date_of_first_service", pa.date32()),
            ("date_of_last_service", pa.date32()),
            ("geom_point", pa.binary()),
        ]
    )
    db.insert("infrastructure.cells", pa.Table.from_pylist(rows, schema))
    for tac in tacs:
        db.execute(
            f"INSERT INTO infrastructure.tacs ({', '.join(tac)}) VALUES ({', '.join('?' * len(tac))})",
            list(tac.values()),
        )
    for table, rows in (("calls", calls), ("sms", sms), ("mds", mds), ("topups", topups)):
        frame = _events_frame(rows, with_outgoing=table in ("calls", "sms"))
        if len(frame):
            _insert(db, f"events.{table}", frame)
            db.mark_ingested(table, sorted({t.date() for t in frame["datetime"]}))
    db.refresh_cell_admin_units()
    return TinyMachine(db)


POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
BACKENDS = ["duckdb", "postgres"]


@pytest.fixture(scope="module")
def postgres_url(request):
    """A fresh PostgreSQL database (with PostGIS) for this test module, dropped afterwards."""
    module = "".join(c if c.isalnum() else "_" for c in request.module.__name__.split(".")[-1])
    name = f"flowkit_{module}_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # test runs may overlap
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(f"{POSTGRES_SERVER}/{name}", autocommit=True) as con:
        con.execute("CREATE EXTENSION postgis")
    yield f"{POSTGRES_SERVER}/{name}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def postgres_flowdb(postgres_url):
    """This module's PostgreSQL FlowDB; `emptied` makes it empty again for the next test."""
    db = connect_flowdb(postgres_url)
    yield db
    db.close()


def emptied(db):
    """`db` (a PostgreSQL FlowDB) with FlowKit's schemas dropped and made again. Reusing one
    FlowDB and its connection per module saves loading PostGIS into a new session each time."""
    db.execute(
        "DROP SCHEMA IF EXISTS events, infrastructure, geography, etl, cache, dfs CASCADE; "
        "DROP TABLE IF EXISTS available_tables"
    )
    db.init_schema()
    return db


@pytest.fixture
def backend() -> str:
    """The backend `tiny_db` and `flowdb` build on; a module overrides it to run on others."""
    return "duckdb"


@pytest.fixture
def flowdb(backend, request):
    """An empty FlowDB on `backend`: in-memory DuckDB, or this module's PostgreSQL database."""
    if backend == "postgres":
        yield emptied(request.getfixturevalue("postgres_flowdb"))
        return
    db = FlowDB()
    yield db
    db.close()


@pytest.fixture
def tiny_db(backend, request):
    """Builder of small FlowDBs (see `build_tiny_db`) on `backend`; everything it built is closed
    afterwards. On PostgreSQL every build empties the module's database first."""
    built: list[TinyMachine] = []

    def build(**kwargs: Any) -> TinyMachine:
        if backend == "postgres":
            for machine in built:  # one database per module: the previous tiny FlowDB goes
                machine.close()
            kwargs["db"] = emptied(request.getfixturevalue("postgres_flowdb"))
        machine = build_tiny_db(**kwargs)
        built.append(machine)
        return machine

    yield build
    for machine in built:
        machine.close()
        if backend != "postgres":  # the module's PostgreSQL FlowDB stays open for the next test
            machine.db.close()


def sixteen_and_fifteen() -> FlowDB:
    """Area A holds 16 subscribers on 2016-01-01 (served), area B 15 (redacted): one call each."""
    db = FlowDB()
    db.execute(
        "INSERT INTO geography.admin3 (gid, admin3pcod, admin3name, geom) VALUES (1, 'A', 'a', ?), (2, 'B', 'b', ?)",
        [shapely.box(0, 0, 1, 1).wkb, shapely.box(1, 0, 2, 1).wkb],
    )
    db.execute(
        "INSERT INTO infrastructure.cells (id, version, geom_point) VALUES ('cA', 0, ?), ('cB', 0, ?)",
        [shapely.Point(0.5, 0.5).wkb, shapely.Point(1.5, 0.5).wkb],
    )
    db.refresh_cell_admin_units()
    db.execute(
        "INSERT INTO events.calls (id, outgoing, datetime, msisdn, location_id) "
        "SELECT i::VARCHAR, true, TIMESTAMP '2016-01-01 10:00', 's' || i, CASE WHEN i < 16 THEN 'cA' ELSE 'cB' END "
        "FROM range(31) t(i)"
    )
    db.mark_ingested("calls", [date(2016, 1, 1)])
    return db
