"""`flowkit ingest` for reference data: cells with versions (CSV, GeoJSON), TACs, admin boundaries
(GeoJSON, GeoPackage, Shapefile), and the cell → admin unit mapping recomputed after them."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pyogrio
import pytest
import shapely
from tests.conftest import BACKENDS
from tests.ingest_helpers import mapping, quarantined, write

from flowkit.ingest.errors import IngestError
from flowkit.ingest.load import ingest_file


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def load(flowdb, tmp_path):
    def ingest(path, kind=None):
        rules = mapping(tmp_path)
        return ingest_file(flowdb, path, kind or rules.kind_of(path), rules, quarantine_dir=tmp_path / "quarantine")

    return ingest


def boundaries(
    path, *, suffix: str, driver: str, units=(("A", "Unit A", (0, 0, 20, 20)), ("B", "Unit B", (20, 0, 40, 20)))
):
    table = pa.table(
        {
            "ADM1_PCODE": [u[0] for u in units],
            "ADM1_EN": [u[1] for u in units],
            "ADM0_PCODE": ["Z"] * len(units),
            "geometry": pa.array([shapely.box(*u[2]).wkb for u in units], pa.binary()),
        }
    )
    target = path.with_suffix(suffix)
    pyogrio.write_arrow(
        table, target, driver=driver, geometry_name="geometry", geometry_type="Polygon", crs="EPSG:4326"
    )
    return target


@pytest.mark.parametrize(("suffix", "driver"), [(".geojson", "GeoJSON"), (".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_boundaries_then_cells_map_cells_to_units(flowdb, load, tmp_path, suffix, driver):
    outcome = load(boundaries(tmp_path / "adm1", suffix=suffix, driver=driver))
    assert (outcome.kind, outcome.rows_loaded) == ("admin1", 2)
    rows = flowdb.execute(
        f"SELECT gid, admin1pcod, admin1name, admin0pcod, {flowdb.wkb('geom')} FROM geography.admin1 ORDER BY gid"
    )
    rows = rows.fetchall()
    assert [r[:4] for r in rows] == [(1, "A", "Unit A", "Z"), (2, "B", "Unit B", "Z")]
    assert shapely.from_wkb(bytes(rows[1][4])).equals(shapely.box(20, 0, 40, 20))
    load(
        write(
            tmp_path / "cells.csv", "CELL_ID,VERSION,SITE,LON,LAT,FROM,TO\nc1,1,s1,5,10,2015-01-01,\nc2,1,s1,25,10,,\n"
        )
    )
    units = flowdb.execute(
        "SELECT location_id, admin1pcod FROM geography.cell_admin_units ORDER BY location_id"
    ).fetchall()
    assert units == [("c1", "A"), ("c2", "B")]


def test_a_boundary_file_replaces_its_level(flowdb, load, tmp_path):
    load(boundaries(tmp_path / "adm1_old", suffix=".geojson", driver="GeoJSON"))
    load(
        boundaries(tmp_path / "adm1_new", suffix=".geojson", driver="GeoJSON", units=[("C", "Unit C", (0, 0, 40, 20))])
    )
    assert flowdb.execute("SELECT gid, admin1pcod FROM geography.admin1").fetchall() == [(1, "C")]


def test_bad_features_quarantined(flowdb, load, tmp_path):
    path = tmp_path / "adm1.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"ADM1_PCODE": "A", "ADM1_EN": "a", "ADM0_PCODE": "Z"},
            "geometry": shapely.geometry.mapping(shapely.box(0, 0, 1, 1)),
        },
        {
            "type": "Feature",
            "properties": {"ADM1_PCODE": "A", "ADM1_EN": "a2", "ADM0_PCODE": "Z"},
            "geometry": shapely.geometry.mapping(shapely.box(1, 0, 2, 1)),
        },
        {
            "type": "Feature",
            "properties": {"ADM1_PCODE": "B", "ADM1_EN": "b", "ADM0_PCODE": "Z"},
            "geometry": {"type": "Point", "coordinates": [1, 1]},
        },
        {
            "type": "Feature",
            "properties": {"ADM1_PCODE": "C", "ADM1_EN": "c", "ADM0_PCODE": "Z"},
            "geometry": shapely.geometry.mapping(shapely.box(2, 0, 3, 1)),
        },
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    outcome = load(path)
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (1, 3)
    assert quarantined(outcome.quarantine) == [
        (1, "ADM1_PCODE: 'A' repeated in the file"),
        (2, "ADM1_PCODE: 'A' repeated in the file"),
        (3, "geometry: not a polygon"),
    ]
    assert flowdb.execute("SELECT gid, admin1pcod FROM geography.admin1").fetchall() == [(1, "C")]


def test_boundaries_in_another_projection_are_refused(flowdb, load, tmp_path):
    table = pa.table({"ADM1_PCODE": ["A"], "geometry": pa.array([shapely.box(0, 0, 1000, 1000).wkb])})
    path = tmp_path / "adm1.gpkg"
    pyogrio.write_arrow(table, path, driver="GPKG", geometry_name="geometry", geometry_type="Polygon", crs="EPSG:3857")
    with pytest.raises(IngestError, match=r"adm1.gpkg: coordinates are in EPSG:3857; reproject the file to EPSG:4326"):
        load(path)


def test_cells_versions_upserted(flowdb, load, tmp_path):
    load(
        write(
            tmp_path / "cells_1.csv",
            "CELL_ID,VERSION,SITE,LON,LAT,FROM,TO\nc1,1,s1,5,10,2015-01-01,2015-12-31\nc2,1,s2,6,10,,\n",
        )
    )
    outcome = load(
        write(
            tmp_path / "cells_2.csv",
            "CELL_ID,VERSION,SITE,LON,LAT,FROM,TO\n"
            "c1,1,s1,5,11,2015-01-01,2016-01-31\n"  # replaces version 1 of c1
            "c1,2,s1,7,10,2016-02-01,\n"  # a new version
            "c3,1,s3,,,,\n"  # no position
            "c4,1,s3,5,,,\n"  # half a position
            "c5,1,s3,5,5,2016-02-01,2016-01-01\n"  # service ends before it starts
            "c6,x,s3,5,5,,\n"  # version not a number
            "c7,1,s3,5,5,,\n"
            "c7,1,s3,5,6,,\n",  # key repeated
        )
    )
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (3, 5)
    rows = flowdb.execute(
        f"SELECT id, version, site_id, date_of_first_service, date_of_last_service, {flowdb.wkb('geom_point')} "
        "FROM infrastructure.cells ORDER BY id, version"
    ).fetchall()
    points = [shapely.from_wkb(bytes(r[5])) if r[5] is not None else None for r in rows]
    assert [r[:5] for r in rows] == [
        ("c1", 1, "s1", date(2015, 1, 1), date(2016, 1, 31)),
        ("c1", 2, "s1", date(2016, 2, 1), None),
        ("c2", 1, "s2", None, None),
        ("c3", 1, "s3", None, None),
    ]
    assert [(p.x, p.y) if p else None for p in points] == [(5, 11), (7, 10), (6, 10), None]
    assert quarantined(outcome.quarantine) == [
        (5, "longitude and latitude: one without the other"),
        (6, "date_of_last_service is before date_of_first_service"),
        (7, "version: 'x' is not a whole number from 0 to 9 digits"),
        (8, "(id, version) repeated in the file"),
        (9, "(id, version) repeated in the file"),
    ]
    assert flowdb.execute("SELECT count(*) FROM geography.cell_admin_units").fetchall() == [(3,)]


def test_cells_from_geojson_points(flowdb, load, tmp_path):
    features = [
        {
            "type": "Feature",
            "properties": {"CELL_ID": "g1", "VERSION": 1, "SITE": "s", "FROM": "2015-01-01", "TO": None},
            "geometry": {"type": "Point", "coordinates": [5, 10]},
        },
        {
            "type": "Feature",
            "properties": {"CELL_ID": "g2", "VERSION": 1, "SITE": "s", "FROM": None, "TO": None},
            "geometry": shapely.geometry.mapping(shapely.box(0, 0, 1, 1)),
        },
    ]
    path = tmp_path / "cells.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    outcome = load(path)
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (1, 1)
    rows = flowdb.execute(
        f"SELECT id, version, date_of_first_service, {flowdb.wkb('geom_point')} FROM infrastructure.cells"
    ).fetchall()
    assert [r[:3] for r in rows] == [("g1", 1, date(2015, 1, 1))]
    assert shapely.from_wkb(bytes(rows[0][3])).equals(shapely.Point(5, 10))


def test_tacs_upserted(flowdb, load, tmp_path):
    load(write(tmp_path / "tacs_1.csv", "tac,brand,model,type\n35000011,Nokia,3310,Feature\n35000012,Apple,6,Smart\n"))
    outcome = load(write(tmp_path / "tacs_2.csv", "tac,brand,model,type\n35000011.0,Nokia,3310b,Feature\n-1,X,Y,Z\n"))
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (1, 1)
    rows = flowdb.execute(
        "SELECT CAST(id AS INTEGER), brand, model, hnd_type FROM infrastructure.tacs ORDER BY id"
    ).fetchall()
    assert rows == [(35000011, "Nokia", "3310b", "Feature"), (35000012, "Apple", "6", "Smart")]
