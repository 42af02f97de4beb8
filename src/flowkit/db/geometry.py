"""Point-in-polygon work, done once when cells or boundaries change, never inside a query."""

import numpy as np
import shapely


def locate_points(lon: np.ndarray, lat: np.ndarray, polygons: list[bytes], keys: list[str]) -> list[str | None]:
    """The key of the polygon strictly containing each point (as PostGIS ST_Within), else None.

    A point on a boundary belongs to no polygon, as in FlowKit; a point inside two overlapping
    polygons takes the first one listed.
    """
    geoms = shapely.from_wkb(polygons) if len(polygons) else np.array([], dtype=object)
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    found: list[str | None] = [None] * len(points)
    if len(geoms) == 0 or len(points) == 0:
        return found
    point_index, polygon_index = shapely.STRtree(geoms).query(points, predicate="within")
    for p, g in sorted(zip(point_index.tolist(), polygon_index.tolist()), reverse=True):
        found[p] = keys[g]  # reverse order: the lowest polygon index is written last and wins
    return found
