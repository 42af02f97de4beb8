"""The radio network: sites and cells placed by population, a few re-sited mid-period, and TACs.

Cells stand where people live, so busy areas get many cells (at least 2 everywhere). A cell's
point is its site's point; a re-sited site gets a second version a few hundred metres away,
keeping its cell ids, so every cell id is in service on every day of the period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely

from flowkit.db.synthetic.config import SyntheticConfig, codes
from flowkit.db.synthetic.country import Country

RESITE_DISTANCE = 0.005  # degrees (~500 m), standard deviation of a re-sited site's move
BRANDS = np.array(["Tecno", "Samsung", "Itel", "Nokia", "Huawei", "Xiaomi", "Apple", "ZTE", "LG", "Sony", "Google"])
HANDSET_TYPES = np.array(["Smart", "Feature", "Basic"])
DATA_USE = np.array([1.5, 0.3, 0.0])  # data sessions relative to mds_per_day, by handset type


@dataclass(frozen=True)
class Network:
    cell_ids: np.ndarray  # 8-character id of each cell, cells ordered by admin3
    cell_area: np.ndarray  # admin3 index of each cell
    area_start: np.ndarray  # index of each admin3's first cell
    area_count: np.ndarray  # cells in each admin3
    cells: pa.Table  # infrastructure.cells rows
    sites: pa.Table  # infrastructure.sites rows

    def random_cells(self, rng: np.random.Generator, areas: np.ndarray) -> np.ndarray:
        """A uniformly random cell in each of `areas`."""
        return self.area_start[areas] + (rng.random(len(areas)) * self.area_count[areas]).astype(np.int64)


@dataclass(frozen=True)
class Handsets:
    tac: np.ndarray  # 8-digit type allocation codes
    popularity: np.ndarray  # share of subscribers owning each model
    data_use: np.ndarray  # data-session multiplier by model
    table: pa.Table  # infrastructure.tacs rows


def build_network(country: Country, config: SyntheticConfig) -> Network:
    rng = config.rng(2)
    area_count = np.maximum(2, np.round(country.population * config.cells)).astype(np.int64)
    site_sizes = [_site_sizes(rng, n) for n in area_count]  # one pass per admin3
    site_area = np.repeat(np.arange(len(area_count)), [len(s) for s in site_sizes])
    cell_site = np.repeat(np.arange(len(site_area)), np.concatenate(site_sizes))
    polygons = country.admin3[site_area]
    xy = _points_inside(polygons, lambda todo: rng.uniform(*np.split(shapely.bounds(polygons[todo]), 2, axis=1)))
    resited = np.flatnonzero(rng.random(len(site_area)) < config.resited_share)
    moved = np.full_like(xy, np.nan)
    moved[resited] = _points_inside(
        polygons[resited], lambda todo: xy[resited[todo]] + rng.normal(0, RESITE_DISTANCE, (len(todo), 2))
    )
    n_days = len(config.days)
    start = np.datetime64(config.start_date, "D")
    first_service = start - rng.integers(30, 1000, len(site_area)).astype("timedelta64[D]")
    last_service = np.full(len(site_area), np.datetime64("NaT"), dtype="datetime64[D]")
    last_service[resited] = start + rng.integers(n_days // 4, max(n_days // 4 + 1, 3 * n_days // 4), len(resited))
    site_ids, cell_ids = codes(rng, len(site_area), 6), codes(rng, len(cell_site), 8)
    sites, _ = _versions(site_ids, np.arange(len(site_area)), xy, first_service, last_service, moved)
    cells, site_of_row = _versions(cell_ids, cell_site, xy, first_service, last_service, moved)
    sites = sites.add_column(0, "site_id", pa.array(np.arange(1, sites.num_rows + 1)))  # FlowKit's bigserial keys
    cells = cells.add_column(0, "cell_id", pa.array(np.arange(1, cells.num_rows + 1)))
    cells = cells.add_column(3, "site_id", pa.array(site_ids[site_of_row]))
    return Network(cell_ids, site_area[cell_site], np.cumsum(area_count) - area_count, area_count, cells, sites)


def build_handsets(config: SyntheticConfig) -> Handsets:
    """A TAC database: a few brands, mostly smartphones, and a long tail of rare models."""
    rng = config.rng(3)
    n = config.tacs
    tac = np.sort(rng.choice(np.arange(35_000_000, 36_000_000), n, replace=False))
    brand = BRANDS[np.minimum(rng.geometric(0.3, n) - 1, len(BRANDS) - 1)]
    kind = rng.choice(len(HANDSET_TYPES), n, p=[0.6, 0.28, 0.12])
    kind[np.isin(brand, ["Apple", "Google"])] = 0
    conditions = [brand == "Apple", kind == 0, kind == 1]
    table = pa.table(
        {
            "id": pa.array(tac),
            "brand": pa.array(brand),
            "model": pa.array(np.char.add(np.char.add(brand, " "), rng.integers(100, 1000, n).astype(str))),
            "software_os_vendor": pa.array(np.select(conditions, ["Apple", "Google", "KaiOS Technologies"], brand)),
            "software_os_name": pa.array(np.select(conditions, ["iOS", "Android", "KaiOS"], "Proprietary")),
            "hnd_type": pa.array(HANDSET_TYPES[kind]),
        }
    )
    popularity = 1 / (rng.permutation(n) + 3)
    return Handsets(tac, popularity / popularity.sum(), DATA_USE[kind], table)


def _site_sizes(rng: np.random.Generator, cells: int) -> np.ndarray:
    """Cells per site, 1 to 3 each, adding up to `cells`."""
    sizes = rng.integers(1, 4, cells)
    last = np.searchsorted(np.cumsum(sizes), cells)
    sizes[last] -= sizes[: last + 1].sum() - cells
    return sizes[: last + 1]


def _points_inside(polygons: np.ndarray, propose: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """One point strictly inside each polygon (never on a boundary), by rejection sampling:
    `propose(todo)` draws candidates for the polygons at indices `todo`."""
    xy = np.empty((len(polygons), 2))
    todo = np.arange(len(polygons))
    while len(todo):
        candidates = propose(todo)
        inside = shapely.contains_xy(polygons[todo], candidates[:, 0], candidates[:, 1])
        xy[todo[inside]] = candidates[inside]
        todo = todo[~inside]
    return xy


def _versions(
    ids: np.ndarray,
    site: np.ndarray,
    xy: np.ndarray,
    first_service: np.ndarray,
    last_service: np.ndarray,
    moved: np.ndarray,
) -> tuple[pa.Table, np.ndarray]:
    """Rows of a sites or cells table: version 0 of every id (`site` gives each id's site), and
    version 1 at the moved point from the day after its site's last service."""
    again = np.flatnonzero(~np.isnat(last_service[site]))
    index = np.concatenate([np.arange(len(ids)), again])
    version = np.repeat([0, 1], [len(ids), len(again)]).astype(np.int32)
    order = np.lexsort((version, index))
    index, version = index[order], version[order]
    s = site[index]
    first = np.where(version == 0, first_service[s], last_service[s] + 1)
    last = np.where(version == 0, last_service[s], np.datetime64("NaT"))
    points = np.where(version[:, None] == 0, xy[s], moved[s])
    table = pa.table(
        {
            "id": pa.array(ids[index]),
            "version": pa.array(version),
            "date_of_first_service": pa.array(first, mask=np.isnat(first)),
            "date_of_last_service": pa.array(last, mask=np.isnat(last)),
            "geom_point": pa.array(shapely.to_wkb(shapely.points(points)), pa.binary()),
        }
    )
    return table, s
