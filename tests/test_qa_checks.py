"""FlowETL's QA checks (flowkit.ingest.qa) on hand-built days, on DuckDB and on PostgreSQL.

Every expected outcome below is worked out by hand from the rows listed with it.
"""

from datetime import date

import pytest
from tests.conftest import BACKENDS, CELLS

from flowkit.db.schema import EVENT_TYPES
from flowkit.ingest import qa

D1, D2, D3 = date(2016, 1, 1), date(2016, 1, 2), date(2016, 1, 3)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


# cTwice has two versions in service on 2016-01-02 (the last day of one, the first of the next).
QA_CELLS = [*CELLS, ("cTwice", 1, 1, "2016-01-01", "2016-01-02"), ("cTwice", 2, 2, "2016-01-02", "2016-01-05")]


def _call(subscriber, when, cell, outgoing, imei, imsi, counterpart, duration):
    extras = {"imei": imei, "imsi": imsi, "msisdn_counterpart": counterpart, "duration": duration}
    return (subscriber, when, cell, outgoing, extras)


# 2016-01-02's calls, one line per row (subscriber, time, cell, outgoing, imei, imsi, counterpart, duration):
DAY_CALLS = [
    _call("s1", "2016-01-02 08:00", "cA1", True, "I1", "M1", "s2", 10.0),  # r1 ┐
    _call("s1", "2016-01-02 08:00", "cA1", True, "I1", "M1", "s2", 10.0),  # r2 ├ three identical rows
    _call("s1", "2016-01-02 08:00", "cA1", True, "I1", "M1", "s2", 10.0),  # r3 ┘
    _call("s2", "2016-01-02 08:00", "cA2", False, "I2", "M2", "s1", 15.0),  # r4 ┐ two identical rows
    _call("s2", "2016-01-02 08:00", "cA2", False, "I2", "M2", "s1", 15.0),  # r5 ┘
    _call("s3", "2016-01-02 09:30:15", "cGhost", True, "I1", None, "x9", 12.0),  # r6 unknown cell, off-net x9
    _call("s4", "2016-01-02 10:00", None, True, None, "M1", None, None),  # r7 no location, counterpart, IMEI
    _call("s5", "2016-01-02 23:59:59.5", "cTwice", False, None, "M1", "s1", 25.0),  # r8 two versions in service
    _call("s6", "2016-01-02 12:00", "cNoGeom", True, "I3", "M3", "s7", None),  # r9 a cell without position
    _call("s1", "2016-01-02 00:00:01", "cMoved", True, "I1", "M1", "x8", 100.0),  # r10 cMoved v1's last day
]
# Rows just outside the day, which no check of 2016-01-02 may see.
OTHER_DAYS = [
    _call("s9", "2016-01-01 23:59:59", "cA1", True, "I1", "M9", "s8", 1000.0),
    _call("s9", "2016-01-03 00:00", "cA1", True, "I1", "M9", "s8", 1000.0),
]

EXPECTED_CALLS = {
    "count_added_rows": "10",
    "count_duplicated": "2",  # {r1, r2, r3} and {r4, r5}
    "count_duplicates": "3",  # (3 − 1) + (2 − 1)
    "count_msisdns": "9",  # s1…s6 and counterparts s7, x8, x9
    "count_imeis": "3",  # I1, I2, I3
    "count_imsis": "3",  # M1, M2, M3
    "count_null_imeis": "2",  # r7, r8
    "count_null_imsis": "1",  # r6
    "count_null_location_ids": "1",  # r7
    "count_location_ids": "7",  # cA1, cA2, cGhost, NULL, cTwice, cNoGeom, cMoved
    "count_locatable_events": "8",  # r1–r5, r8 twice (two versions), r10
    "count_locatable_location_ids": "4",  # cA1, cA2, cTwice, cMoved
    "earliest_timestamp": "2016-01-02 00:00:01+00",
    "latest_timestamp": "2016-01-02 23:59:59.5+00",
    "max_msisdns_per_imei": "2",  # I1: s1, s3
    "max_msisdns_per_imsi": "3",  # M1: s1, s4, s5
    "count_added_rows_outgoing.calls": "7",  # r1–r3, r6, r7, r9, r10
    "count_null_counterparts.calls": "1",  # r7
    "count_onnet_msisdns.calls": "6",  # s1…s6
    "count_onnet_msisdns_incoming.calls": "2",  # s2, s5
    "count_onnet_msisdns_outgoing.calls": "4",  # s1, s3, s4, s6
    "count_null_durations.calls": "2",  # r7, r9
    "max_duration.calls": "100",
    "median_duration.calls": "13.5",  # 10 10 10 12 | 15 15 25 100 → (12 + 15) / 2
}


