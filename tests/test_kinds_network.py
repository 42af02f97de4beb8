"""Exact answers of the network, trips, DFS and small kinds on hand-built FlowDBs.

Geography (conftest.py): admin3 boxes A1 (lon 0-10) | A2 (10-20) | B1 (20-30) | B2 (30-40),
admin1 A = A1 + A2, B = B1 + B2, admin0 Z. Cells: cA1 (5, 10) and cA1s (5, 5) in A1, cA2 (15, 10),
cB1 (25, 10), cB2 (35, 10); cEdge (10, 10) on the A1|A2 border (in A and Z, in no admin3);
cOut (50, 10) outside everything; cMoved v1 (5, 15) in A1 on 01-01..01-02, v2 (35, 15) in B2 on
01-03..01-04. Every expected value was worked out by hand; the comments say why.
"""

from __future__ import annotations

import math
import time
from datetime import date

import pandas as pd
import pytest
from starlette.testclient import TestClient
from tests.conftest import ADMINS, BACKENDS, sixteen_and_fifteen
from tests.test_api import SERVER, bearer, keys, run_to_completion  # noqa: F401  (keys is a fixture)
from tests.test_kinds import values

from flowkit.api.app import create_app
from flowkit.db import FlowDB
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.machine.catalogue import SpecError, parse_spec, required_scopes, scope_universe, top_level_kinds
from flowkit.machine.queries import Machine, QueryState

