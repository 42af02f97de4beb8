"""The shapes behind aggregation units, for GeoJSON output."""

from __future__ import annotations

import shapely
from shapely.geometry.base import BaseGeometry

from flowkit.db.flowdb import FlowDB


def unit_shapes(db: FlowDB, aggregation_unit: str) -> dict[tuple, BaseGeometry]:
    """Location key (the unit's location columns as a tuple) → shape, in EPSG:4326.

    Admin units are their polygons keyed by `(pcod,)`; lon-lat locations are the points of
    the cells, keyed by `(lon, lat)`.
    """
    if aggregation_unit == "lon-lat":
        rows = db.execute("SELECT DISTINCT lon, lat FROM geography.cell_admin_units ORDER BY lon, lat").fetchall()
        return {(lon, lat): shapely.Point(lon, lat) for lon, lat in rows}
    level = int(aggregation_unit.removeprefix("admin"))
    rows = db.execute(
        f"SELECT admin{level}pcod, {db.wkb('geom')} FROM geography.admin{level} ORDER BY admin{level}pcod"
    ).fetchall()
    return {(pcod,): shapely.from_wkb(bytes(geom)) for pcod, geom in rows}
