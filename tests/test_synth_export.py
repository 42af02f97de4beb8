"""`flowkit synth --export`: the synthetic country as an operator's raw export, loaded back as an
operator would (`flowkit keygen`, `flowkit ingest` through the export's own mapping, as
subprocesses) into a fresh FlowDB that then holds the events `generate` makes for the same config:
every row, every non-identifier value, identifiers replaced one-to-one by pseudonyms, the same
query answers, and no raw MSISDN, IMSI or IMEI in any text column."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from tests.conftest import TinyMachine

from flowkit.db import FlowDB
from flowkit.db.schema import EVENT_TYPES
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.db.synthetic.export import EVENTS, FORMATS, export, file_day, load_order
from flowkit.ingest.columns import IDENTIFIERS as SUBSCRIBER_IDS
from flowkit.ingest.load import ingest_file
from flowkit.ingest.mapping import load_mapping
from flowkit.ingest.pseudonyms import Pseudonymiser

slow = pytest.mark.slow  # the tests of the operator's path (about 15 s of CLI runs, once)

# What `flowkit synth` makes with these options (every other knob at its default).
OPTIONS = "--subscribers 600 --start-date 2016-01-01 --end-date 2016-01-04 --crisis-date 2016-01-03".split()
CONFIG = SyntheticConfig(
    subscribers=600, start_date=date(2016, 1, 1), end_date=date(2016, 1, 4), crisis_date=date(2016, 1, 3)
)
IDENTIFIERS = {kind: tuple(c for c in SUBSCRIBER_IDS if c in layout.columns) for kind, layout in EVENTS.items()}


def flowkit(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flowkit.cli", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def direct():
    db = FlowDB()
    generate(db, CONFIG)
    yield db
    db.close()


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    """(export dir, ingested FlowDB file): everything through the CLI, as an operator would."""
    root = tmp_path_factory.mktemp("operator")
    export_dir, data_dir = root / "export", root / "data"
    flowkit("synth", "--export", str(export_dir), "--format", "csv.gz", *OPTIONS)
    flowkit("keygen", str(data_dir / "pseudonymisation.key"))
    files = [str(path) for path in load_order(export_dir)]
    flowkit("ingest", "--data-dir", str(data_dir), "--mapping", str(export_dir / "mapping.toml"),
            "--key-file", str(data_dir / "pseudonymisation.key"), *files)  # fmt: skip
    return export_dir, data_dir / "flowdb.duckdb"


@pytest.fixture(scope="module")
def ingested(operator):
    db = FlowDB(operator[1])
    yield db
    db.close()


def rows_per_day(db: FlowDB) -> dict:
    return {
        t: db.execute(f"SELECT datetime::DATE, count(*) FROM events.{t} GROUP BY ALL ORDER BY ALL").fetchall()
        for t in EVENT_TYPES
    }


def other_columns(db: FlowDB, event_type: str) -> list[tuple]:
    """Every row without its identifier columns, sorted."""
    exclude = ", ".join(IDENTIFIERS[event_type])
    return db.execute(f"SELECT * EXCLUDE ({exclude}) FROM events.{event_type} ORDER BY ALL").fetchall()


# -- the export itself ------------------------------------------------------------------------


@slow
def test_export_is_per_type_per_local_day_with_the_operators_columns(operator):
    export_dir, _ = operator
    mapping = load_mapping(export_dir / "mapping.toml")
    files = load_order(export_dir)
    assert [mapping.kind_of(p) for p in files[:6]] == ["admin0", "admin1", "admin2", "admin3", "cells", "tacs"]
    for kind, layout in EVENTS.items():
        days = sorted(file_day(p) for p in (export_dir / layout.folder).iterdir())
        # local days (UTC+3): the last UTC day's last three hours fall on the day after
        assert days == [date(2016, 1, d) for d in range(1, 6)], kind
        assert all(mapping.kind_of(p) == kind for p in (export_dir / layout.folder).iterdir())
    calls = pd.read_csv(export_dir / "calls" / "CDR_VOICE_20160102.csv.gz", dtype=str)
    assert list(calls.columns) == list(EVENTS["calls"].columns.values())
    assert set(calls["DIRECTION"]) == {"MO", "MT"}
    assert calls["SERVED_MSISDN"].str.fullmatch(r"2557\d{8}").all()
    assert calls["IMSI"].str.fullmatch(r"\d{15}").all()
    assert calls["IMEI"].str.fullmatch(r"\d{15}").all() and (calls["IMEI"].str[:8] == calls["TAC"]).all()
    times = pd.to_datetime(calls["EVENT_TS"], format="%d/%m/%Y %H:%M:%S")
    assert times.min() >= pd.Timestamp("2016-01-02") and times.max() < pd.Timestamp("2016-01-03")
    assert times.is_monotonic_increasing
    # the same subscriber has the same number in every file (a call's two legs name each other)
    legs = calls.set_index(["RECORD_ID", "DIRECTION"])
    mo, mt = legs.xs("MO", level=1), legs.xs("MT", level=1)
    assert (mo["SERVED_MSISDN"] == mt.loc[mo.index, "OTHER_MSISDN"]).all()


def test_the_synth_formats_are_the_exports():
    from flowkit.cli.data import synth

    assert tuple(next(p for p in synth.params if p.name == "export_format").type.choices) == FORMATS


def test_synth_takes_export_or_db_not_both(tmp_path):
    from click.testing import CliRunner

    from flowkit.cli import main

    result = CliRunner().invoke(main, ["synth", "--export", str(tmp_path / "x"), "--db", str(tmp_path / "y.duckdb")])
    assert result.exit_code == 2 and "not both" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y.duckdb").exists()


def test_export_refuses_a_directory_that_holds_files(tmp_path):
    (tmp_path / "something").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        export(tmp_path, CONFIG)


# -- loaded back -------------------------------------------------------------------------------


@slow
def test_every_event_arrives_on_its_day(direct, ingested):
    assert rows_per_day(ingested) == rows_per_day(direct)
    assert ingested.available_dates() == direct.available_dates()


@slow
def test_every_value_but_the_identifiers_is_the_generators(direct, ingested):
    for event_type in EVENT_TYPES:
        assert other_columns(ingested, event_type) == other_columns(direct, event_type), event_type


@slow
def test_identifiers_become_pseudonyms_one_to_one(direct, ingested, operator):
    pairs = {"msisdn": set(), "imsi": set(), "imei": set()}
    for event_type, columns in IDENTIFIERS.items():
        select = ", ".join(["id", *columns] + (["outgoing"] if "msisdn_counterpart" in columns else []))
        key = ["id"] + (["outgoing"] if "msisdn_counterpart" in columns else [])
        left = direct.execute(f"SELECT {select} FROM events.{event_type}").df()
        right = ingested.execute(f"SELECT {select} FROM events.{event_type}").df()
        joined = left.merge(right, on=key, suffixes=("_raw", "_pseudonym"), validate="one_to_one")
        assert len(joined) == len(left) == len(right)
        for column in columns:
            space = "msisdn" if column.startswith("msisdn") else column
            pairs[space] |= set(zip(joined[f"{column}_raw"], joined[f"{column}_pseudonym"], strict=True))
    for space, seen in pairs.items():
        raw, pseudonyms = {r for r, _ in seen}, {p for _, p in seen}
        assert len(seen) == len(raw) == len(pseudonyms), space  # a bijection
        assert all(re.fullmatch(r"[0-9a-f]{64}", p) for p in pseudonyms), space


@slow
@pytest.mark.parametrize(
    "spec",
    [
        {
            "query_kind": "spatial_aggregate",
            "locations": {"query_kind": "daily_location", "date": "2016-01-02", "aggregation_unit": "admin3", "method": "last"},
        },
        {
            "query_kind": "flows",
            "from_location": {"query_kind": "daily_location", "date": "2016-01-01", "aggregation_unit": "admin2", "method": "most-common"},
            "to_location": {"query_kind": "daily_location", "date": "2016-01-04", "aggregation_unit": "admin2", "method": "most-common"},
            "join_type": "inner",
        },
        {"query_kind": "unique_subscriber_counts", "start_date": "2016-01-01", "end_date": "2016-01-05", "aggregation_unit": "admin3"},
    ],
    ids=["daily_location", "flows", "unique_subscriber_counts"],
)  # fmt: skip
def test_queries_answer_the_same(direct, ingested, spec):
    answers = []
    for db in (direct, ingested):
        machine = TinyMachine(db)
        try:
            frame = machine.compute(spec)
        finally:
            machine.close()
        answers.append(frame.sort_values(list(frame.columns)).reset_index(drop=True))
    assert len(answers[0]) > 5
    pd.testing.assert_frame_equal(answers[1], answers[0])


def load_raw_identifiers(connection: duckdb.DuckDBPyConnection, export_dir: Path) -> int:
    """Fill `scan.raw(value)` with every MSISDN, IMSI and IMEI written to the export."""
    parts = []
    for kind, layout in EVENTS.items():
        files = f"'{export_dir / layout.folder}/*'"
        columns = [source for name, source in layout.columns.items() if name in IDENTIFIERS[kind]]
        parts += [f"SELECT {c} AS value FROM read_csv({files}, all_varchar = true)" for c in columns]
    connection.execute("ATTACH IF NOT EXISTS ':memory:' AS scan")
    connection.execute(f"CREATE OR REPLACE TABLE scan.raw AS SELECT DISTINCT value FROM ({' UNION '.join(parts)})")
    return connection.execute("SELECT count(*) FROM scan.raw").fetchall()[0][0]


def leaks(connection: duckdb.DuckDBPyConnection, database: str) -> list[tuple]:
    """(table.column, raw value) for every raw identifier found in any text value of any table of
    `database`, as the whole value or inside it: every run of 12 or more digits is cut into all
    its 12- and 15-digit windows (the lengths of the export's MSISDNs, IMSIs and IMEIs)."""
    columns = connection.execute(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE c.table_catalog = ? AND t.table_type = 'BASE TABLE' AND c.data_type = 'VARCHAR'",
        [database],
    ).fetchall()
    assert len(columns) > 20
    found = []
    for schema, table, column in columns:
        found += connection.execute(
            f"""WITH runs AS (
                    SELECT DISTINCT unnest(regexp_extract_all("{column}", '[0-9]{{12,}}')) AS run
                    FROM "{database}"."{schema}"."{table}"
                ), windows AS (
                    SELECT substr(run, start, width) AS value
                    FROM runs, (VALUES (12), (15)) w(width), range(1, length(run) - width + 2) s(start)
                )
                SELECT DISTINCT ?, value FROM windows JOIN scan.raw USING (value)""",
            [f"{schema}.{table}.{column}"],
        ).fetchall()
    return found


@slow
def test_no_raw_identifier_in_any_text_column(operator, ingested, tmp_path):
    export_dir, _ = operator
    connection = ingested.connection
    assert load_raw_identifiers(connection, export_dir) > 3 * CONFIG.subscribers
    database = connection.execute("SELECT current_database()").fetchall()[0][0]
    assert leaks(connection, database) == []
    # the scan finds them where they are: a copy with one raw number inside a longer text
    connection.execute(f"ATTACH '{tmp_path / 'leaky.duckdb'}' AS leaky")
    try:
        connection.execute(f"COPY FROM DATABASE {database} TO leaky")
        number = connection.execute("SELECT min(value) FROM scan.raw WHERE length(value) = 12").fetchall()[0][0]
        connection.execute("UPDATE leaky.events.sms SET network = 'to ' || ? || '!' WHERE rowid = 3", [number])
        assert leaks(connection, "leaky") == [("events.sms.network", number)]
    finally:
        connection.execute("DETACH leaky")
        connection.execute("DETACH scan")


# -- every format, loaded in process with the functions `flowkit ingest` runs ------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_to_the_generators_rows(tmp_path, fmt):
    config = SyntheticConfig(
        subscribers=200, start_date=date(2016, 1, 1), end_date=date(2016, 1, 2), crisis_date=None, cells=80
    )
    summary = export(tmp_path / "export", config, fmt=fmt)
    assert all(p.name.endswith(fmt) for p in (tmp_path / "export" / "sms").iterdir())
    mapping, pseudonymiser = load_mapping(tmp_path / "export" / "mapping.toml"), Pseudonymiser(b"k" * 32)
    direct, ingested = FlowDB(), FlowDB()
    generate(direct, config)
    for path in load_order(tmp_path / "export"):
        outcome = ingest_file(
            ingested, path, mapping.kind_of(path), mapping, pseudonymiser=pseudonymiser, quarantine_dir=tmp_path / "q"
        )
        assert outcome.rows_quarantined == 0, path
    assert summary["rows"] == {t: n for t, n in ingested.execute(
        "SELECT 'calls', count(*) FROM events.calls UNION ALL SELECT 'sms', count(*) FROM events.sms UNION ALL "
        "SELECT 'mds', count(*) FROM events.mds UNION ALL SELECT 'topups', count(*) FROM events.topups"
    ).fetchall()}  # fmt: skip
    for event_type in EVENT_TYPES:
        assert other_columns(ingested, event_type) == other_columns(direct, event_type), event_type


def test_the_demo_via_export_exports_makes_a_key_and_ingests(tmp_path):
    from flowkit.cli.data import synthesise_via_export
    from flowkit.data_dir import DataDir

    data = DataDir(tmp_path)
    data.export_dir.mkdir()
    (data.export_dir / "CDR_VOICE_20160101.csv").write_text("RECORD_ID\n")  # an export cut short, no mapping
    config = SyntheticConfig(subscribers=200, end_date=date(2016, 1, 2), crisis_date=None, cells=80)
    synthesise_via_export(data, config)
    assert (data.pseudonymisation_key.stat().st_mode & 0o777) == 0o600
    assert not (data.export_dir / "CDR_VOICE_20160101.csv").exists()  # exported again, whole
    direct, loaded = FlowDB(), FlowDB(data.flowdb_path, read_only=True)
    generate(direct, config)
    assert rows_per_day(loaded) == rows_per_day(direct)
    assert not list(tmp_path.glob("flowdb.partial*"))
