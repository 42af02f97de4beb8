"""A fictional island country: admin0 → admin1 → admin2 → admin3 polygons that nest exactly.

Admin3 areas are the Voronoi cells of a jittered lattice, the land being a blob-shaped set of
lattice points. Every coarser unit is the coverage union of its admin3 cells, so neighbours share
boundaries vertex for vertex and nesting holds exactly (no clipping, hence no rounding slivers).
The island lies in the Gulf of Guinea, on UTC like its neighbours: stored UTC hours are local.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from flowkit.db.synthetic.config import SyntheticConfig

CENTRE = (0.5, -2.0)  # lon, lat: open sea south of Ghana
STEP = 0.45  # lattice spacing in degrees (~50 km), hence the size of an admin3 area
SPLITS = (4, 4, 5)  # admin1 units, admin2 per admin1, admin3 per admin2 (on average)
CITY_SHARES = (0.2, 0.1)  # the capital and a second city, relative to everyone else
SYLLABLES = np.array(
    "ba be bo da di do fa ga ka ke ki ko la le lo ma me mi mo na ne ni no pa ra ri ro sa so ta ti to wa".split()
)


@dataclass(frozen=True)
class Country:
    code: str
    units: dict[int, pd.DataFrame]  # level → pcod, name, parent (pcod), geometry; gid = row + 1
    population: np.ndarray  # share of the population living in each admin3 (rows of units[3])
    neighbours: list[np.ndarray]  # admin3 → the admin3 areas whose polygons touch it
    cities: np.ndarray  # admin3 indices of the capital and the second city

    @property
    def admin3(self) -> np.ndarray:
        return self.units[3]["geometry"].to_numpy()

    def tables(self) -> dict[int, pa.Table]:
        """geography.admin0‥3 rows, geometries as MultiPolygon WKB (as in FlowKit)."""
        tables = {}
        for level, units in self.units.items():
            parts, index = shapely.get_parts(units["geometry"].to_numpy(), return_index=True)
            columns = {
                "gid": pa.array(np.arange(1, len(units) + 1, dtype=np.int32)),
                f"admin{level}pcod": pa.array(units["pcod"]),
                f"admin{level}name": pa.array(units["name"]),
                "geom": pa.array(shapely.to_wkb(shapely.multipolygons(parts, indices=index)), pa.binary()),
            }
            if level:
                columns[f"admin{level - 1}pcod"] = pa.array(units["parent"])
            tables[level] = pa.table(columns)
        return tables


def build_country(config: SyntheticConfig) -> Country:
    rng = config.rng(1)
    n1, n2, n3 = SPLITS
    points, land = _lattice(rng, n1 * n2 * n3)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), ordered=True))[land]
    seeds, touching, code = points[land], _touching(cells), config.country_code
    rows = {0: [(code, None, np.arange(len(land)))], 1: [], 2: [], 3: []}
    for i, group1 in enumerate(_regions(seeds, np.arange(len(land)), n1, touching), start=1):
        rows[1].append((f"{code}.{i}_1", code, group1))
        for j, group2 in enumerate(_regions(seeds, group1, n2, touching), start=1):
            rows[2].append((f"{code}.{i}.{j}_1", f"{code}.{i}_1", group2))
            for k, cell in enumerate(group2[np.argsort(seeds[group2, 0])], start=1):  # west to east
                rows[3].append((f"{code}.{i}.{j}.{k}_1", f"{code}.{i}.{j}_1", cell))
    names = iter(_names(rng, sum(len(r) for r in rows.values())))
    units = {
        level: pd.DataFrame(
            [
                (pcod, next(names), parent, shapely.coverage_union_all(cells[members]) if level < 3 else cells[members])
                for pcod, parent, members in level_rows
            ],
            columns=["pcod", "name", "parent", "geometry"],
        )
        for level, level_rows in rows.items()
    }
    admin3 = units[3]["geometry"].to_numpy()
    population, cities = _population(rng, len(admin3))
    return Country(code, units, population, _touching(admin3), cities)


def _lattice(rng: np.random.Generator, n_land: int) -> tuple[np.ndarray, np.ndarray]:
    """Jittered lattice points, and the `n_land` of them inside a random smooth blob.

    The lattice reaches well beyond the blob so that every land cell is bounded by sea cells.
    """
    radius = STEP * np.sqrt(n_land / np.pi)  # a disc of this radius holds about n_land points
    half = int(np.ceil(1.6 * radius / STEP)) + 3
    grid = np.arange(-half, half + 1) * STEP
    points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    points += rng.uniform(-0.3, 0.3, points.shape) * STEP
    angle = np.arctan2(points[:, 1], points[:, 0])
    k = np.arange(2, 5)[:, None]
    shape = 1 + (rng.uniform(0, 0.12, (3, 1)) * np.cos(k * angle + rng.uniform(0, 2 * np.pi, (3, 1)))).sum(axis=0)
    land = np.argsort(np.hypot(points[:, 0], points[:, 1]) / shape, kind="stable")[:n_land]
    return points + CENTRE, np.sort(land)


def _regions(points: np.ndarray, members: np.ndarray, parts: int, neighbours: list[np.ndarray]) -> list[np.ndarray]:
    """Split connected `members` into `parts` connected regions of similar size.

    Each region grows from one of `parts` mutually distant cells, the smallest region taking
    the unassigned neighbouring cell closest to its start; growing along shared edges keeps every
    region in one piece (median cuts do not, on a ragged coast).
    """
    xy = points[members]
    local = {member: i for i, member in enumerate(members.tolist())}
    starts = [int(np.argmin(xy[:, 0]))]
    while len(starts) < parts:
        starts.append(int(np.argmax(np.linalg.norm(xy[:, None] - xy[starts], axis=2).min(axis=1))))
    distance = np.linalg.norm(xy[:, None] - xy[starts], axis=2)
    region = np.full(len(members), -1)
    region[starts] = np.arange(parts)
    while (region < 0).any():  # one pass per admin3 cell
        for r in np.argsort(np.bincount(region[region >= 0], minlength=parts), kind="stable"):
            frontier = [
                local[n]
                for i in np.flatnonzero(region == r)
                for n in neighbours[members[i]].tolist()
                if n in local and region[local[n]] < 0
            ]
            if frontier:
                region[min(frontier, key=lambda i: (distance[i, r], i))] = r
                break
        else:
            raise RuntimeError("land cells are not connected")
    return [members[region == r] for r in range(parts)]


def _names(rng: np.random.Generator, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:  # one pass per admin unit, plus the odd repeat
        name = "".join(rng.choice(SYLLABLES, rng.integers(2, 4))).capitalize()
        if name not in names:
            names.append(name)
    return names


def _population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lognormal weights per admin3, plus a capital and a second city far bigger than the rest."""
    weights = rng.lognormal(0, 0.8, n)
    cities = rng.choice(n, len(CITY_SHARES), replace=False)
    weights[cities] = weights.sum() * np.array(CITY_SHARES)
    return weights / weights.sum(), cities


def _touching(polygons: np.ndarray) -> list[np.ndarray]:
    """Neighbours sharing an edge (polygons meeting at a single point do not count)."""
    this, other = shapely.STRtree(polygons).query(polygons, predicate="touches")
    edge = shapely.length(shapely.intersection(polygons[this], polygons[other])) > 0
    this, other = this[edge], other[edge]
    return [np.sort(other[this == i]) for i in range(len(polygons))]
