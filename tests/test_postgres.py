"""The PostgreSQL FlowDB: FlowKit's schema with PostGIS and daily partitions, the shared FlowDB
interface on both backends, and the same answers as DuckDB for every top-level kind."""

from __future__ import annotations

import copy
import math
import threading
import time
from datetime import date
from decimal import Decimal

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import shapely
from tests.conftest import BACKENDS, build_tiny_db, emptied

from flowkit.db import FlowDB, connect_flowdb
from flowkit.db.geography import unit_shapes
from flowkit.db.postgres import PostgresFlowDB, postgres_ddl, qmark_to_pyformat
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.machine import catalogue
from flowkit.machine.catalogue import parse_spec
from flowkit.machine.queries import Machine


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def test_connect_flowdb_picks_the_backend_from_the_target(postgres_url):
    duck = connect_flowdb(":memory:")
    pg = connect_flowdb(postgres_url)
    try:
        assert isinstance(duck, FlowDB) and duck.dialect == "duckdb"
        assert isinstance(pg, PostgresFlowDB) and pg.dialect == "postgres" and pg.path == postgres_url
    finally:
        duck.close()
        pg.close()


def test_question_marks_become_psycopg_placeholders_outside_quotes():
    sql = "SELECT '?', \"a?\", to_char(d, '%Y') FROM t WHERE a = ? AND b LIKE 'x%' AND c = ?"
    assert qmark_to_pyformat(sql) == (
        "SELECT '?', \"a?\", to_char(d, '%%Y') FROM t WHERE a = %s AND b LIKE 'x%%' AND c = %s"
    )


def test_the_postgres_schema_is_derived_from_the_duckdb_one():
    ddl = postgres_ddl()
    assert "CREATE EXTENSION IF NOT EXISTS postgis" in ddl
    for event_type in ("calls", "sms", "mds", "topups"):
        assert f"CREATE TABLE IF NOT EXISTS events.{event_type} (" in ddl
    assert ddl.count("PARTITION BY RANGE (datetime)") == 4
    assert "geom_point GEOMETRY(POINT, 4326)" in ddl and "geom GEOMETRY(MULTIPOLYGON, 4326) NOT NULL" in ddl
    assert "BLOB" not in ddl and "BYTEA" not in ddl and "INSERT OR" not in ddl


def test_flowdb_interface_on_both_backends(flowdb):
    assert flowdb.table_exists("events", "calls") and not flowdb.table_exists("events", "nothing")
    assert flowdb.available_dates() == {}
    flowdb.mark_ingested("calls", [date(2016, 1, 2), date(2016, 1, 1)])
    flowdb.mark_ingested("sms", [date(2016, 1, 3)])
    assert flowdb.available_dates() == {"calls": ["2016-01-01", "2016-01-02"], "sms": ["2016-01-03"]}
    assert flowdb.execute("SELECT count(*) FROM etl.etl_records WHERE cdr_type = ?", ["calls"]).fetchone() == (2,)


def test_cells_map_to_the_admin_unit_strictly_containing_them(flowdb):
    """PostGIS's ST_Within on PostgreSQL, shapely's on DuckDB: a cell on a border is in neither unit."""
    flowdb.insert(
        "geography.admin3",
        pa.table(
            {
                "gid": pa.array([1, 2], pa.int32()),
                "admin3pcod": ["A", "B"],
                "geom": [shapely.box(0, 0, 1, 1).wkb, shapely.box(1, 0, 2, 1).wkb],  # polygons: made multi
            }
        ),
    )
    cells = {"c1": (0.5, 0.5), "c2": (1.5, 0.5), "edge": (1.0, 0.5), "out": (5.0, 5.0)}
    flowdb.insert(
        "infrastructure.cells",
        pa.table(
            {
                "id": list(cells),
                "version": pa.array([0] * len(cells), pa.int32()),
                "geom_point": [shapely.Point(*xy).wkb for xy in cells.values()],
            }
        ),
    )
    assert flowdb.refresh_cell_admin_units() == 4
    rows = flowdb.execute("SELECT location_id, lon, lat, admin3pcod FROM geography.cell_admin_units").fetchall()
    assert sorted(rows) == [
        ("c1", 0.5, 0.5, "A"),
        ("c2", 1.5, 0.5, "B"),
        ("edge", 1.0, 0.5, None),
        ("out", 5.0, 5.0, None),
    ]
    shapes = flowdb.execute(f"SELECT admin3pcod, {flowdb.wkb('geom')} FROM geography.admin3 ORDER BY gid").fetchall()
    assert [shapely.from_wkb(bytes(g)).geom_type for _, g in shapes] == (
        ["MultiPolygon"] * 2 if flowdb.dialect == "postgres" else ["Polygon"] * 2
    )


def test_events_go_to_daily_partitions_named_as_flowkits(postgres_flowdb):
    db = emptied(postgres_flowdb)
    times = pd.to_datetime(["2016-01-01 23:59:59", "2016-01-02 00:00:00", "2016-01-02 10:00:00"])
    db.insert("events.calls", pa.table({"msisdn": ["a", "b", "c"], "datetime": pa.array(times, pa.timestamp("us"))}))
    partitions = db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'events.calls'::regclass ORDER BY 1"
    ).fetchall()
    assert partitions == [("calls_20160101",), ("calls_20160102",)]
    assert db.execute("SELECT count(*) FROM events.calls_20160102").fetchone() == (2,)
    kinds = db.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'infrastructure.cells'::regclass AND attname = 'geom_point'"
    ).fetchone()
    assert kinds == ("geometry(Point,4326)",)


