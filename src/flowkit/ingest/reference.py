"""Reference data: cells (with versions), TACs and admin boundaries.

Reference files are small and read whole. Cells are keyed by (id, version) and TACs by id: a
row whose key is already in the FlowDB replaces it; other rows are added. A boundary file holds a
whole admin level and replaces it. Cells come from CSV/Parquet (positions from `longitude` and
`latitude`) or a geographic file of points; boundaries from GeoJSON, GeoPackage or Shapefile in
EPSG:4326. After cells or boundaries change, every cell's admin units are computed again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from flowkit.ingest import ledger
from flowkit.ingest.columns import POSITION, TABLES
from flowkit.ingest.errors import IngestError
from flowkit.ingest.load import Outcome
from flowkit.ingest.mapping import ADMIN_KINDS, Mapping
from flowkit.ingest.quarantine import Quarantine
from flowkit.ingest.sources import LINE, GeoSource, open_source
from flowkit.ingest.validate import REASON, RowChecks, check_columns

POINT, POLYGON, MULTIPOLYGON = 0, 3, 6


def load_reference(db, path: Path, kind: str, mapping: Mapping, digest: str, *, quarantine_dir: Path) -> Outcome:
    section = mapping.source(kind)
    if kind in ADMIN_KINDS:
        source = open_source(path)
        if not isinstance(source, GeoSource):
            raise IngestError("boundary files are GeoJSON, GeoPackage or Shapefile", file=path)
        columns = {"pcod": section.pcod, "name": section.name, "parent": section.parent}
        missing = [f"{s} (for {c})" for c, s in columns.items() if s and s not in source.columns]
        if missing:
            raise IngestError(f"wrong column set: missing propert(ies) {', '.join(missing)}", file=path)
    else:
        source = open_source(path, delimiter=section.delimiter, encoding=section.encoding)
        if isinstance(source, GeoSource) and kind != "cells":
            raise IngestError("TAC files are CSV (optionally gzip) or Parquet", file=path)
        optional = set(POSITION) if isinstance(source, GeoSource) else set()
        check_columns(path, source.columns, section, optional=optional)
    batches = list(source.batches())
    raw = pa.concat_tables([b.table for b in batches])
    malformed = [row for b in batches for row in b.malformed]
    quarantine = Quarantine(quarantine_dir, path, source.columns, delimiter=getattr(section, "delimiter", ","))
    try:
        if kind in ADMIN_KINDS:
            good, bad = _checked_boundaries(raw, section, level=int(kind[-1]))
        else:
            types = {name: raw.schema.field(name).type for name in raw.column_names}
            checks = RowChecks(kind, section, mapping.zone(kind), types, passthrough=(GeoSource.GEOMETRY,))
            good, bad = checks.check(raw)
            if kind == "cells":
                good, bad = _with_positions(good, bad)
        quarantine.add(raw, bad, malformed)
        if not good.num_rows:
            first = f" (first: line {quarantine.first[0]}: {quarantine.first[1]})" if quarantine.first else ""
            raise IngestError(f"no row passed the checks{first}; nothing loaded", file=path)
        good = good.drop_columns([LINE])
        with ledger.transaction(db):
            _replace(db, kind, good)
            record = ledger.FileRecord(digest, path.name, kind, ledger.LOADED, good.num_rows, quarantine.rows)
            ledger.record(db, record)
    except IngestError:
        quarantine.keep()
        raise
    except BaseException:
        quarantine.discard()
        raise
    kept = quarantine.keep()
    if kind != "tacs":
        db.refresh_cell_admin_units()
    return Outcome(path, kind, "loaded", good.num_rows, quarantine.rows, kept)


def _replace(db, kind: str, rows: pa.Table) -> None:
    """Rows into their table, replacing rows with the same key (a whole level for boundaries)."""
    if kind in ADMIN_KINDS:
        db.execute(f"DELETE FROM geography.{kind}")
    elif kind == "cells":
        keys = pc.binary_join_element_wise(rows.column("id"), pc.cast(rows.column("version"), pa.string()), "@")
        db.execute(
            "DELETE FROM infrastructure.cells WHERE id || '@' || CAST(version AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))",
            [keys.to_pylist()],
        )
        start = db.execute("SELECT coalesce(max(cell_id), 0) FROM infrastructure.cells").fetchall()[0][0]
        rows = rows.add_column(0, "cell_id", pa.array(np.arange(start + 1, start + 1 + rows.num_rows), pa.int64()))
    else:
        ids = pc.cast(rows.column("id"), pa.int64()).to_pylist()
        db.execute("DELETE FROM infrastructure.tacs WHERE CAST(id AS BIGINT) IN (SELECT unnest(?::BIGINT[]))", [ids])
    db.insert(f"geography.{kind}" if kind in ADMIN_KINDS else TABLES[kind], rows)


def _with_positions(good: pa.Table, bad: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Cells with `geom_point` from longitude and latitude or from the file's point geometry."""
    n = good.num_rows
    reasons = np.full(n, None, dtype=object)
    if set(POSITION) <= set(good.column_names):
        lon, lat = (good.column(c).to_numpy(zero_copy_only=False) for c in POSITION)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        half = np.isnan(lon) != np.isnan(lat)
        reasons[half] = "longitude and latitude: one without the other"
        points = np.where(np.isnan(lon) | np.isnan(lat), None, shapely.points(lon, lat))
        good = good.drop_columns(list(POSITION))
    elif GeoSource.GEOMETRY in good.column_names:
        points = shapely.from_wkb(good.column(GeoSource.GEOMETRY).to_numpy(zero_copy_only=False))
        kinds = shapely.get_type_id(points)
        not_point = (kinds != POINT) & (kinds >= 0)
        reasons[not_point] = "geometry: a cell's geometry is a point"
        off = ~not_point & ((np.abs(shapely.get_x(points)) > 180) | (np.abs(shapely.get_y(points)) > 90))
        reasons[off] = "geometry: off the globe (coordinates must be longitude, latitude)"
        points = shapely.force_2d(points)
    else:
        points = np.full(n, None, dtype=object)
    if GeoSource.GEOMETRY in good.column_names:
        good = good.drop_columns([GeoSource.GEOMETRY])
    wkb = shapely.to_wkb(points)
    good = good.append_column("geom_point", pa.array(wkb, pa.binary()))
    return _split(good, bad, reasons)