@pytest.fixture
def calls_day(tiny_db):
    machine = tiny_db(cells=QA_CELLS, calls=DAY_CALLS + OTHER_DAYS)
    machine.db.execute("INSERT INTO infrastructure.cells (id, version) VALUES ('cNoGeom', 1)")
    return machine.db


def test_the_checks_and_their_stored_names():
    """FlowETL 1.34's checks: 16 for every type, 5 more for calls and sms, 3 more for calls only."""
    generic = [c.name for c in qa.CHECKS if c.generic]
    assert len(generic) == 16 and len(qa.CHECKS) == 24
    counts = {t: len(qa.checks_for(t)) for t in EVENT_TYPES}
    assert counts == {"calls": 24, "sms": 21, "mds": 16, "topups": 16}
    names = {c.stored_name(t) for t in EVENT_TYPES for c in qa.checks_for(t)}
    assert len(names) == 29
    assert {c.stored_name("calls") for c in qa.checks_for("calls")} == set(EXPECTED_CALLS)
    assert "count_onnet_msisdns.sms" in names and "max_duration.sms" not in names
    with pytest.raises(ValueError, match="unknown event type"):
        qa.checks_for("forwards")


def test_every_calls_check_on_a_hand_built_day(calls_day):
    assert qa.compute(calls_day, "calls", D2) == EXPECTED_CALLS


def test_day_boundaries(calls_day):
    """A row at 23:59:59 belongs to its day; one at midnight to the next."""
    first = qa.compute(calls_day, "calls", D1)
    assert (first["count_added_rows"], first["latest_timestamp"]) == ("1", "2016-01-01 23:59:59+00")
    third = qa.compute(calls_day, "calls", D3)
    assert (third["count_added_rows"], third["earliest_timestamp"]) == ("1", "2016-01-03 00:00:00+00")


def test_a_day_without_rows_gives_zeros_and_nulls(calls_day):
    outcomes = qa.compute(calls_day, "calls", date(2016, 1, 9))
    assert outcomes["count_added_rows"] == outcomes["count_duplicates"] == outcomes["count_msisdns"] == "0"
    assert outcomes["earliest_timestamp"] is None and outcomes["median_duration.calls"] is None
    assert outcomes["max_msisdns_per_imei"] is None


def test_sms_checks(tiny_db):
    """sms: counterparts counted, no duration checks; `network` is part of the duplicate key."""
    sms = [
        ("a", "2016-01-01 10:00", "cA1", True, {"msisdn_counterpart": "b", "network": "n1"}),
        ("a", "2016-01-01 10:00", "cA1", True, {"msisdn_counterpart": "b", "network": "n1"}),
        ("a", "2016-01-01 10:00", "cA1", True, {"msisdn_counterpart": "b", "network": "n2"}),  # another network
        ("b", "2016-01-01 10:00", "cA1", False, {"msisdn_counterpart": "a"}),
        ("c", "2016-01-01 11:00", "cB1", False, {"msisdn_counterpart": "z"}),
    ]
    outcomes = qa.compute(tiny_db(sms=sms).db, "sms", D1)
    assert outcomes == {
        "count_added_rows": "5",
        "count_duplicated": "1",
        "count_duplicates": "1",
        "count_msisdns": "4",  # a, b, c, z
        "count_imeis": "0",
        "count_imsis": "0",
        "count_null_imeis": "5",
        "count_null_imsis": "5",
        "count_null_location_ids": "0",
        "count_location_ids": "2",
        "count_locatable_events": "5",
        "count_locatable_location_ids": "2",
        "earliest_timestamp": "2016-01-01 10:00:00+00",
        "latest_timestamp": "2016-01-01 11:00:00+00",
        "max_msisdns_per_imei": None,  # no IMEI at all
        "max_msisdns_per_imsi": None,
        "count_added_rows_outgoing.sms": "3",
        "count_null_counterparts.sms": "0",
        "count_onnet_msisdns.sms": "3",
        "count_onnet_msisdns_incoming.sms": "2",  # b, c
        "count_onnet_msisdns_outgoing.sms": "1",  # a
    }