def test_a_cursor_is_interrupted_from_another_thread(postgres_flowdb):
    """What cancelling an executing query relies on: the worker's statement stops at once."""
    outcome = {}

    def work():
        outcome["cursor"] = cursor = postgres_flowdb.cursor()
        try:
            cursor.execute("SELECT pg_sleep(30)")
            outcome["error"] = None
        except psycopg.errors.QueryCanceled as error:
            outcome["error"] = error

    worker = threading.Thread(target=work)
    worker.start()
    for _ in range(100):
        if "cursor" in outcome:
            break
        time.sleep(0.01)
    time.sleep(0.2)
    started = time.monotonic()
    outcome["cursor"].interrupt()
    worker.join(timeout=10)
    assert isinstance(outcome["error"], psycopg.errors.QueryCanceled)
    assert time.monotonic() - started < 5


def test_events_in_timestamptz_as_in_flowkits_own_flowdb_read_as_utc(postgres_flowdb):
    """FlowKit's FlowDB keeps `datetime` as timestamptz; an operator's existing events answer as ours do."""
    calls = [
        ("s1", "2016-01-01 10:00", "cA1"),
        ("s1", "2016-01-01 23:30", "cB1"),
        ("s2", "2016-01-01 12:00", "cA2"),
        ("s2", "2016-01-02 00:30", "cA2"),
    ]
    specs = [
        {"query_kind": "daily_location", "date": "2016-01-01", "aggregation_unit": "admin3", "method": "last"},
        {
            "query_kind": "location_event_counts",
            "start_date": "2016-01-01",
            "end_date": "2016-01-03",
            "aggregation_unit": "admin3",
            "count_interval": "hour",
            "hours": {"start_hour": 0, "end_hour": 12},
        },
        {
            "query_kind": "total_network_objects",
            "start_date": "2016-01-01",
            "end_date": "2016-01-03",
            "aggregation_unit": "admin3",
            "total_by": "hour",
        },
    ]
    answers = []
    for flowkit_times in (False, True):
        db = emptied(postgres_flowdb)
        if flowkit_times:
            for table in ("calls", "sms", "mds", "topups"):
                columns = db.execute(
                    "SELECT string_agg(quote_ident(attname) || ' ' || CASE WHEN attname = 'datetime' "
                    "THEN 'timestamptz' ELSE format_type(atttypid, atttypmod) END, ', ' ORDER BY attnum) "
                    "FROM pg_attribute WHERE attrelid = ?::regclass AND attnum > 0",
                    [f"events.{table}"],
                ).fetchone()[0]
                db.execute(f"DROP TABLE events.{table}")
                db.execute(f"CREATE TABLE events.{table} ({columns}) PARTITION BY RANGE (datetime)")
        machine = build_tiny_db(db=db, calls=calls)
        answers.append([canonical(machine.compute(spec)) for spec in specs])
        machine.close()
    assert answers[0] == answers[1]
    assert answers[0][0] == [("s1", "B1"), ("s2", "A2")]


# -- the same answers on both backends ---------------------------------------------------------

COUNTRY = SyntheticConfig(seed=3, subscribers=300, start_date=date(2016, 1, 1), end_date=date(2016, 2, 29))
TOP_LEVEL = sorted(catalogue.top_level_kinds())


@pytest.fixture(scope="module")
def machines(postgres_flowdb):
    """The same small synthetic country in DuckDB and in PostgreSQL, each behind a Machine."""
    duck = FlowDB()
    pg = emptied(postgres_flowdb)
    built = {}
    for name, db in (("duckdb", duck), ("postgres", pg)):
        built[name] = (generate(db, COUNTRY), Machine(db))
    assert built["duckdb"][0] == built["postgres"][0]  # the same country went in
    yield {name: machine for name, (_, machine) in built.items()}
    for _, machine in built.values():
        machine.close()
    duck.close()


def canonical(frame: pd.DataFrame) -> list[tuple]:
    """Rows as comparable tuples, sorted: numbers as floats, missing values as None."""

    def value(v):
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
            return None
        if isinstance(v, bool):
            return v
        if isinstance(v, int | float | Decimal):
            return float(v)
        return str(v)

    rows = [tuple(value(v) for v in row) for row in frame.itertuples(index=False)]
    return sorted(rows, key=lambda row: [(v is None, type(v).__name__, v if v is not None else 0) for v in row])


def same(a: list[tuple], b: list[tuple]) -> bool:
    def equal(x, y):
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
        return x == y

    return len(a) == len(b) and all(len(r) == len(s) and all(map(equal, r, s)) for r, s in zip(a, b))


@pytest.mark.slow
@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_every_example_gives_the_same_answer_on_both_backends(machines, kind):
    spec = catalogue.top_level_kinds()[kind].example
    frames = {
        name: machine.dataframe(parse_spec(copy.deepcopy(spec)), timeout=300) for name, machine in machines.items()
    }
    duck, pg = frames["duckdb"], frames["postgres"]
    assert list(duck.columns) == list(pg.columns)
    assert [str(t) for t in duck.dtypes] == [str(t) for t in pg.dtypes], kind
    assert len(duck), f"{kind}: the example is empty on the synthetic country, so it shows nothing"
    assert same(canonical(duck), canonical(pg)), kind


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["admin1", "admin3", "lon-lat"])
def test_geojson_shapes_are_the_same_on_both_backends(machines, unit):
    duck, pg = (unit_shapes(machines[name].db, unit) for name in ("duckdb", "postgres"))
    assert duck.keys() == pg.keys() and len(duck)
    assert all(duck[key].equals(pg[key]) for key in duck)