def _checked_boundaries(raw: pa.Table, section, *, level: int) -> tuple[pa.Table, pa.Table]:
    """Admin units as `geography.admin<level>` rows; bad features (no code, repeated code, not a polygon) apart."""

    def text(name):
        if name is None:
            return pa.nulls(raw.num_rows, pa.string())
        return pc.utf8_trim_whitespace(pc.cast(raw.column(name), pa.string()))

    pcod, name = text(section.pcod), text(section.name)
    geoms = shapely.force_2d(shapely.from_wkb(raw.column(GeoSource.GEOMETRY).to_numpy(zero_copy_only=False)))
    kinds = shapely.get_type_id(geoms)
    reasons = np.full(raw.num_rows, None, dtype=object)
    codes = pcod.to_pylist()
    counts = {}
    for code in codes:
        counts[code] = counts.get(code, 0) + 1
    for i, code in enumerate(codes):
        problems = []
        if not code:
            problems.append(f"{section.pcod}: missing")
        elif counts[code] > 1:
            problems.append(f"{section.pcod}: '{code}' repeated in the file")
        if kinds[i] not in (POLYGON, MULTIPOLYGON) or shapely.is_empty(geoms[i]):
            problems.append("geometry: not a polygon")
        reasons[i] = "; ".join(problems) or None
    columns = {"_line": raw.column(LINE), "gid": pa.array(np.arange(1, raw.num_rows + 1), pa.int32())}
    columns[f"admin{level}pcod"] = pcod
    columns[f"admin{level}name"] = name
    if level:
        columns[f"admin{level - 1}pcod"] = text(section.parent)
    columns["geom"] = pa.array(shapely.to_wkb(geoms), pa.binary())
    good = pa.table(columns)
    empty = pa.table({LINE: pa.array([], pa.int64()), REASON: pa.array([], pa.string())})
    good, bad = _split(good, empty, reasons)
    gid = pa.array(np.arange(1, good.num_rows + 1), pa.int32())
    return good.set_column(good.column_names.index("gid"), "gid", gid), bad


def _split(good: pa.Table, bad: pa.Table, reasons: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """Rows of `good` with a reason move to `bad`."""
    failed = pa.array([r is not None for r in reasons], pa.bool_())
    if not pc.any(failed).as_py():
        return good, bad
    moved = pa.table(
        {LINE: good.filter(failed).column(LINE), REASON: pa.array([r for r in reasons if r is not None], pa.string())}
    )
    bad = pa.concat_tables([bad, moved]).sort_by(LINE)
    return good.filter(pc.invert(failed)), bad


__all__ = ["load_reference"]
