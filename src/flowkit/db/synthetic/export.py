"""The synthetic country as an operator's raw export, and the mapping that loads it.

`export(directory, config)` writes what a billing system and a network inventory would hand over:

    calls/CDR_VOICE_20160101.csv.gz    one file per event type per local day, the operator's
    sms/CDR_SMS_20160101.csv.gz        own column names, times in local time (not ISO),
    mds/CDR_DATA_20160101.csv.gz       directions as MO/MT, raw MSISDNs, IMSIs and IMEIs
    topups/RECHARGE_20160101.csv.gz
    reference/CELLS_20160101.csv       cells with their versions and positions (lon, lat)
    reference/TACS_20160101.csv        the handset database
    boundaries/xfk_adm0.geojson ...    admin boundaries, one GeoJSON per level
    mapping.toml                       maps all of it (kinds inferred from file names)

The events are the ones `generate` writes for the same config, with one change: every
subscriber gets a realistic phone number ("2557" and 8 digits, the same in every file) in place
of the generator's random code. Times are written in `zone` (default UTC+3), so a file of one
local day holds the last hours of the UTC day before; `flowkit ingest` converts them back, and
the ingested FlowDB then holds the events of `generate`, pseudonymised. Sites and mobile-money
tables are not exported (the mapping has no kind for them).
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely

from flowkit.db.schema import EVENT_TYPES
from flowkit.db.synthetic.activity import daily_events
from flowkit.db.synthetic.config import SyntheticConfig, codes
from flowkit.db.synthetic.country import build_country
from flowkit.db.synthetic.network import Handsets, Network, build_handsets, build_network
from flowkit.db.synthetic.population import build_population

ZONE = "Africa/Dar_es_Salaam"  # UTC+3 all year
FORMATS = ("csv", "csv.gz", "parquet")
MSISDN_PREFIX = "2557"  # country code 255, a mobile range; 8 more digits per subscriber
DATETIME_FORMAT = "%d/%m/%Y %H:%M:%S"
DATE_FORMAT = "%Y%m%d"
DIRECTION = {"true": ["MO"], "false": ["MT"]}  # mobile originated / terminated


@dataclass(frozen=True)
class Layout:
    """Where files of one kind go, how they are named, and their columns (FlowDB = operator's)."""

    folder: str
    prefix: str
    columns: dict[str, str]

    @property
    def glob(self) -> str:
        return f"{self.prefix}_*"


_SUBSCRIBER = {"imsi": "IMSI", "imei": "IMEI", "tac": "TAC"}
EVENTS = {
    "calls": Layout(
        "calls",
        "CDR_VOICE",
        {"id": "RECORD_ID", "datetime": "EVENT_TS", "outgoing": "DIRECTION", "msisdn": "SERVED_MSISDN"}
        | {"msisdn_counterpart": "OTHER_MSISDN", "location_id": "CELL_ID", "duration": "DURATION_SEC"}
        | _SUBSCRIBER,
    ),
    "sms": Layout(
        "sms",
        "CDR_SMS",
        {"id": "RECORD_ID", "datetime": "EVENT_TS", "outgoing": "DIRECTION", "msisdn": "SERVED_MSISDN"}
        | {"msisdn_counterpart": "OTHER_MSISDN", "location_id": "CELL_ID"}
        | _SUBSCRIBER,
    ),
    "mds": Layout(
        "mds",
        "CDR_DATA",
        {"id": "SESSION_ID", "datetime": "START_TS", "msisdn": "MSISDN", "location_id": "CELL_ID"}
        | {"duration": "DURATION_SEC", "volume_total": "VOLUME_TOTAL_MB", "volume_upload": "VOLUME_UP_MB"}
        | {"volume_download": "VOLUME_DOWN_MB"}
        | _SUBSCRIBER,
    ),
    "topups": Layout(
        "topups",
        "RECHARGE",
        {"id": "RECHARGE_ID", "datetime": "RECHARGE_TS", "msisdn": "MSISDN", "location_id": "CELL_ID"}
        | {"type": "CHANNEL", "recharge_amount": "AMOUNT", "airtime_fee": "AIRTIME_FEE", "tax_and_fee": "TAX_AND_FEE"}
        | {"pre_event_balance": "BALANCE_BEFORE", "post_event_balance": "BALANCE_AFTER"}
        | _SUBSCRIBER,
    ),
}
CELLS = Layout(
    "reference",
    "CELLS",
    {"id": "CELL_ID", "version": "VERSION", "site_id": "SITE_ID", "date_of_first_service": "ON_AIR_DATE"}
    | {"date_of_last_service": "OFF_AIR_DATE", "longitude": "LONGITUDE", "latitude": "LATITUDE"},
)
TACS = Layout(
    "reference",
    "TACS",
    {"id": "TAC", "brand": "BRAND", "model": "MODEL", "software_os_vendor": "OS_VENDOR"}
    | {"software_os_name": "OS_NAME", "hnd_type": "DEVICE_TYPE"},
)
BOUNDARIES = "boundaries"


def export(directory: str | Path, config: SyntheticConfig, *, fmt: str = "csv.gz", zone: str = ZONE) -> dict:
    """Write the country of `config` as an operator's export into `directory` (new or empty);
    returns a summary: files and rows per kind. mapping.toml is written last."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty: an export goes into a new or empty directory")
    country = build_country(config)
    network = build_network(country, config)
    handsets = build_handsets(config)
    population = build_population(country, network, handsets, config)
    population = replace(population, msisdn=phone_numbers(config))
    files = {"admin": _write_boundaries(directory, country.tables(), config.country_code)}
    files |= {"cells": [_write_cells(directory, network, config.start_date)]}
    files |= {"tacs": [_write_tacs(directory, handsets, config.start_date)]}
    writer = _DailyFiles(directory, fmt, ZoneInfo(zone))
    for name, day, table in daily_events(config, country, network, handsets, population):
        writer.flush(until=datetime.combine(day, time(), UTC))  # every earlier UTC day is in
        writer.add(name, table)
    writer.flush(until=None)
    (directory / "mapping.toml").write_text(mapping_toml(zone))
    return {
        "directory": str(directory),
        "format": fmt,
        "timezone": zone,
        "files": {kind: len(paths) for kind, paths in files.items()} | writer.files,
        "rows": writer.rows,
    }


def phone_numbers(config: SyntheticConfig) -> pa.Array:
    """Each subscriber's MSISDN, all distinct; they depend on the seed and the subscriber count only."""
    if config.subscribers > 10**8:
        raise ValueError("at most 10^8 subscribers get distinct phone numbers")
    return pa.array(np.char.add(MSISDN_PREFIX, codes(config.rng(8), config.subscribers, 8, "0123456789")))


def load_order(directory: str | Path) -> list[Path]:
    """An export's data files in the order to ingest them: boundaries (admin0 first), cells and
    TACs, then event files by day (cells must be known before the events that use them)."""
    directory = Path(directory)
    boundaries = sorted((directory / BOUNDARIES).glob("*.geojson"))
    reference = sorted((directory / CELLS.folder).glob("*.csv"))
    events = sorted(
        (path for layout in EVENTS.values() for path in (directory / layout.folder).glob(layout.glob)),
        key=lambda path: (file_day(path), path.name),
    )
    return boundaries + reference + events


def file_day(path: Path) -> date:
    """The local day of an export's file, from its name (CDR_VOICE_20160101.csv.gz: 2016-01-01)."""
    return datetime.strptime(path.name.rsplit("_", 1)[-1].split(".")[0], "%Y%m%d").date()


def mapping_toml(zone: str = ZONE) -> str:
    """The mapping file of an export: every kind, its file-name glob, formats and columns."""
    lines = [
        "# How `flowkit ingest` reads this export (flowkit synth --export).",
        f"timezone = {json.dumps(zone)}",
        'on_existing_date = "append"  # a local day\'s file also holds the end of the UTC day before',
    ]
    for kind, layout in EVENTS.items():
        lines += [
            "",
            f"[{kind}]",
            f"files = {json.dumps(layout.glob)}",
            f"datetime_format = {json.dumps(DATETIME_FORMAT)}",
        ]
        lines += _columns(kind, layout)
        if "outgoing" in layout.columns:
            lines += ["", f"[{kind}.values.outgoing]"] + [f"{k} = {json.dumps(v)}" for k, v in DIRECTION.items()]
    lines += ["", "[cells]", f"files = {json.dumps(CELLS.glob + '.csv')}", f"date_format = {json.dumps(DATE_FORMAT)}"]
    lines += _columns("cells", CELLS)
    lines += ["", "[tacs]", f"files = {json.dumps(TACS.glob + '.csv')}", *_columns("tacs", TACS)]
    for level in range(4):
        lines += ["", f"[admin.admin{level}]", f'files = "*_adm{level}.geojson"', f'pcod = "ADM{level}_PCODE"']
        lines += [f'name = "ADM{level}_EN"'] + ([f'parent = "ADM{level - 1}_PCODE"'] if level else [])
    return "\n".join(lines) + "\n"


def _columns(kind: str, layout: Layout) -> list[str]:
    return ["", f"[{kind}.columns]"] + [f"{column} = {json.dumps(source)}" for column, source in layout.columns.items()]


class _DailyFiles:
    """Event rows gathered by local day; a day's file is written once no later UTC day can add to it."""

    def __init__(self, directory: Path, fmt: str, zone: ZoneInfo):
        self.directory, self.fmt, self.zone = directory, fmt, zone
        self.pending: dict[tuple[str, date], list[pa.Table]] = defaultdict(list)
        self.files = dict.fromkeys(EVENT_TYPES, 0)
        self.rows = dict.fromkeys(EVENT_TYPES, 0)

    def add(self, kind: str, table: pa.Table) -> None:
        utc = table.column("datetime").cast(pa.timestamp("s", tz="UTC"))
        local = pc.local_timestamp(utc.cast(pa.timestamp("s", tz=self.zone.key)))
        table = table.set_column(table.column_names.index("datetime"), "datetime", local)
        days = pc.cast(local, pa.date32())
        for day in pc.unique(days).to_pylist():
            self.pending[kind, day].append(table.filter(pc.equal(days, pa.scalar(day, pa.date32()))))

    def flush(self, *, until: datetime | None) -> None:
        """Write the local days that end by `until` (UTC), or all of them."""
        for kind, day in sorted(self.pending, key=lambda key: (key[1], key[0])):
            end = datetime.combine(day + timedelta(days=1), time(), self.zone)
            if until is None or end <= until:
                table = pa.concat_tables(self.pending.pop((kind, day)))
                _write(
                    self.directory / EVENTS[kind].folder,
                    f"{EVENTS[kind].prefix}_{day:%Y%m%d}",
                    self.fmt,
                    _event_rows(kind, table, self.fmt),
                )
                self.files[kind] += 1
                self.rows[kind] += table.num_rows


def _event_rows(kind: str, table: pa.Table, fmt: str) -> pa.Table:
    """FlowDB rows (times local) as the operator's columns."""
    layout = EVENTS[kind]
    unmapped = set(table.column_names) - set(layout.columns)
    if unmapped:
        raise AssertionError(f"{kind} columns not exported: {sorted(unmapped)}")
    columns = {}
    for name, source in layout.columns.items():
        values = table.column(name)
        if pa.types.is_dictionary(values.type):
            values = values.cast(pa.string())
        if name == "outgoing":
            values = pc.if_else(values, "MO", "MT")
        elif name == "datetime" and fmt != "parquet":
            values = pc.strftime(values, format=DATETIME_FORMAT)
        columns[source] = values
    return pa.table(columns)


def _write_cells(directory: Path, network: Network, exported: date) -> Path:
    cells = network.cells
    points = shapely.from_wkb(cells.column("geom_point").to_numpy(zero_copy_only=False))
    values = {
        "id": cells.column("id"),
        "version": cells.column("version"),
        "site_id": cells.column("site_id"),
        "date_of_first_service": pc.strftime(cells.column("date_of_first_service"), format=DATE_FORMAT),
        "date_of_last_service": pc.strftime(cells.column("date_of_last_service"), format=DATE_FORMAT),
        "longitude": pa.array(shapely.get_x(points)),
        "latitude": pa.array(shapely.get_y(points)),
    }
    table = pa.table({CELLS.columns[name]: column for name, column in values.items()})
    return _write(directory / CELLS.folder, f"{CELLS.prefix}_{exported:%Y%m%d}", "csv", table)


def _write_tacs(directory: Path, handsets: Handsets, exported: date) -> Path:
    table = pa.table({source: handsets.table.column(name) for name, source in TACS.columns.items()})
    return _write(directory / TACS.folder, f"{TACS.prefix}_{exported:%Y%m%d}", "csv", table)


def _write_boundaries(directory: Path, tables: dict[int, pa.Table], country_code: str) -> list[Path]:
    """One GeoJSON FeatureCollection per level, with COD-AB style properties (ADM1_PCODE, ...)."""
    folder = directory / BOUNDARIES
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for level, table in tables.items():
        rows = table.to_pydict()
        features = [
            {
                "type": "Feature",
                "properties": {f"ADM{level}_PCODE": pcod, f"ADM{level}_EN": rows[f"admin{level}name"][i]}
                | ({f"ADM{level - 1}_PCODE": rows[f"admin{level - 1}pcod"][i]} if level else {}),
                "geometry": shapely.geometry.mapping(shapely.from_wkb(rows["geom"][i])),
            }
            for i, pcod in enumerate(rows[f"admin{level}pcod"])
        ]
        path = folder / f"{country_code.lower()}_adm{level}.geojson"
        _atomic_text(path, json.dumps({"type": "FeatureCollection", "features": features}))
        paths.append(path)
    return paths


def _write(folder: Path, stem: str, fmt: str, table: pa.Table) -> Path:
    """`table` to folder/stem.<fmt>, under a hidden name until complete."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.{fmt}"
    partial = folder / f".{path.name}.partial"
    if fmt == "parquet":
        pq.write_table(table, partial)
    else:
        options = pacsv.WriteOptions(quoting_style="needed")
        with open(partial, "wb") as raw:
            if fmt == "csv.gz":  # gzip's usual level (Arrow's is 9, three times slower); no name or time inside
                with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0) as sink:
                    pacsv.write_csv(table, sink, options)
            else:
                pacsv.write_csv(table, raw, options)
    partial.rename(path)
    return path


def _atomic_text(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.rename(path)


__all__ = [
    "CELLS",
    "EVENTS",
    "FORMATS",
    "Layout",
    "TACS",
    "ZONE",
    "export",
    "file_day",
    "load_order",
    "mapping_toml",
    "phone_numbers",
]