def test_mds_and_topups_checks(tiny_db):
    """Generic checks only; their duplicate keys include volumes and amounts."""
    mds = [
        ("m", "2016-01-01 01:00", "cA1", {"volume_total": 5.0, "imei": "I", "imsi": "S"}),
        ("m", "2016-01-01 01:00", "cA1", {"volume_total": 5.0, "imei": "I", "imsi": "S"}),
        ("m", "2016-01-01 01:00", "cA1", {"volume_total": 6.0, "imei": "I", "imsi": "S"}),  # other volume
        ("n", "2016-01-01 02:00", "cGhost", {"volume_total": 1.0, "imei": "I", "imsi": "S"}),
    ]
    topups = [
        ("m", "2016-01-01 03:00", "cB2", {"recharge_amount": 5.0}),
        ("m", "2016-01-01 03:00", "cB2", {"recharge_amount": 5.0}),
        ("m", "2016-01-01 03:00", "cB2", {"recharge_amount": 5.0}),
        ("m", "2016-01-01 03:00", "cB2", {"recharge_amount": 7.0}),
    ]
    db = tiny_db(mds=mds, topups=topups).db
    on_mds = qa.compute(db, "mds", D1)
    assert len(on_mds) == 16 and not any("." in name for name in on_mds)
    assert on_mds["count_duplicated"] == on_mds["count_duplicates"] == "1"
    assert (on_mds["count_msisdns"], on_mds["max_msisdns_per_imei"], on_mds["max_msisdns_per_imsi"]) == ("2", "2", "2")
    assert (on_mds["count_locatable_events"], on_mds["count_locatable_location_ids"]) == ("3", "1")
    on_topups = qa.compute(db, "topups", D1)
    assert (on_topups["count_duplicated"], on_topups["count_duplicates"]) == ("1", "2")
    assert (on_topups["count_added_rows"], on_topups["count_msisdns"]) == ("4", "1")


def test_run_checks_stores_and_the_view_keeps_the_latest(calls_day):
    stored = qa.run_checks(calls_day, "calls", [D2, D1, D2])
    assert stored == 48  # 24 checks × 2 distinct dates
    rows = calls_day.execute(
        "SELECT cdr_date, cdr_type, type_of_query_or_check, outcome FROM etl.post_etl_queries "
        "WHERE type_of_query_or_check = 'count_added_rows' ORDER BY cdr_date"
    ).fetchall()
    assert rows == [(D1, "calls", "count_added_rows", "1"), (D2, "calls", "count_added_rows", "10")]
    ids = [r[0] for r in calls_day.execute("SELECT id FROM etl.post_etl_queries ORDER BY id").fetchall()]
    assert ids == list(range(1, 49))

    calls_day.execute("DELETE FROM events.calls WHERE msisdn = 's6'")
    assert qa.run_checks(calls_day, "calls", [D2]) == 24
    assert calls_day.execute("SELECT count(*) FROM etl.post_etl_queries").fetchone()[0] == 72
    latest = qa.outcomes(calls_day, "calls", "count_added_rows", D1, D2)
    assert latest == [
        {"cdr_date": "2016-01-01", "cdr_type": "calls", "type_of_query_or_check": "count_added_rows", "outcome": "1"},
        {"cdr_date": "2016-01-02", "cdr_type": "calls", "type_of_query_or_check": "count_added_rows", "outcome": "9"},
    ]


def test_only_ingested_dates_are_served(calls_day):
    """The view follows FlowKit's: outcomes of a date whose latest ETL state is not `ingested` are hidden."""
    qa.run_checks(calls_day, "calls", [D1, D2, D3, date(2016, 1, 9)])  # 2016-01-09 was never ingested
    assert {row["cdr_date"] for row in qa.outcomes(calls_day, "calls")} == {"2016-01-01", "2016-01-02", "2016-01-03"}
    calls_day.execute(
        "INSERT INTO etl.etl_records VALUES (100, 'calls', DATE '2016-01-03', 'quarantined', now()::TIMESTAMP)"
    )
    assert {row["cdr_date"] for row in qa.outcomes(calls_day, "calls")} == {"2016-01-01", "2016-01-02"}
    assert len(qa.available_checks(calls_day)) == 24


def test_run_all_covers_every_ingested_date_and_filters(tiny_db):
    db = tiny_db(calls=DAY_CALLS + OTHER_DAYS, sms=[("a", "2016-01-05 10:00", "cA1")]).db
    assert qa.loaded_dates(db) == {"calls": [D1, D2, D3], "sms": [date(2016, 1, 5)]}
    assert qa.run_all(db, ["calls"], start=D2) == 2 * 24
    assert qa.run_all(db) == 3 * 24 + 21
    listed = qa.available_checks(db)
    assert len(listed) == 24 + 21
    assert listed[0] == {"cdr_type": "calls", "type_of_query_or_check": "count_added_rows"}
    assert {"cdr_type": "sms", "type_of_query_or_check": "count_onnet_msisdns.sms"} in listed


@pytest.mark.parametrize(
    ("value", "text"),
    [(100.0, "100"), (13.5, "13.5"), (0.1, "0.1"), (1e-05, "1e-05"), (float("inf"), "Infinity"), (-2.0, "-2")],
)
def test_numbers_read_as_postgresql_prints_a_double(value, text):
    assert qa._number(value) == text


def test_the_schema_has_the_table_and_view_on_postgresql_too():
    from flowkit.db.postgres import postgres_ddl

    ddl = postgres_ddl()
    assert "CREATE TABLE IF NOT EXISTS etl.post_etl_queries" in ddl
    assert "CREATE OR REPLACE VIEW etl.deduped_post_etl_queries" in ddl
