"""`flowkit ingest` for event files: exact rows and pseudonyms, quarantine lines, malformed files,
exactly once, the policies for a date already loaded; on DuckDB and on PostgreSQL."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import BACKENDS
from tests.ingest_helpers import calls_csv, mapping, pseudonym, pseudonymiser, quarantined, write

from flowkit.ingest.errors import IngestError
from flowkit.ingest.load import ingest_file

CELLS = """
CELL_ID,VERSION,SITE,LON,LAT,FROM,TO
c1,1,s1,39.2,-6.8,2015-01-01,
c2,1,s1,39.3,-6.7,2015-01-01,2016-12-31
"""


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def loader(flowdb, tmp_path):
    """ingest(path, kind=None, policy="append") into `flowdb`, cells c1 and c2 loaded first."""
    quarantine = tmp_path / "quarantine"

    def ingest(path: Path, kind: str | None = None, policy: str = "append", **kwargs):
        rules = mapping(tmp_path, policy)
        return ingest_file(
            flowdb,
            path,
            kind or rules.kind_of(path),
            rules,
            pseudonymiser=pseudonymiser(),
            quarantine_dir=quarantine,
            **kwargs,
        )

    ingest(write(tmp_path / "cells.csv", CELLS))
    return ingest


def calls(db) -> list[tuple]:
    return db.execute(
        "SELECT msisdn, msisdn_counterpart, datetime, duration, location_id, outgoing, imei, imsi, CAST(tac AS INTEGER) "
        "FROM events.calls ORDER BY datetime, outgoing DESC"
    ).fetchall()


def count(db, table: str = "events.calls") -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_calls_load_typed_in_utc_and_pseudonymised(flowdb, loader, tmp_path):
    path = calls_csv(
        tmp_path / "calls_20160101.csv",
        "+255 712-000001,255712000002,2016-01-01 08:00:00,60.5,c1,MO,35000011111111,640040000000001,35000011,x",
        "255712000002,255712000001,2016-01-01 08:00:00,60.5,c2,mt,,,,",
        "255712000001,255712000003,2016-01-01 02:00:00,0,,MO,35000011111111,,,",
    )
    outcome = loader(path)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 3, 0)
    assert outcome.dates == [date(2015, 12, 31), date(2016, 1, 1)]  # 02:00 in Dar es Salaam is 23:00 UTC
    one, two, three = pseudonym("255712000001"), pseudonym("255712000002"), pseudonym("255712000003")
    imei = pseudonym("35000011111111")
    assert calls(flowdb) == [
        (one, three, datetime(2015, 12, 31, 23), 0.0, None, True, imei, None, None),
        (one, two, datetime(2016, 1, 1, 5), 60.5, "c1", True, imei, pseudonym("640040000000001"), 35000011),
        (two, one, datetime(2016, 1, 1, 5), 60.5, "c2", False, None, None, None),
    ]
    record = flowdb.execute(
        "SELECT file_name, cdr_type, status, rows_loaded, rows_quarantined, first_date, last_date, policy "
        "FROM etl.ingested_files WHERE cdr_type = 'calls'"
    ).fetchall()
    assert record == [("calls_20160101.csv", "calls", "loaded", 3, 0, date(2015, 12, 31), date(2016, 1, 1), None)]
    assert flowdb.available_dates()["calls"] == ["2015-12-31", "2016-01-01"]


def test_bad_rows_quarantined_with_line_and_reason(flowdb, loader, tmp_path):
    path = calls_csv(
        tmp_path / "calls_20160101.csv",
        "255712000001,255712000002,2016-01-01 08:00:00,60,c1,MO,,,,",  # line 2: good
        "255712000001,255712000002,2016-13-01 08:00:00,60,c1,MO,,,,",  # 3: bad datetime
        "255712000001,255712000002,2016-01-01 08:00:00,-5,c1,MO,,,,",  # 4: negative duration
        "255712000001,255712000002,2016-01-01 08:00:00,5,c9,MO,,,,",  # 5: unknown cell
        ',255712000002,2016-01-01 08:00:00,5,c1,MO,,,,"two',  # 6-7: missing msisdn, a line break in a value
        'lines"',
        "255712000001,255712000002,2016-01-01 08:00:00,5,c1",  # 8: too few fields
        "255712000001,255712000002,2016-01-01 08:00:00,5,c1,XX,,,123456789,",  # 9: bad code, TAC too long
        "",  # 10: blank: skipped
        "255712000003,255712000002,2016-01-01 09:00:00,abc,c2,MT,,,,",  # 11: not a number
        "255712000004,255712000002,2016-01-01 09:00:00,,c2,MT,,,,",  # 12: good (no duration)
    )
    outcome = loader(path)
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (2, 7)
    assert outcome.quarantine == tmp_path / "quarantine" / "calls_20160101.csv.quarantine.csv"
    assert outcome.quarantine.stat().st_mode & 0o777 == 0o600
    lines = outcome.quarantine.read_text().splitlines()
    assert lines[0] == '"file","line","reason",' + ",".join(f'"{c}"' for c in CALLS_HEADER_COLUMNS)
    rows = [line.split(",", 3)[1:3] for line in lines[1:] if line.startswith('"calls')]
    assert rows == [
        ["3", "\"datetime: '2016-13-01 08:00:00' is not a time in the format %Y-%m-%d %H:%M:%S\""],
        ["4", '"duration: negative (-5)"'],
        ["5", "\"location_id: 'c9' is not a known cell\""],
        ["6", '"msisdn: missing"'],
        ["8", '"5 field(s) where the header has 10"'],
        ["9", "\"outgoing: unknown code 'XX'; tac: '123456789' is not a whole number from 0 to 8 digits\""],
        ["11", "\"duration: 'abc' is not a number\""],
    ]
    assert count(flowdb) == 2


CALLS_HEADER_COLUMNS = "A_NUMBER,B_NUMBER,START_TIME,DURATION,CELL,DIRECTION,IMEI,IMSI,TAC,NOTE".split(",")


def _gzip(path: Path, data: bytes, *, truncate: bool = False) -> Path:
    packed = gzip.compress(data)
    path.write_bytes(packed[: len(packed) // 2] if truncate else packed)
    return path


GOOD_ROW = "255712000001,255712000002,2016-01-01 08:00:00,60,c1,MO,,,,"
MANY_ROWS = ("\n".join([",".join(CALLS_HEADER_COLUMNS)] + [GOOD_ROW] * 20000) + "\n").encode()


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            "wrong columns",
            lambda p: write(p, "A_NUMBER,START_TIME,EXTRA\n1,2016-01-01 00:00:00,x\n"),
            "calls_x.csv: wrong column set: missing column(s) B_NUMBER (for msisdn_counterpart), DURATION (for duration),"
            " CELL (for location_id), DIRECTION (for outgoing), IMEI (for imei), IMSI (for imsi), TAC (for tac); "
            "column(s) not in the mapping: EXTRA (map them or list them in ignore_columns)",
        ),
        (
            "bad encoding",
            lambda p: p.write_bytes(
                f"{','.join(CALLS_HEADER_COLUMNS)}\n{GOOD_ROW}\n{GOOD_ROW}caf\xe9\n".encode("latin-1")
            ),
            "calls_x.csv, line 3: not valid utf-8 text (set `encoding` in the mapping if the file is in another one)",
        ),
        (
            "bad encoding in a row with too few fields",
            lambda p: p.write_bytes(f"{','.join(CALLS_HEADER_COLUMNS)}\n{GOOD_ROW}\n\n1,caf\xe9\n".encode("latin-1")),
            "calls_x.csv, line 4: not valid utf-8 text",
        ),
        (
            "truncated gzip",
            lambda p: _gzip(p, MANY_ROWS, truncate=True),
            "the gzip stream ends early: the file is truncated",
        ),
        ("empty file", lambda p: p.write_bytes(b""), "calls_x.csv: the file is empty"),
        ("empty gzip", lambda p: _gzip(p, b""), "calls_x.csv: the file is empty"),
        ("header only", lambda p: write(p, ",".join(CALLS_HEADER_COLUMNS) + "\n"), "the file has a header but no rows"),
        (
            "no good row",
            lambda p: calls_csv(p, GOOD_ROW.replace("c1", "c9"), GOOD_ROW.replace("60", "-1")),
            "calls_x.csv: no row passed the checks (first: line 2: location_id: 'c9' is not a known cell); nothing loaded",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # pyarrow cannot show a non-UTF-8 row
def test_malformed_file_is_a_clear_error_and_loads_nothing(flowdb, loader, tmp_path, name, make, message):
    path = tmp_path / "calls_x.csv"
    make(path)
    with pytest.raises(IngestError) as raised:
        loader(path)
    assert message in str(raised.value)
    assert count(flowdb) == 0
    assert count(flowdb, "etl.ingested_files") == 1  # the cells file only
    assert count(flowdb, "etl.etl_records") == 0


def test_gzip_and_parquet_load_like_csv(flowdb, loader, tmp_path):
    text = f"{','.join(CALLS_HEADER_COLUMNS)}\n{GOOD_ROW}\n"
    loader(_gzip(tmp_path / "calls_a.csv.gz", text.encode()))
    table = pa.table(
        {
            "A_NUMBER": ["255712000009"],
            "B_NUMBER": [None],
            "START_TIME": pa.array([datetime(2016, 1, 2, 3, 0)], pa.timestamp("s")),  # naive: local time
            "DURATION": [1.5],
            "CELL": ["c2"],
            "DIRECTION": ["MT"],
            "IMEI": [None],
            "IMSI": [None],
            "TAC": pa.array([12345678], pa.int64()),
            "NOTE": [None],
        }
    )
    pq.write_table(table, tmp_path / "calls_b.parquet")
    outcome = loader(tmp_path / "calls_b.parquet")
    assert (outcome.rows_loaded, outcome.dates) == (1, [date(2016, 1, 2)])
    assert calls(flowdb)[-1] == (
        pseudonym("255712000009"),
        None,
        datetime(2016, 1, 2, 0, 0),
        1.5,
        "c2",
        False,
        None,
        None,
        12345678,
    )
    assert count(flowdb) == 2


def test_a_file_loads_once(flowdb, loader, tmp_path):
    path = calls_csv(tmp_path / "calls_1.csv", GOOD_ROW)
    assert loader(path).status == "loaded"
    again = loader(path)
    assert (again.status, again.rows_loaded) == ("already loaded", 1)
    copy = tmp_path / "calls_copy.csv"
    copy.write_bytes(path.read_bytes())  # another name, the same content
    assert loader(copy).status == "already loaded"
    assert count(flowdb) == 1
    assert count(flowdb, "etl.etl_records") == 1


def test_policies_for_a_date_already_loaded(flowdb, loader, tmp_path):
    first = calls_csv(tmp_path / "calls_1.csv", GOOD_ROW, GOOD_ROW.replace("08:00", "09:00"))
    second = calls_csv(tmp_path / "calls_2.csv", GOOD_ROW.replace("08:00", "10:00"))
    third = calls_csv(
        tmp_path / "calls_3.csv", GOOD_ROW.replace("08:00", "11:00"), GOOD_ROW.replace("2016-01-01", "2016-01-05")
    )
    loader(first)
    appended = loader(second, policy="append")
    assert (appended.policy, appended.existing_dates, count(flowdb)) == ("append", [date(2016, 1, 1)], 3)

    with pytest.raises(IngestError, match=r"calls_3.csv: refused: calls already loaded for 2016-01-01"):
        loader(third, policy="refuse")
    assert count(flowdb) == 3
    refused = flowdb.execute(
        "SELECT status, rows_loaded, policy, existing_dates FROM etl.ingested_files WHERE file_name = 'calls_3.csv'"
    )
    assert refused.fetchall() == [("refused", 0, "refuse", "2016-01-01")]

    replaced = loader(third, policy="replace")  # a refused file may be loaded later
    assert (replaced.status, replaced.policy, replaced.existing_dates) == ("loaded", "replace", [date(2016, 1, 1)])
    times = [row[0] for row in flowdb.execute("SELECT datetime FROM events.calls ORDER BY datetime").fetchall()]
    assert times == [datetime(2016, 1, 1, 8), datetime(2016, 1, 5, 5)]
    records = flowdb.execute(
        "SELECT file_name, status, policy, existing_dates FROM etl.ingested_files WHERE cdr_type = 'calls' ORDER BY file_name"
    ).fetchall()
    assert records == [
        ("calls_1.csv", "loaded", None, None),
        ("calls_2.csv", "loaded", "append", "2016-01-01"),
        ("calls_3.csv", "loaded", "replace", "2016-01-01"),
    ]


def test_after_load_hook_sees_the_committed_rows(flowdb, loader, tmp_path):
    seen = []

    def after(db, cdr_type, dates):
        seen.append((cdr_type, dates, count(db)))

    loader(calls_csv(tmp_path / "calls_1.csv", GOOD_ROW), on_loaded=after)
    assert seen == [("calls", [date(2016, 1, 1)], 1)]


def test_other_event_types_and_their_formats(flowdb, loader, tmp_path):
    loader(
        write(
            tmp_path / "sms_1.csv",
            "msisdn,other,time,outgoing,cell\n1,2,31/12/2015 23:59,yes,c1\n1,,01/01/2016 00:00,0,\n",
        )
    )
    loader(
        write(
            tmp_path / "mds_1.csv",
            "msisdn,datetime,volume,imei\n3,2016-01-01 10:00:00,1.5,999\n3,2016-01-01 11:00:00,-1,\n",
        )
    )
    outcome = loader(write(tmp_path / "topups_1.csv", "msisdn,datetime,amount,imsi\n4,2016-01-01T10:00:00,5,77\n"))
    assert outcome.rows_loaded == 1
    assert flowdb.execute(
        "SELECT msisdn, msisdn_counterpart, datetime, outgoing, location_id FROM events.sms ORDER BY datetime"
    ).fetchall() == [
        (pseudonym("1"), pseudonym("2"), datetime(2015, 12, 31, 23, 59), True, "c1"),
        (pseudonym("1"), None, datetime(2016, 1, 1), False, None),
    ]
    assert flowdb.execute("SELECT msisdn, datetime, volume_total, imei FROM events.mds").fetchall() == [
        (pseudonym("3"), datetime(2016, 1, 1, 7), 1.5, pseudonym("999"))
    ]
    assert flowdb.execute("SELECT msisdn, recharge_amount, imsi FROM events.topups").fetchall() == [
        (pseudonym("4"), 5.0, pseudonym("77"))
    ]
    quarantined = (tmp_path / "quarantine" / "mds_1.csv.quarantine.csv").read_text().splitlines()[1]
    assert quarantined == '"mds_1.csv",3,"volume_total: negative (-1)","3","2016-01-01 11:00:00","-1",""'


def test_no_raw_identifier_anywhere_in_the_store(flowdb, loader, tmp_path):
    numbers = [f"2557120{n:05d}" for n in range(1, 7)]
    imeis, imsis = ["350000111111110", "350000222222220"], ["640040000000001", "640040000000002"]
    rows = [
        f"{numbers[0]},{numbers[1]},2016-01-01 08:00:00,60,c1,MO,{imeis[0]},{imsis[0]},35000011,",
        f"{numbers[1]},{numbers[0]},2016-01-01 08:00:00,60,c2,MT,{imeis[1]},{imsis[1]},,",
        f"{numbers[2]},{numbers[3]},2016-01-01 09:00:00,-1,c2,MO,,,,",  # quarantined: stays out of the store
    ]
    loader(calls_csv(tmp_path / "calls_1.csv", *rows))
    loader(
        write(
            tmp_path / "sms_1.csv",
            f"msisdn,other,time,outgoing,cell\n{numbers[4]},{numbers[5]},01/01/2016 10:00,1,c1\n",
        )
    )
    loader(
        write(tmp_path / "mds_1.csv", f"msisdn,datetime,volume,imei\n{numbers[5]},2016-01-01 10:00:00,1,{imeis[0]}\n")
    )
    loader(
        write(
            tmp_path / "topups_1.csv", f"msisdn,datetime,amount,imsi\n{numbers[4]},2016-01-01 10:00:00,1,{imsis[0]}\n"
        )
    )
    raw = numbers + imeis + imsis
    columns = flowdb.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE data_type IN ('VARCHAR', 'text', 'character varying') "
        "AND table_schema NOT IN ('information_schema', 'pg_catalog') AND table_name <> 'spatial_ref_sys'"
    ).fetchall()  # every text column but PostGIS's catalogue of projections
    assert len(columns) > 40
    found = []
    for schema, table, column in columns:
        values = flowdb.execute(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}"').fetchall()
        found += [(schema, table, column, v) for (v,) in values if v and any(n[-9:] in v for n in raw)]
    assert found == []
    assert count(flowdb, "events.calls") == 2


def test_times_with_their_own_offset(flowdb, loader, tmp_path):
    rules = mapping(tmp_path)
    rules.calls.datetime_format = "%Y-%m-%d %H:%M:%S%z"  # the offset in the value wins over the zone
    path = calls_csv(tmp_path / "calls_1.csv", GOOD_ROW.replace("08:00:00", "08:00:00+0100"))
    ingest_file(flowdb, path, "calls", rules, pseudonymiser=pseudonymiser(), quarantine_dir=tmp_path / "q")
    table = pa.table(
        {c: pa.array([None], pa.string()) for c in CALLS_HEADER_COLUMNS}
        | {
            "A_NUMBER": pa.array(["1"]),
            "START_TIME": pa.array([datetime(2016, 1, 2, 12)], pa.timestamp("s", tz="Asia/Kolkata")),
        }
    )
    pq.write_table(table, tmp_path / "calls_2.parquet")
    loader(tmp_path / "calls_2.parquet")
    times = flowdb.execute("SELECT datetime FROM events.calls ORDER BY datetime").fetchall()
    assert times == [(datetime(2016, 1, 1, 7),), (datetime(2016, 1, 2, 12),)]  # Arrow keeps UTC instants


def test_line_numbers_hold_across_batches(flowdb, loader, tmp_path, monkeypatch):
    """Quoted line breaks and rows of the wrong width, spread over many small read batches."""
    monkeypatch.setattr("flowkit.ingest.sources.BLOCK_BYTES", 4096)
    lines, expected, line = [], [], 2
    for n in range(3000):
        if n % 170 == 0:  # too few fields
            lines.append(f"2557{n:08d},x")
            expected.append((line, "2 field(s) where the header has 10"))
        elif n % 110 == 0:  # a note over three lines, and a bad duration
            lines.append(f'2557{n:08d},255712000002,2016-01-01 08:00:00,-{n},c1,MO,,,,"a\nb\nc"')
            expected.append((line, f"duration: negative (-{n})"))
            line += 2
        else:
            lines.append(f"2557{n:08d},255712000002,2016-01-01 08:00:00,{n},c1,MO,,,,")
        line += 1
    outcome = loader(calls_csv(tmp_path / "calls_1.csv", *lines))
    assert quarantined(outcome.quarantine) == expected
    assert outcome.rows_loaded == 3000 - len(expected)