D1, D2, D3, D4 = "2016-01-01", "2016-01-02", "2016-01-03", "2016-01-04"
# this family's top-level kinds -> whether they are served unredacted
NETWORK_KINDS = {
    "location_introversion": False,
    "trips_od_matrix": False,
    "consecutive_trips_od_matrix": False,
    "total_network_objects": True,
    "aggregate_network_objects": True,
    "dfs_metric_total_amount": False,
    "geography": True,
    "dummy_query": True,
}


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-worked case here runs on DuckDB and on PostgreSQL."""
    return request.param


def spec(kind, start=D1, end=D2, unit="admin3", **extra):
    return {"query_kind": kind, "start_date": start, "end_date": end, "aggregation_unit": unit, **extra}


def rounded(result: dict, digits: int = 6) -> dict:
    return {k: None if v is None else round(v, digits) for k, v in result.items()}


def spec_error(data: dict) -> str:
    with pytest.raises(SpecError) as error:
        parse_spec(data)
    return error.value.msg


def legs(call_id, when, caller, caller_cell, callee, callee_cell):
    """The two rows of one call or SMS: the caller's (outgoing) and the callee's, sharing an id."""
    return [
        (caller, when, caller_cell, True, {"id": call_id}),
        (callee, when, callee_cell, False, {"id": call_id}),
    ]


def many(*groups):
    return [row for group in groups for row in group]


# -- location_introversion --------------------------------------------------------------------

INTRO_CALLS = many(
    legs("c1", "2016-01-01 10:00", "s1", "cA1", "s2", "cA1"),  # both in A1
    legs("c2", "2016-01-01 10:00", "s1", "cA1", "s3", "cB1"),  # A1 -> B1
    legs("c3", "2016-01-01 11:00", "s4", "cA1s", "s5", "cA1"),  # both in A1, different points
    legs("c4", "2016-01-01 12:00", "s6", "cA2", "s7", "cOut"),  # cOut has no admin3
    legs("c5", "2016-01-01 13:00", "s2", "cB1", "s3", "cB1"),  # both in B1
    legs("c6", "2016-01-02 00:00", "s1", "cA1", "s2", "cA1"),  # the day after (end exclusive)
    [("s8", "2016-01-01 14:00", "cA2", True, {"id": "c7"})],  # off-net callee: no second leg
)
INTRO_SMS = many(
    legs("m1", "2016-01-01 15:00", "s1", "cA1", "s9", "cA2"),
    # an SMS reusing a call's id: legs are paired within their own table only
    legs("c1", "2016-01-01 16:00", "s10", "cB2", "s11", "cB2"),
)


@pytest.fixture
def intro_db(tiny_db):
    return tiny_db(calls=INTRO_CALLS, sms=INTRO_SMS)


def test_location_introversion_both_directions(intro_db):
    result = intro_db.compute(spec("location_introversion"))
    assert list(result.columns) == ["pcod", "value", "subscribers"]
    assert rounded(values(result)) == {
        # legs at A1: c1 s1 (in), c1 s2 (in), c2 s1 (out), c3 s4 (in), c3 s5 (in), m1 s1 (out): 4 of 6
        "A1": round(4 / 6, 6),
        # legs at B1: c2 s3 (out), c5 s2 (in), c5 s3 (in): 2 of 3
        "B1": round(2 / 3, 6),
        "A2": 0.0,  # only m1's s9, whose other leg is in A1; c4 is dropped (cOut has no admin3)
        "B2": 1.0,  # the SMS "c1": both legs in B2, never paired with call c1's legs in A1
    }
    assert values(result, "subscribers") == {"A1": 4, "B1": 2, "A2": 1, "B2": 2}


def test_location_introversion_direction_picks_the_counted_leg(intro_db):
    out = intro_db.compute(spec("location_introversion", direction="out"))
    # outgoing legs: A1 c1 s1 (in), c2 s1 (out), c3 s4 (in), m1 s1 (out); B1 c5 s2; B2 s10
    assert values(out) == {"A1": 0.5, "B1": 1.0, "B2": 1.0}
    assert values(out, "subscribers") == {"A1": 2, "B1": 1, "B2": 1}  # A1: s1, s4
    incoming = intro_db.compute(spec("location_introversion", direction="in"))
    # incoming legs: A1 c1 s2, c3 s5 (both in); B1 c2 s3 (out), c5 s3 (in); A2 s9 (out); B2 s11
    assert values(incoming) == {"A1": 1.0, "B1": 0.5, "A2": 0.0, "B2": 1.0}


def test_location_introversion_lon_lat_needs_every_column_equal(intro_db):
    result = intro_db.compute(spec("location_introversion", unit="lon-lat"))
    assert rounded(values(result)) == {
        # c1 s1, c1 s2 (same cell), c2 s1, c3 s5 (other leg at (5, 5): same lon only), m1 s1
        (5.0, 10.0): 0.4,
        (5.0, 5.0): 0.0,  # c3 s4
        (25.0, 10.0): round(2 / 3, 6),  # c2 s3, c5 s2, c5 s3
        (15.0, 10.0): 0.0,  # c4 s6 (other leg at cOut: same lat only), m1 s9
        (50.0, 10.0): 0.0,  # c4 s7: cOut is located at lon-lat
        (35.0, 10.0): 1.0,
    }


def test_location_introversion_window_hours_and_event_types(intro_db):
    # with 2016-01-02 in the window, c6 adds two introverted legs at A1: 6 of 8
    assert values(intro_db.compute(spec("location_introversion", end=D3)))["A1"] == 0.75
    # 10:00-10:59 keeps c1 and c2 only: A1 has c1 s1, c1 s2 (in) and c2 s1 (out)
    assert rounded(
        values(intro_db.compute(spec("location_introversion", hours={"start_hour": 10, "end_hour": 11})))
    ) == {
        "A1": round(2 / 3, 6),
        "B1": 0.0,
    }
    assert values(intro_db.compute(spec("location_introversion", event_types=["sms"]))) == {
        "A1": 0.0,  # m1 s1
        "A2": 0.0,  # m1 s9
        "B2": 1.0,
    }
    assert "outgoing" in intro_db.failure(spec("location_introversion", event_types=["mds"]))


def test_location_introversion_subset_applies_to_both_legs(intro_db):
    # the subset: subscribers located on 2016-01-02, i.e. s1 and s2 (call c6)
    day2 = {"query_kind": "daily_location", "date": D2, "aggregation_unit": "admin3", "method": "last"}
    subset = intro_db.run(intro_db.as_spec(day2))
    assert intro_db.wait(subset) == QueryState.COMPLETED
    result = intro_db.compute(spec("location_introversion", subscriber_subset=subset))
    # only c1 (s1 -> s2) has both legs inside the subset; c2, c5 and m1 lose their other leg
    assert values(result) == {"A1": 1.0}
    assert values(result, "subscribers") == {"A1": 2}


def test_location_introversion_redaction_counts_subscribers_at_the_location(tiny_db):
    calls = many(
        *(legs(f"a{i}", "2016-01-01 10:00", f"a{i}", "cA1", "hub", "cB2") for i in range(16)),
        *(legs(f"b{i}", "2016-01-01 11:00", f"b{i}", "cB1", "hub", "cB2") for i in range(15)),
    )
    m = tiny_db(calls=calls)
    stored = m.compute(spec("location_introversion"))
    assert values(stored, "subscribers") == {"A1": 16, "B1": 15, "B2": 1}  # B2: only the hub
    served = m.served(spec("location_introversion"))
    assert list(served.columns) == ["pcod", "value"]  # the private count never leaves
    assert values(served) == {"A1": 0.0}  # 16 > 15 is served; 15 and 1 are not


# -- total_network_objects --------------------------------------------------------------------

TNO_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s2", "2016-01-01 10:30", "cA1"),  # the same cell again: still one cell
    ("s3", "2016-01-01 10:45", "cA1s"),  # a second cell in A1
    ("s1", "2016-01-01 11:00", "cA2"),
    ("s1", "2016-01-02 09:00", "cA1"),
    ("s4", "2016-01-02 09:00", "cMoved"),  # version 1: in A1 on 2016-01-02
    ("s4", "2016-01-03 09:00", "cMoved"),  # version 2: in B2 from 2016-01-03
    ("s5", "2016-01-01 12:00", "cEdge"),  # in A (admin1) but in no admin3
    ("s1", "2016-01-04 00:00", "cB1"),  # end date exclusive
    ("s1", "2015-12-31 23:59", "cB1"),  # before the start
]
TNO_SMS = [("s6", "2016-01-01 10:15", "cA1"), ("s6", "2016-01-01 13:00", "cB1")]


def tno(total_by="day", unit="admin3", start=D1, end=D4, **extra):
    return spec("total_network_objects", start, end, unit, total_by=total_by, **extra)


@pytest.fixture
def tno_db(tiny_db):
    return tiny_db(calls=TNO_CALLS, sms=TNO_SMS)


def stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_total_network_objects_by_day(tno_db):
    result = tno_db.compute(tno())
    assert list(result.columns) == ["pcod", "value", "datetime"]
    assert values(result) == {
        ("A1", stamp(D1)): 2,  # cA1 (three events) and cA1s
        ("A2", stamp(D1)): 1,
        ("B1", stamp(D1)): 1,  # the 13:00 sms
        ("A1", stamp(D2)): 2,  # cA1 and cMoved (version 1)
        ("B2", stamp(D3)): 1,  # cMoved again, now version 2 in B2
    }


def test_total_network_objects_periods(tno_db):
    assert values(tno_db.compute(tno("hour"))) == {
        ("A1", stamp("2016-01-01 10:00")): 2,  # 10:00, 10:15 (sms), 10:30 at cA1; 10:45 at cA1s
        ("A2", stamp("2016-01-01 11:00")): 1,
        ("B1", stamp("2016-01-01 13:00")): 1,
        ("A1", stamp("2016-01-02 09:00")): 2,
        ("B2", stamp("2016-01-03 09:00")): 1,
    }
    # one month: A1 saw cA1, cA1s and cMoved; the same cell id counts once however it moved
    month = {("A1", stamp(D1)): 3, ("A2", stamp(D1)): 1, ("B1", stamp(D1)): 1, ("B2", stamp(D1)): 1}
    assert values(tno_db.compute(tno("month"))) == month
    assert values(tno_db.compute(tno("year"))) == month


def test_total_network_objects_minutes_and_seconds(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 10:00:05", "cA1"),
            ("s2", "2016-01-01 10:00:50", "cA1s"),
            ("s3", "2016-01-01 10:01:00", "cA1"),
            ("s4", "2016-01-01 10:01:00", "cA1"),  # same cell, same second
        ]
    )
    assert values(m.compute(tno("minute"))) == {
        ("A1", stamp("2016-01-01 10:00")): 2,
        ("A1", stamp("2016-01-01 10:01")): 1,
    }
    assert values(m.compute(tno("second"))) == {
        ("A1", stamp("2016-01-01 10:00:05")): 1,
        ("A1", stamp("2016-01-01 10:00:50")): 1,
        ("A1", stamp("2016-01-01 10:01:00")): 1,
    }


def test_total_network_objects_units_and_filters(tno_db):
    assert values(tno_db.compute(tno(unit="admin1"))) == {
        ("A", stamp(D1)): 4,  # cA1, cA1s, cA2 and cEdge (inside A)
        ("B", stamp(D1)): 1,
        ("A", stamp(D2)): 2,
        ("B", stamp(D3)): 1,
    }
    assert values(tno_db.compute(tno(unit="lon-lat")))[(5.0, 15.0, stamp(D2))] == 1  # cMoved version 1
    calls_only = values(tno_db.compute(tno(event_types=["calls"])))
    assert ("B1", stamp(D1)) not in calls_only  # only an sms was there
    assert calls_only[("A1", stamp(D1))] == 2
    # 10:00-10:59 keeps the four 10:xx events at cA1 / cA1s only
    assert values(tno_db.compute(tno(hours={"start_hour": 10, "end_hour": 11}))) == {("A1", stamp(D1)): 2}


def test_total_network_objects_subscriber_subset(tno_db):
    day2 = {"query_kind": "daily_location", "date": D2, "aggregation_unit": "admin3", "method": "last"}
    subset = tno_db.run(tno_db.as_spec(day2))  # s1 and s4, seen on 2016-01-02
    assert tno_db.wait(subset) == QueryState.COMPLETED
    assert values(tno_db.compute(tno(subscriber_subset=subset))) == {
        ("A1", stamp(D1)): 1,  # s1 at cA1 (s2, s3 and s6 are not in the subset)
        ("A2", stamp(D1)): 1,
        ("A1", stamp(D2)): 2,
        ("B2", stamp(D3)): 1,
    }


# -- aggregate_network_objects ----------------------------------------------------------------

ANO_CALLS = [
    # A1 on 2016-01-01, cells per hour: 08h 1, 09h 2, 10h 3, 11h 1
    ("s1", "2016-01-01 08:00", "cA1"),
    ("s1", "2016-01-01 09:00", "cA1"),
    ("s2", "2016-01-01 09:30", "cA1s"),
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s2", "2016-01-01 10:10", "cA1s"),
    ("s3", "2016-01-01 10:20", "cMoved"),  # version 1, in A1
    ("s1", "2016-01-01 11:00", "cA1"),
    # A1 on 2016-01-02: 08h 2, 09h 1
    ("s1", "2016-01-02 08:00", "cA1"),
    ("s2", "2016-01-02 08:30", "cA1s"),
    ("s1", "2016-01-02 09:00", "cA1"),
    # B1 on 2016-01-01: 10h 1
    ("s4", "2016-01-01 10:00", "cB1"),
]


def ano(statistic, aggregate_by="day", total_by="hour"):
    return {
        "query_kind": "aggregate_network_objects",
        "total_network_objects": tno(total_by, end=D3),
        "statistic": statistic,
        "aggregate_by": aggregate_by,
    }


@pytest.fixture
def ano_db(tiny_db):
    return tiny_db(calls=ANO_CALLS)


@pytest.mark.parametrize(
    "statistic, a1_day1, a1_day2, b1_day1",
    [
        ("avg", 1.75, 1.5, 1.0),  # (1+2+3+1)/4; (2+1)/2
        ("max", 3, 2, 1),
        ("min", 1, 1, 1),
        ("sum", 7, 3, 1),
        ("count", 4, 2, 1),  # hours with events; hours without add no zero
        ("median", 1.5, 1.5, 1.0),  # interpolated: [1, 1, 2, 3] -> (1 + 2) / 2
        ("mode", 1, 1, 1),  # day 2: 2 and 1 once each -> the smaller, as PostgreSQL's mode()
        ("variance", round(2.75 / 3, 6), 0.5, None),  # sample variance; one value has none
        ("stddev", round(math.sqrt(2.75 / 3), 6), round(math.sqrt(0.5), 6), None),
    ],
)
def test_aggregate_network_objects_statistics(ano_db, statistic, a1_day1, a1_day2, b1_day1):
    result = ano_db.compute(ano(statistic))
    assert list(result.columns) == ["pcod", "value", "datetime"]
    assert rounded(values(result)) == {
        ("A1", stamp(D1)): a1_day1,
        ("A1", stamp(D2)): a1_day2,
        ("B1", stamp(D1)): b1_day1,
    }


def test_aggregate_network_objects_periods(ano_db):
    # a month of A1's hourly counts: 1, 2, 3, 1, 2, 1
    assert rounded(values(ano_db.compute(ano("avg", "month")))) == {
        ("A1", stamp(D1)): round(10 / 6, 6),
        ("B1", stamp(D1)): 1.0,
    }
    # PostgreSQL's centuries start in year 1: 2016 belongs to the one starting 2001-01-01
    assert values(ano_db.compute(ano("max", "century"))) == {
        ("A1", stamp("2001-01-01")): 3,
        ("B1", stamp("2001-01-01")): 1,
    }
    # daily totals (A1: 3 cells on day 1, 2 on day 2) summarised per year
    assert values(ano_db.compute(ano("min", "year", total_by="day"))) == {
        ("A1", stamp(D1)): 2,
        ("B1", stamp(D1)): 1,
    }


def test_aggregate_network_objects_spec():
    parsed = parse_spec(ano("avg"))
    assert parsed.unit == "admin3"
    assert required_scopes(parsed) == [
        "admin3:aggregate_network_objects:aggregate_network_objects",
        "admin3:aggregate_network_objects:total_network_objects",
    ]
    assert parsed.redaction is None
    for field in ("statistic", "aggregate_by"):  # both required, as in FlowKit 1.34
        data = ano("avg")
        del data[field]
        assert field in spec_error(data)
    assert "aggregate_by" in spec_error(ano("avg", "week"))
    assert "statistic" in spec_error(ano("total"))
    assert "total_network_objects.total_by" in spec_error(ano("avg", total_by="century"))


# -- trips_od_matrix and consecutive_trips_od_matrix ------------------------------------------

TRIP_CALLS = [
    ("s1", "2016-01-01 08:00", "cA1"),
    ("s1", "2016-01-01 12:00", "cB1"),
    ("s1", "2016-01-02 09:00", "cA1"),
    ("s2", "2016-01-01 08:00", "cA1"),
    ("s2", "2016-01-01 09:00", "cA2"),
    ("s3", "2016-01-01 10:00", "cB2"),  # s3: B2 and A2 at the same instant
    ("s3", "2016-01-01 10:00", "cA2"),
    ("s4", "2016-01-01 10:00", "cA1"),  # s4: two cells of A1, (5, 10) then (5, 5)
    ("s4", "2016-01-01 11:00", "cA1s"),
    ("s5", "2016-01-01 09:00", "cA1"),  # s5: A1, A2, back to A1
    ("s5", "2016-01-01 10:00", "cA2"),
    ("s5", "2016-01-01 11:00", "cA1"),
    ("s6", "2016-01-02 23:00", "cA1"),
    ("s6", "2016-01-03 00:00", "cB1"),  # end date exclusive
    ("s7", "2016-01-01 08:00", "cOut"),  # located at lon-lat only
    ("s7", "2016-01-01 09:00", "cA1"),
    ("s9", "2016-01-01 10:00", "cA1"),  # s9 stays in A1
    ("s9", "2016-01-01 10:30", "cA1"),
    ("s9", "2016-01-01 11:00", "cA1"),
    ("s10", "2016-01-01 12:00", "cA1"),  # s10: two cells of A1 with the same lon at the same instant
    ("s10", "2016-01-01 12:00", "cA1s"),
]
TRIP_SMS = [("s8", "2016-01-01 10:00", "cA1"), ("s8", "2016-01-01 11:00", "cA2")]


@pytest.fixture
def trips_db(tiny_db):
    return tiny_db(calls=TRIP_CALLS, sms=TRIP_SMS)


def trips(kind="trips_od_matrix", unit="admin3", end=D3, **extra):
    return spec(kind, D1, end, unit, **extra)


def test_trips_od_matrix(trips_db):
    result = trips_db.compute(trips())
    assert list(result.columns) == ["pcod_from", "pcod_to", "value"]
    assert values(result) == {
        ("A1", "B1"): 1,  # s1: first at A1 08:00, last at B1 12:00
        ("B1", "A1"): 1,  # s1: first at B1 12:00, last at A1 the next day
        ("A1", "A2"): 3,  # s2, s5, s8 (sms)
        ("A2", "A1"): 1,  # s5 came back to A1; s2 did not
        # s3: A2 and B2 at the same instant: first < last fails both ways (strict)
        # s4, s9, s10 stay in A1; s6's B1 visit is on the end date; s7's cOut has no admin3
    }


def test_trips_od_matrix_lon_lat_counts_pairs_differing_in_one_coordinate(trips_db):
    assert values(trips_db.compute(trips(unit="lon-lat"))) == {
        # every cell but cA1s has lat 10: FlowKit, requiring both coordinates to differ, drops these
        (5.0, 10.0, 25.0, 10.0): 1,  # s1
        (25.0, 10.0, 5.0, 10.0): 1,  # s1
        (5.0, 10.0, 15.0, 10.0): 3,  # s2, s5, s8
        (15.0, 10.0, 5.0, 10.0): 1,  # s5
        (5.0, 10.0, 5.0, 5.0): 1,  # s4: same lon
        (50.0, 10.0, 5.0, 10.0): 1,  # s7: cOut at 08:00, then cA1
        # s10: cA1 and cA1s at the same instant: neither first visit is before the other's last
    }


def test_trips_od_matrix_filters(trips_db):
    assert values(trips_db.compute(trips(unit="admin1"))) == {("A", "B"): 1, ("B", "A"): 1}  # s1 only
    # 09:00-11:59: s1 keeps only 2016-01-02 09:00, s2 only 09:00; s5 and s8 keep everything
    assert values(trips_db.compute(trips(hours={"start_hour": 9, "end_hour": 12}))) == {
        ("A1", "A2"): 2,
        ("A2", "A1"): 1,
    }
    assert values(trips_db.compute(trips(event_types=["calls"])))[("A1", "A2")] == 2  # s8 is in sms
    # with 2016-01-03 in the window, s6 goes from A1 to B1 too
    assert values(trips_db.compute(trips(end=D4)))[("A1", "B1")] == 2


def test_consecutive_trips_od_matrix(trips_db):
    result = trips_db.compute(trips("consecutive_trips_od_matrix"))
    assert list(result.columns) == ["pcod_from", "pcod_to", "value"]
    assert values(result) == {
        ("A1", "B1"): 1,  # s1
        ("B1", "A1"): 1,  # s1
        ("A1", "A2"): 3,  # s2, s5, s8
        ("A2", "A1"): 1,  # s5
        ("A2", "B2"): 1,  # s3: B2 and A2 at the same instant are taken in pcod order, A2 first
        ("A1", "A1"): 3,  # s4, s9 (twice, counted once), s10
    }


def test_consecutive_trips_od_matrix_lon_lat_tie_break(trips_db):
    assert values(trips_db.compute(trips("consecutive_trips_od_matrix", unit="lon-lat"))) == {
        (5.0, 10.0, 25.0, 10.0): 1,  # s1
        (25.0, 10.0, 5.0, 10.0): 1,  # s1
        (5.0, 10.0, 15.0, 10.0): 3,  # s2, s5, s8
        (15.0, 10.0, 5.0, 10.0): 1,  # s5
        (15.0, 10.0, 35.0, 10.0): 1,  # s3: same instant, smaller lon first
        (5.0, 10.0, 5.0, 5.0): 1,  # s4
        (50.0, 10.0, 5.0, 10.0): 1,  # s7
        (5.0, 10.0, 5.0, 10.0): 1,  # s9
        (5.0, 5.0, 5.0, 10.0): 1,  # s10: same instant and lon, smaller lat first
    }


def test_consecutive_trips_od_matrix_filters(trips_db):
    kind = "consecutive_trips_od_matrix"
    # 10:00-10:59: s3 (A2, B2), s4 (one event), s5 (A2 only), s8 (A1 only), s9 (10:00, 10:30)
    assert values(trips_db.compute(trips(kind, hours={"start_hour": 10, "end_hour": 11}))) == {
        ("A2", "B2"): 1,
        ("A1", "A1"): 1,
    }
    assert values(trips_db.compute(trips(kind, event_types=["sms"]))) == {("A1", "A2"): 1}
    # s6's 2016-01-03 event joins in: A1 -> B1 for s6 too
    assert values(trips_db.compute(trips(kind, end=D4)))[("A1", "B1")] == 2


@pytest.mark.parametrize("kind", ["trips_od_matrix", "consecutive_trips_od_matrix"])
def test_trips_subscriber_subset(trips_db, kind):
    day2 = {"query_kind": "daily_location", "date": D2, "aggregation_unit": "admin3", "method": "last"}
    subset = trips_db.run(trips_db.as_spec(day2))  # s1 and s6, seen on 2016-01-02
    assert trips_db.wait(subset) == QueryState.COMPLETED
    # s1 goes A1 -> B1 -> A1 in both senses; s6 has one event in the window
    assert values(trips_db.compute(trips(kind, subscriber_subset=subset))) == {("A1", "B1"): 1, ("B1", "A1"): 1}


@pytest.mark.parametrize(
    "kind, field, value",
    [
        ("location_introversion", "direction", "sideways"),
        ("total_network_objects", "total_by", "week"),
        ("trips_od_matrix", "aggregation_unit", "cell"),  # a library unit, not offered by the API
        ("consecutive_trips_od_matrix", "hours", {"start_hour": 25, "end_hour": 3}),
        ("location_introversion", "event_types", ["voice"]),
    ],
)
def test_invalid_specs_name_the_field(kind, field, value):
    assert field in spec_error(spec(kind) | {field: value})
    assert "end_date must be after start_date" in spec_error(spec(kind, start=D2, end=D1))
    assert "aggregation_unit" in spec_error({k: v for k, v in spec(kind).items() if k != "aggregation_unit"})


@pytest.mark.parametrize("kind", ["trips_od_matrix", "consecutive_trips_od_matrix"])
def test_trips_redaction(tiny_db, kind):
    calls = [(f"a{i}", f"2016-01-01 {h}:00", cell) for i in range(16) for h, cell in (("08", "cA1"), ("09", "cB1"))]
    calls += [(f"b{i}", f"2016-01-01 {h}:00", cell) for i in range(15) for h, cell in (("08", "cA2"), ("09", "cB2"))]
    m = tiny_db(calls=calls)
    assert values(m.compute(trips(kind))) == {("A1", "B1"): 16, ("A2", "B2"): 15}
    assert values(m.served(trips(kind))) == {("A1", "B1"): 16}


# -- dfs_metric_total_amount ------------------------------------------------------------------

# (id, amount, discount, fee, commission, timestamp, [(subscriber id, cell, version, outgoing), ...])
TRANSACTIONS = [
    (1, 100, 1, 2, 0.5, "2016-01-01 10:00", [(1, "cA1", 1, True), (2, "cA1", 1, False)]),  # both in A1
    (2, 50, 0, 1, 0.25, "2016-01-01 23:59:59", [(1, "cA1", 1, True), (3, "cB1", 1, False)]),
    (3, 20, 0.5, 0.4, 0.1, "2016-01-02 00:00", [(2, "cA2", 1, True), (3, "cB1", 1, False)]),
    # the metadata names the version: cMoved v2 (B2) and v1 (A1), whatever the date
    (4, 7, 0, 0.07, 0.03, "2016-01-03 12:00", [(1, "cMoved", 2, True), (2, "cMoved", 1, False)]),
    (5, 1000, 0, 0, 0, "2016-01-04 00:00", [(1, "cA1", 1, True), (2, "cA1", 1, False)]),  # after the end day
    (6, 3, 0, 0, 0, "2015-12-31 23:59", [(1, "cA1", 1, True), (2, "cA1", 1, False)]),  # before the start
    (7, 5, 0, 0, 0, "2016-01-02 08:00", [(4, "cEdge", 1, True), (5, "cOut", 1, False)]),  # cEdge: A, Z only
    (8, 9, 0, 0, 0, "2016-01-02 09:00", [(1, "cA1", 7, True)]),  # no such cell version
]


@pytest.fixture
def dfs_db(tiny_db):
    m = tiny_db()
    for tid, amount, discount, fee, commission, when, parties in TRANSACTIONS:
        m.db.execute(
            "INSERT INTO dfs.transactions VALUES (?, ?, ?, ?, ?, 1, ?::TIMESTAMP)",
            [tid, amount, discount, fee, commission, when],
        )
        for subscriber, cell, version, outgoing in parties:
            m.db.execute(
                "INSERT INTO dfs.transactions_metadata VALUES (?, ?, ?, ?, ?)",
                [tid, subscriber, cell, version, outgoing],
            )
    return m


def dfs(metric="amount", start=D1, end=D3, unit="admin3"):
    return {
        "query_kind": "dfs_metric_total_amount",
        "metric": metric,
        "start_date": start,
        "end_date": end,
        "aggregation_unit": unit,
    }


def by_day(frame: pd.DataFrame, column: str = "value") -> dict:
    assert list(frame.columns)[:3] == ["date", "pcod", "value"]
    return {(pd.Timestamp(r.date).date().isoformat(), r.pcod): round(float(r[column]), 4) for _, r in frame.iterrows()}


def test_dfs_metric_total_amount(dfs_db):
    assert by_day(dfs_db.compute(dfs())) == {
        (D1, "A1"): 150.0,  # 100 (both parties in A1: once) + 50
        (D1, "B1"): 50.0,
        (D2, "A2"): 20.0,
        (D2, "B1"): 20.0,
        (D3, "A1"): 7.0,  # cMoved version 1
        (D3, "B2"): 7.0,  # cMoved version 2
        # 2016-01-04 is after the (inclusive) end day; transaction 7's cells have no admin3
    }
    # the private count behind the redaction: distinct parties transacting there that day
    assert by_day(dfs_db.compute(dfs()), "subscribers") == {
        (D1, "A1"): 2,  # subscribers 1 and 2 (transaction 1), 1 again (transaction 2)
        (D1, "B1"): 1,
        (D2, "A2"): 1,
        (D2, "B1"): 1,
        (D3, "A1"): 1,
        (D3, "B2"): 1,
    }


@pytest.mark.parametrize(
    "metric, expected",
    [
        (
            "fee",
            {(D1, "A1"): 3.0, (D1, "B1"): 1.0, (D2, "A2"): 0.4, (D2, "B1"): 0.4, (D3, "A1"): 0.07, (D3, "B2"): 0.07},
        ),
        (
            "commission",
            {(D1, "A1"): 0.75, (D1, "B1"): 0.25, (D2, "A2"): 0.1, (D2, "B1"): 0.1, (D3, "A1"): 0.03, (D3, "B2"): 0.03},
        ),
        (
            "discount",
            {(D1, "A1"): 1.0, (D1, "B1"): 0.0, (D2, "A2"): 0.5, (D2, "B1"): 0.5, (D3, "A1"): 0.0, (D3, "B2"): 0.0},
        ),
    ],
)
def test_dfs_metrics(dfs_db, metric, expected):
    assert by_day(dfs_db.compute(dfs(metric))) == expected


def test_dfs_end_date_is_inclusive_and_units(dfs_db):
    assert by_day(dfs_db.compute(dfs(start=D2, end=D2))) == {(D2, "A2"): 20.0, (D2, "B1"): 20.0}  # one day
    # transaction 7: cEdge is inside A; transaction 3 has a party in A and one in B
    assert by_day(dfs_db.compute(dfs(start=D2, end=D2, unit="admin1"))) == {(D2, "A"): 25.0, (D2, "B"): 20.0}
    # at admin0 every transaction counts once, though both its parties are in Z
    assert by_day(dfs_db.compute(dfs(unit="admin0"))) == {(D1, "Z"): 150.0, (D2, "Z"): 25.0, (D3, "Z"): 7.0}
    assert by_day(dfs_db.compute(dfs(end=D4)))[(D4, "A1")] == 1000.0


def test_dfs_redaction_counts_distinct_parties(tiny_db):
    m = tiny_db()
    # 16 payers in A1 and 15 in B1, each paying 10 to one payee per area, both payees in B2
    payers = [(i, "cA1", 100) for i in range(1, 17)] + [(i, "cB1", 101) for i in range(17, 32)]
    for tid, (payer, cell, payee) in enumerate(payers, start=1):
        m.db.execute("INSERT INTO dfs.transactions VALUES (?, 10, 0, 0, 0, 1, TIMESTAMP '2016-01-01 12:00')", [tid])
        m.db.execute("INSERT INTO dfs.transactions_metadata VALUES (?, ?, ?, 1, true)", [tid, payer, cell])
        m.db.execute("INSERT INTO dfs.transactions_metadata VALUES (?, ?, 'cB2', 1, false)", [tid, payee])
    stored = m.compute(dfs(end=D1))
    assert by_day(stored) == {(D1, "A1"): 160.0, (D1, "B1"): 150.0, (D1, "B2"): 310.0}
    assert by_day(stored, "subscribers") == {(D1, "A1"): 16, (D1, "B1"): 15, (D1, "B2"): 2}
    served = m.served(dfs(end=D1))
    assert list(served.columns) == ["date", "pcod", "value"]
    assert by_day(served) == {(D1, "A1"): 160.0}  # 16 > 15; 15 and 2 are not served


def test_dfs_spec_validation():
    assert "end_date must not be before start_date" in spec_error(dfs(start=D2, end=D1))
    assert "aggregation_unit" in spec_error(dfs(unit="lon-lat"))  # FlowKit fails it at run time
    assert "metric" in spec_error(dfs(metric="total"))
    assert "start_date" in spec_error(dfs(start="2016-01-01T10:00:00"))
    assert parse_spec(dfs(start="2016-01-01T00:00:00")).query_id == parse_spec(dfs()).query_id


def test_synthetic_dfs_transactions():
    config = SyntheticConfig(subscribers=300, end_date=date(2016, 1, 6), crisis_date=date(2016, 1, 4), cells=120)
    db, again = FlowDB(), FlowDB()
    summary = generate(db, config)
    generate(again, config)

    def rows(target, table):
        return target.execute(f"SELECT * FROM dfs.{table} ORDER BY ALL").fetchall()

    for table in ("transaction_types", "subscribers", "transactions", "transactions_metadata"):
        assert rows(db, table) == rows(again, table)  # deterministic from the seed
    assert summary["dfs_transactions"] == db.execute("SELECT count(*) FROM dfs.transactions").fetchone()[0] > 0
    # two-line format: one outgoing and one incoming party per transaction, two different holders
    assert (
        db.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM dfs.transactions_metadata GROUP BY ALL "
            "HAVING count(*) <> 2 OR sum(is_outgoing::INT) <> 1 OR count(DISTINCT subscriber_id) <> 2)"
        ).fetchone()[0]
        == 0
    )
    # each party's cell version was in service on the transaction's day, and every date is in the period
    assert (
        db.execute(
            "SELECT count(*) FROM dfs.transactions t JOIN dfs.transactions_metadata m ON t.id = m.transaction_id "
            "LEFT JOIN infrastructure.cells c ON c.id = m.cell_id AND c.version = m.cell_version "
            "AND t.timestamp::DATE >= c.date_of_first_service "
            "AND (c.date_of_last_service IS NULL OR t.timestamp::DATE <= c.date_of_last_service) "
            "WHERE c.id IS NULL OR t.timestamp::DATE NOT BETWEEN DATE '2016-01-01' AND DATE '2016-01-06'"
        ).fetchone()[0]
        == 0
    )
    m = Machine(db)
    try:
        got = by_day(m.dataframe(parse_spec(dfs(start=D1, end="2016-01-06"))))
    finally:
        m.close()
    # the same totals in plain SQL: each transaction once per (day, admin3) of its parties' cells
    expected = db.execute(
        "SELECT DISTINCT t.id, t.timestamp::DATE AS day, u.admin3pcod AS pcod, t.amount FROM dfs.transactions t "
        "JOIN dfs.transactions_metadata m ON t.id = m.transaction_id "
        "JOIN geography.cell_admin_units u ON u.location_id = m.cell_id AND u.version = m.cell_version"
    ).df()
    sums = expected.groupby(["day", "pcod"])["amount"].sum()
    assert got == {(pd.Timestamp(d).date().isoformat(), p): round(float(v), 4) for (d, p), v in sums.items()}
    db.close()
    again.close()


# -- geography --------------------------------------------------------------------------------


def test_geography_lists_every_unit(tiny_db):
    # C1 (lon 40-50) holds no cell: cOut at lon 50 is on its border
    m = tiny_db(admins={**ADMINS, 3: [*ADMINS[3], ("C1", (40, 0, 50, 20), "BB")]})
    geography = {"query_kind": "geography", "aggregation_unit": "admin3"}
    assert m.compute(geography)["pcod"].tolist() == ["A1", "A2", "B1", "B2", "C1"]
    assert m.compute(geography | {"aggregation_unit": "admin0"})["pcod"].tolist() == ["Z"]
    lon_lat = m.compute(geography | {"aggregation_unit": "lon-lat"})
    # every distinct cell position, both versions of cMoved included
    assert list(lon_lat.itertuples(index=False, name=None)) == [
        (5.0, 5.0),
        (5.0, 10.0),
        (5.0, 15.0),
        (10.0, 10.0),
        (15.0, 10.0),
        (25.0, 10.0),
        (35.0, 10.0),
        (35.0, 15.0),
        (50.0, 10.0),
    ]
    assert parse_spec(geography).redaction is None
    assert required_scopes(parse_spec(geography)) == ["admin3:geography:geography"]
    assert "aggregation_unit" in spec_error({"query_kind": "geography", "aggregation_unit": "admin4"})
    assert "mapping_table" in spec_error(geography | {"mapping_table": "infrastructure.mapping"})


@pytest.fixture(scope="module")
def api(keys):  # noqa: F811
    db = sixteen_and_fifteen()  # admin3 A (0-1, 0-1) and B (1-2, 0-1)
    machine = Machine(db)
    client = TestClient(create_app(machine, public_key=keys[1], server_name=SERVER), follow_redirects=False)
    yield client, bearer(keys, {"all": scope_universe()})
    machine.close()
    db.close()


def test_geography_result_as_json_and_geojson(api):
    client, everything = api
    query_id = run_to_completion(client, everything, {"query_kind": "geography", "aggregation_unit": "admin3"})
    rows = client.get(f"/api/0/get/{query_id}", headers=everything).json()["query_result"]
    assert rows == [{"pcod": "A"}, {"pcod": "B"}]
    features = client.get(f"/api/0/get/{query_id}.geojson", headers=everything).json()["features"]
    assert [(f["id"], f["properties"]["pcod"], f["properties"]["centroid"]["coordinates"]) for f in features] == [
        (1, "A", [0.5, 0.5]),
        (2, "B", [1.5, 0.5]),
    ]
    assert features[0]["geometry"]["type"] == "Polygon"


# -- dummy_query ------------------------------------------------------------------------------


def test_dummy_query(tiny_db):
    m = tiny_db()
    dummy = {"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "hello"}
    assert m.compute(dummy).to_dict("records") == [{"dummy_param": "hello"}]
    assert parse_spec(dummy).dummy_delay == 0
    assert parse_spec(dummy).query_id != parse_spec(dummy | {"dummy_param": "other"}).query_id
    assert "dummy_param" in spec_error({"query_kind": "dummy_query", "aggregation_unit": "admin3"})
    assert "dummy_delay" in spec_error(dummy | {"dummy_delay": -1})


def test_dummy_delay_keeps_the_query_queued_without_holding_a_worker(tiny_db):
    m = tiny_db(calls=[("s1", "2016-01-01 10:00", "cA1")])
    dummy = {"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "x", "dummy_delay": 60}
    slow = m.run(parse_spec(dummy))
    # both workers stay free: two other queries complete while the dummy waits (closing cancels it)
    for other in (spec("trips_od_matrix"), spec("unique_subscriber_counts")):
        assert m.wait(m.run(parse_spec(other)), timeout=10) == QueryState.COMPLETED
    assert m.state(slow) == QueryState.QUEUED
    assert m.progress(slow).as_dict() == {"eligible": 1, "queued": 1, "running": 0}


def test_dummy_delay_over_http_polls_as_queued_then_completes(api):
    client, everything = api
    dummy = {"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "x", "dummy_delay": 1}
    started = time.monotonic()
    query_id = client.post("/api/0/run", json=dummy, headers=everything).json()["query_id"]
    poll = client.get(f"/api/0/poll/{query_id}", headers=everything)
    assert (poll.status_code, poll.json()["status"]) == (202, "queued")
    assert client.get(f"/api/0/get/{query_id}", headers=everything).status_code == 202
    assert run_to_completion(client, everything, dummy) == query_id
    assert time.monotonic() - started >= 1
    assert client.get(f"/api/0/get/{query_id}", headers=everything).json()["query_result"] == [{"dummy_param": "x"}]
    features = client.get(f"/api/0/get/{query_id}.geojson", headers=everything).json()["features"]
    assert features == [
        {"type": "Feature", "geometry": None, "properties": {"dummy_param": "x", "centroid": None}, "id": 1}
    ]


@pytest.mark.parametrize("kind", sorted(NETWORK_KINDS))
def test_examples_and_redaction_rules(kind):
    parsed = parse_spec(top_level_kinds()[kind].example)
    assert parsed.query_kind == kind
    # cells, shapes and the dummy describe no people: served as stored (money is, see DFS)
    assert (parsed.redaction is None) == NETWORK_KINDS[kind]
