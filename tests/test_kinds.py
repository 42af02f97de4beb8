"""Exact answers of every query kind on small hand-built FlowDBs.

The geography (admin boxes A1 A2 | B1 B2, cells cA1 … cOut, the two-version cell cMoved) is
described in conftest.py. Every expected value below was worked out by hand from the events
listed next to it; the comment says why it is the answer.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.conftest import BACKENDS

from flowkit.machine.catalogue import SpecError, parse_spec

D1, D2, D3 = "2016-01-01", "2016-01-02", "2016-01-03"


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-worked case here runs on DuckDB and on PostgreSQL."""
    return request.param


# -- spec builders ----------------------------------------------------------------------------


def daily(date, unit="admin3", method="last", **extra):
    return {"query_kind": "daily_location", "date": date, "aggregation_unit": unit, "method": method, **extra}


def modal(*locations):
    return {"query_kind": "modal_location", "locations": list(locations)}


def spatial(locations):
    return {"query_kind": "spatial_aggregate", "locations": locations}


def flows(origin, destination, join_type="inner"):
    return {"query_kind": "flows", "from_location": origin, "to_location": destination, "join_type": join_type}


def usc(start, end, unit="admin3", **extra):
    return {
        "query_kind": "unique_subscriber_counts",
        "start_date": start,
        "end_date": end,
        "aggregation_unit": unit,
        **extra,
    }


def lec(start, end, interval, unit="admin3", direction="both", **extra):
    return {
        "query_kind": "location_event_counts",
        "start_date": start,
        "end_date": end,
        "interval": interval,
        "aggregation_unit": unit,
        "direction": direction,
        **extra,
    }


# -- result readers ---------------------------------------------------------------------------


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def where(frame: pd.DataFrame) -> dict:
    """subscriber -> pcod, or subscriber -> (lon, lat)."""
    places = [c for c in frame.columns if c != "subscriber"]
    assert frame["subscriber"].is_unique
    return {
        row["subscriber"]: _plain(row[places[0]]) if len(places) == 1 else tuple(_plain(row[c]) for c in places)
        for _, row in frame.iterrows()
    }


def values(frame: pd.DataFrame, column: str = "value") -> dict:
    """key columns (every column but value/subscribers, in order) -> `column`; one key unwrapped."""
    keys = [c for c in frame.columns if c not in ("value", "subscribers")]
    result = {}
    for _, row in frame.iterrows():
        key = tuple(_plain(row[c]) for c in keys)
        assert key not in result, f"duplicate row for {key}"
        result[key[0] if len(key) == 1 else key] = _plain(row[column])
    return result


# -- daily_location: last ---------------------------------------------------------------------

LAST_CALLS = [
    ("s1", "2016-01-01 09:00", "cA1"),
    ("s1", "2016-01-01 18:00", "cB2"),
    # s2: two events at the same instant; cA2 is listed (inserted) first
    ("s2", "2016-01-01 10:00", "cA2"),
    ("s2", "2016-01-01 10:00", "cA1"),
    ("s3", "2016-01-01 08:00", "cB1"),
    # s4: only the noon event is inside [2016-01-01, 2016-01-02)
    ("s4", "2015-12-31 23:59", "cB2"),
    ("s4", "2016-01-01 12:00", "cB1"),
    ("s4", "2016-01-02 00:00", "cA1"),
    ("s5", "2016-01-01 11:00", "cOut"),
    ("s6", "2016-01-01 13:00", "cA1"),
    ("s6", "2016-01-01 23:00", "cOut"),
    ("s7", "2016-01-01 12:00", "cEdge"),
    # s8: same instant at two cells of A1 with the same lon
    ("s8", "2016-01-01 15:00", "cA1"),
    ("s8", "2016-01-01 15:00", "cA1s"),
]
LAST_SMS = [("s3", "2016-01-01 20:00", "cA2")]


def test_daily_location_last_admin3(tiny_db):
    m = tiny_db(calls=LAST_CALLS, sms=LAST_SMS)
    assert where(m.compute(daily(D1, "admin3"))) == {
        "s1": "B2",  # 18:00 at cB2 is the latest event
        "s2": "A1",  # tie at 10:00 between A2 and A1 -> smallest pcod
        "s3": "A2",  # the 20:00 sms (default event types are calls + sms) beats the 08:00 call
        "s4": "B1",  # events on 2015-12-31 and at 2016-01-02 00:00 (end exclusive) are outside the day
        # s5: only cOut, which lies in no admin3 unit -> absent
        "s6": "A1",  # the later cOut event cannot be located at admin3, so cA1 is the last located one
        # s7: cEdge lies on the A1|A2 border -> in no admin3 unit (strict within) -> absent
        "s8": "A1",  # both tied cells are in A1
    }


def test_daily_location_last_admin1(tiny_db):
    m = tiny_db(calls=LAST_CALLS, sms=LAST_SMS)
    assert where(m.compute(daily(D1, "admin1"))) == {
        "s1": "B",
        "s2": "A",  # cA2 and cA1 are both in A
        "s3": "A",
        "s4": "B",
        "s6": "A",
        "s7": "A",  # the A1|A2 border is strictly inside admin1 unit A
        "s8": "A",
    }


def test_daily_location_last_lon_lat(tiny_db):
    m = tiny_db(calls=LAST_CALLS, sms=LAST_SMS)
    assert where(m.compute(daily(D1, "lon-lat"))) == {
        "s1": (35.0, 10.0),
        "s2": (5.0, 10.0),  # tie between (15, 10) and (5, 10) -> smallest lon
        "s3": (15.0, 10.0),
        "s4": (25.0, 10.0),
        "s5": (50.0, 10.0),  # outside every polygon, but a lon-lat location needs no polygon
        "s6": (50.0, 10.0),  # 23:00 at cOut is now the latest located event
        "s7": (10.0, 10.0),
        "s8": (5.0, 5.0),  # tie between (5, 10) and (5, 5): same lon -> smallest lat
    }


def test_daily_location_event_types(tiny_db):
    mds = [("s3", "2016-01-01 21:00", "cB2"), ("s9", "2016-01-01 05:00", "cA2")]
    m = tiny_db(calls=LAST_CALLS, sms=LAST_SMS, mds=mds)
    calls_only = where(m.compute(daily(D1, event_types=["calls"])))
    assert calls_only["s3"] == "B1"  # without the 20:00 sms, the 08:00 call is s3's last event
    assert "s9" not in calls_only
    # mds is only used when named; then s3's 21:00 data session is all there is
    assert where(m.compute(daily(D1, event_types=["mds"]))) == {"s3": "B2", "s9": "A2"}
    everything = where(m.compute(daily(D1, event_types=["calls", "sms", "mds"])))
    assert (everything["s3"], everything["s9"]) == ("B2", "A2")  # 21:00 mds beats the 20:00 sms


def test_daily_location_with_time_of_day_starts_a_24_hour_window(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 11:59", "cA1"),  # before the window
            ("s1", "2016-01-01 12:00", "cA2"),  # first instant of the window
            ("s2", "2016-01-02 11:59", "cB1"),  # last minute of the window
            ("s2", "2016-01-02 12:00", "cB2"),  # the end is exclusive
        ]
    )
    assert where(m.compute(daily("2016-01-01T12:00:00"))) == {"s1": "A2", "s2": "B1"}


# -- daily_location: most-common --------------------------------------------------------------

COMMON_CALLS = [
    # s1: A1 twice, B1 once
    ("s1", "2016-01-01 08:00", "cA1"),
    ("s1", "2016-01-01 09:00", "cA1"),
    ("s1", "2016-01-01 10:00", "cB1"),
    # s2: A2 twice, B1 twice; B1 has the latest event (11:00)
    ("s2", "2016-01-01 08:00", "cA2"),
    ("s2", "2016-01-01 09:00", "cB1"),
    ("s2", "2016-01-01 10:00", "cA2"),
    ("s2", "2016-01-01 11:00", "cB1"),
    # s3: B2 once and A2 once, both at 12:00 (B2 inserted first)
    ("s3", "2016-01-01 12:00", "cB2"),
    ("s3", "2016-01-01 12:00", "cA2"),
    # s6: A1, A2, B1 once each, B1 latest
    ("s6", "2016-01-01 08:00", "cA1"),
    ("s6", "2016-01-01 09:00", "cA2"),
    ("s6", "2016-01-01 10:00", "cB1"),
    # s7: cA1 (5, 10) and cA1s (5, 5) once each at the same instant
    ("s7", "2016-01-01 12:00", "cA1"),
    ("s7", "2016-01-01 12:00", "cA1s"),
    # s8: cOut twice, then cA1 once
    ("s8", "2016-01-01 01:00", "cOut"),
    ("s8", "2016-01-01 02:00", "cOut"),
    ("s8", "2016-01-01 03:00", "cA1"),
]


def test_daily_location_most_common_admin3(tiny_db):
    m = tiny_db(calls=COMMON_CALLS)
    assert where(m.compute(daily(D1, "admin3", "most-common"))) == {
        "s1": "A1",  # 2 events beat 1 (although the last event is at B1)
        "s2": "B1",  # 2 - 2 tie; B1's latest event (11:00) is later than A2's (10:00)
        "s3": "A2",  # 1 - 1 tie, same latest time -> smallest pcod
        "s6": "B1",  # 1 - 1 - 1 tie; B1's event is latest
        "s7": "A1",  # both cells are in A1: 2 events
        "s8": "A1",  # cOut events are not located at admin3
    }


def test_daily_location_most_common_admin1(tiny_db):
    m = tiny_db(calls=COMMON_CALLS)
    assert where(m.compute(daily(D1, "admin1", "most-common"))) == {
        "s1": "A",  # A 2, B 1
        "s2": "B",  # A 2, B 2; B latest at 11:00
        "s3": "A",  # A 1, B 1 at the same time -> smallest
        "s6": "A",  # A1 and A2 merge: A 2, B 1
        "s7": "A",
        "s8": "A",
    }


def test_daily_location_most_common_lon_lat(tiny_db):
    m = tiny_db(calls=COMMON_CALLS)
    assert where(m.compute(daily(D1, "lon-lat", "most-common"))) == {
        "s1": (5.0, 10.0),
        "s2": (25.0, 10.0),
        "s3": (15.0, 10.0),  # tie -> smallest lon (15 < 35)
        "s6": (25.0, 10.0),
        "s7": (5.0, 5.0),  # tie on count, time and lon -> smallest lat
        "s8": (50.0, 10.0),  # cOut is located at lon-lat: 2 events beat 1
    }


# -- hours ------------------------------------------------------------------------------------


def test_daily_location_hours_wrapping_midnight(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 02:00", "cA1"),
            ("s1", "2016-01-01 12:00", "cB1"),  # outside 22→4
            ("s2", "2016-01-01 02:00", "cB1"),
            ("s2", "2016-01-01 23:00", "cA2"),
            ("s3", "2016-01-01 03:59", "cA1"),
            ("s3", "2016-01-01 04:00", "cB2"),  # end hour is exclusive
            ("s4", "2016-01-01 12:00", "cB2"),
            ("s5", "2016-01-01 21:59", "cA1"),  # before the start hour
            ("s5", "2016-01-02 02:00", "cB1"),  # inside the hours, but the next day
            ("s6", "2016-01-01 22:00", "cB2"),  # start hour is inclusive
        ]
    )
    assert where(m.compute(daily(D1, hours={"start_hour": 22, "end_hour": 4}))) == {
        "s1": "A1",  # 12:00 is dropped, 02:00 kept
        "s2": "A2",  # both kept; within the same day 23:00 is later than 02:00
        "s3": "A1",  # 04:00 dropped, 03:59 kept
        # s4: nothing between 22:00 and 04:00 -> absent
        # s5: 21:59 is before 22:00 and 2016-01-02 02:00 is outside the day -> absent
        "s6": "B2",
    }


def test_unique_subscriber_counts_hours_end_exclusive(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 16:59", "cA1"),  # kept: before 17:00
            ("s2", "2016-01-01 17:00", "cA1"),  # dropped: end hour 17 is exclusive
            ("s3", "2016-01-01 09:00", "cA1"),  # kept: start hour 9 is inclusive
            ("s4", "2016-01-01 08:59", "cA1"),  # dropped
            ("s5", "2016-01-01 16:59:59", "cA2"),  # kept
        ]
    )
    result = m.compute(usc(D1, D2, hours={"start_hour": 9, "end_hour": 17}))
    assert values(result) == {"A1": 2, "A2": 1}  # A1: s1, s3; A2: s5


def test_hours_given_as_pair(tiny_db):
    """Our client's hours=(a, b) means the same as {start_hour: a, end_hour: b}."""
    spec = parse_spec(usc(D1, D2, hours=(22, 4)))
    assert spec.hours.start_hour == 22 and spec.hours.end_hour == 4
    assert spec.query_id == parse_spec(usc(D1, D2, hours={"start_hour": 22, "end_hour": 4})).query_id


# -- cell versions ----------------------------------------------------------------------------

MOVED_CALLS = [
    ("s5", "2015-12-31 12:00", "cMoved"),  # before the first version's service
    ("s1", "2016-01-01 10:00", "cMoved"),  # version 1 (A1)
    ("s2", "2016-01-02 23:59", "cMoved"),  # version 1: its last day of service is inclusive
    ("s3", "2016-01-03 00:00", "cMoved"),  # version 2 (B2): its first day
    ("s1", "2016-01-04 12:00", "cMoved"),  # version 2
    ("s4", "2016-01-05 12:00", "cMoved"),  # after every version's service
]


def test_cell_versions_admin3(tiny_db):
    m = tiny_db(calls=MOVED_CALLS)
    result = m.compute(lec("2015-12-31", "2016-01-06", "day"))
    assert values(result) == {
        ("A1", "2016-01-01"): 1,
        ("A1", "2016-01-02"): 1,
        ("B2", "2016-01-03"): 1,
        ("B2", "2016-01-04"): 1,
        # 2015-12-31 and 2016-01-05 fall in no version's service window: dropped
    }
    # s1 was seen in both versions' places
    assert values(m.compute(usc("2015-12-31", "2016-01-06"))) == {"A1": 2, "B2": 2}


def test_cell_versions_lon_lat(tiny_db):
    m = tiny_db(calls=MOVED_CALLS)
    assert where(m.compute(daily(D2, "lon-lat"))) == {"s2": (5.0, 15.0)}
    assert where(m.compute(daily(D3, "lon-lat"))) == {"s3": (35.0, 15.0)}
    assert where(m.compute(daily("2016-01-05", "lon-lat"))) == {}  # s4's event: no version in service
    assert values(m.compute(usc("2015-12-31", "2016-01-06", "lon-lat"))) == {(5.0, 15.0): 2, (35.0, 15.0): 2}


# -- unique_subscriber_counts -----------------------------------------------------------------

WINDOW_CALLS = [
    ("s1", "2015-12-31 23:59:59", "cA1"),  # before the window
    ("s2", "2016-01-01 00:00", "cA1"),  # first instant: kept
    ("s2", "2016-01-02 10:00", "cA2"),  # s2 again in A
    ("s3", "2016-01-03 00:00", "cA1"),  # end date is exclusive: dropped
    ("s4", "2016-01-02 23:59", "cB1"),
    ("s5", "2016-01-01 12:00", "cOut"),
    ("s6", "2016-01-01 12:00", "cEdge"),
]


def test_unique_subscriber_counts_admin1(tiny_db):
    m = tiny_db(calls=WINDOW_CALLS)
    # A: s2 (counted once although seen at cA1 and cA2) and s6 (cEdge is inside A); B: s4.
    # s5 (cOut) is in no admin1 unit; s1 and s3 are outside [2016-01-01, 2016-01-03).
    assert values(m.compute(usc(D1, D3, "admin1"))) == {"A": 2, "B": 1}


def test_unique_subscriber_counts_admin3_and_lon_lat(tiny_db):
    m = tiny_db(calls=WINDOW_CALLS)
    # cEdge is on the A1|A2 border: no admin3 unit
    assert values(m.compute(usc(D1, D3, "admin3"))) == {"A1": 1, "A2": 1, "B1": 1}
    assert values(m.compute(usc(D1, D3, "lon-lat"))) == {
        (5.0, 10.0): 1,  # s2
        (15.0, 10.0): 1,  # s2
        (25.0, 10.0): 1,  # s4
        (50.0, 10.0): 1,  # s5: cOut is kept at lon-lat
        (10.0, 10.0): 1,  # s6
    }


def test_unique_subscriber_counts_event_types(tiny_db):
    m = tiny_db(
        calls=[("s1", "2016-01-01 10:00", "cA1")],
        sms=[("s2", "2016-01-01 10:00", "cA1"), ("s3", "2016-01-01 10:00", "cB1")],
        mds=[("s4", "2016-01-01 10:00", "cA1"), ("s5", "2016-01-01 10:00", "cB2")],
    )
    assert values(m.compute(usc(D1, D2))) == {"A1": 2, "B1": 1}  # default: calls (s1) + sms (s2, s3)
    assert values(m.compute(usc(D1, D2, event_types=["calls"]))) == {"A1": 1}
    assert values(m.compute(usc(D1, D2, event_types=["mds"]))) == {"A1": 1, "B2": 1}
    assert values(m.compute(usc(D1, D2, event_types=["calls", "sms", "mds"]))) == {"A1": 3, "B1": 1, "B2": 1}


# -- modal_location ---------------------------------------------------------------------------

MODAL_CALLS = [
    # s1: A1, A1, B1
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s1", "2016-01-02 10:00", "cA1"),
    ("s1", "2016-01-03 10:00", "cB1"),
    # s2: A2 on day 1, B1 on day 2, nothing on day 3
    ("s2", "2016-01-01 10:00", "cA2"),
    ("s2", "2016-01-02 10:00", "cB1"),
    # s3: B2, A1, B2
    ("s3", "2016-01-01 10:00", "cB2"),
    ("s3", "2016-01-02 10:00", "cA1"),
    ("s3", "2016-01-03 10:00", "cB2"),
    # s4: only day 3
    ("s4", "2016-01-03 10:00", "cA2"),
]
THREE_DAYS = [daily(D1), daily(D2), daily(D3)]


def test_modal_location(tiny_db):
    m = tiny_db(calls=MODAL_CALLS)
    assert where(m.compute(modal(*THREE_DAYS))) == {
        "s1": "A1",  # 2 days of 3
        "s2": "B1",  # 1 - 1 tie; B1 was held on the later day (although A2 is smaller)
        "s3": "B2",  # 2 days of 3 (although A1 is smaller)
        "s4": "A2",  # present in one input only
    }


def test_modal_location_ties_on_the_same_day_go_to_the_smallest_location(tiny_db):
    m = tiny_db(
        calls=[
            # s1: last = B1, most-common = A2
            ("s1", "2016-01-01 08:00", "cA2"),
            ("s1", "2016-01-01 09:00", "cA2"),
            ("s1", "2016-01-01 10:00", "cB1"),
            # s2: last = A1, most-common = B2
            ("s2", "2016-01-01 08:00", "cB2"),
            ("s2", "2016-01-01 09:00", "cB2"),
            ("s2", "2016-01-01 10:00", "cA1"),
        ]
    )
    # Both inputs are tagged with the same day, so each location has 1 day and the same
    # latest day: the smallest pcod wins, whichever input it came from.
    result = m.compute(modal(daily(D1, method="last"), daily(D1, method="most-common")))
    assert where(result) == {"s1": "A2", "s2": "A1"}


def test_spatial_aggregate_of_modal_location(tiny_db):
    m = tiny_db(calls=MODAL_CALLS)
    # modal admin3 locations: s1 A1, s2 B1, s3 B2, s4 A2
    assert values(m.compute(spatial(modal(*THREE_DAYS)))) == {"A1": 1, "A2": 1, "B1": 1, "B2": 1}
    # at admin1: s1 A (A, A, B), s2 B (A then B: tie, B later), s3 B (B, A, B), s4 A
    assert values(m.compute(spatial(modal(*[daily(d, "admin1") for d in (D1, D2, D3)])))) == {"A": 2, "B": 2}


# -- spatial_aggregate ------------------------------------------------------------------------


def test_spatial_aggregate(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 10:00", "cA1"),
            ("s2", "2016-01-01 10:00", "cA1s"),
            ("s3", "2016-01-01 09:00", "cB1"),
            ("s3", "2016-01-01 11:00", "cA1"),  # s3's last location is A1
            ("s4", "2016-01-01 10:00", "cB1"),
            ("s5", "2016-01-01 10:00", "cOut"),  # no admin unit
        ]
    )
    assert values(m.compute(spatial(daily(D1)))) == {"A1": 3, "B1": 1}
    assert values(m.compute(spatial(daily(D1, "admin0")))) == {"Z": 4}
    assert values(m.compute(spatial(daily(D1, "lon-lat")))) == {
        (5.0, 10.0): 2,  # s1, s3
        (5.0, 5.0): 1,  # s2
        (25.0, 10.0): 1,  # s4
        (50.0, 10.0): 1,  # s5
    }
    assert m.served(spatial(daily(D1))).empty  # no location has more than 15 subscribers


# -- flows ------------------------------------------------------------------------------------

FLOW_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s1", "2016-01-02 10:00", "cB1"),
    ("s2", "2016-01-01 10:00", "cA1"),
    ("s2", "2016-01-02 10:00", "cB1"),
    ("s3", "2016-01-01 10:00", "cA2"),
    ("s3", "2016-01-02 10:00", "cA2"),
    ("s4", "2016-01-01 10:00", "cB2"),  # no day-2 event
    ("s5", "2016-01-02 10:00", "cA1"),  # no day-1 event
    ("s6", "2016-01-01 10:00", "cOut"),  # day 1 located only at lon-lat
    ("s6", "2016-01-02 10:00", "cB2"),
]


def test_flows_inner(tiny_db):
    m = tiny_db(calls=FLOW_CALLS)
    result = m.compute(flows(daily(D1), daily(D2)))
    assert list(result.columns) == ["pcod_from", "pcod_to", "value"]
    # only subscribers located on both days: s1, s2 (A1 -> B1), s3 (A2 -> A2)
    assert values(result) == {("A1", "B1"): 2, ("A2", "A2"): 1}


def test_flows_left(tiny_db):
    m = tiny_db(calls=FLOW_CALLS)
    # plus s4, located on day 1 only
    assert values(m.compute(flows(daily(D1), daily(D2), "left"))) == {
        ("A1", "B1"): 2,
        ("A2", "A2"): 1,
        ("B2", None): 1,
    }


def test_flows_full_outer(tiny_db):
    m = tiny_db(calls=FLOW_CALLS)
    # plus s4 (day 1 only), s5 (day 2 only) and s6 (cOut on day 1 is not located at admin3)
    assert values(m.compute(flows(daily(D1), daily(D2), "full outer"))) == {
        ("A1", "B1"): 2,
        ("A2", "A2"): 1,
        ("B2", None): 1,
        (None, "A1"): 1,
        (None, "B2"): 1,
    }


def test_flows_lon_lat(tiny_db):
    m = tiny_db(calls=FLOW_CALLS)
    result = m.compute(flows(daily(D1, "lon-lat"), daily(D2, "lon-lat")))
    assert list(result.columns) == ["lon_from", "lat_from", "lon_to", "lat_to", "value"]
    assert values(result) == {
        (5.0, 10.0, 25.0, 10.0): 2,  # s1, s2
        (15.0, 10.0, 15.0, 10.0): 1,  # s3
        (50.0, 10.0, 35.0, 10.0): 1,  # s6: cOut is located at lon-lat
    }


def test_flows_from_modal_location(tiny_db):
    m = tiny_db(calls=MODAL_CALLS)
    # modal over the 3 days: s1 A1, s2 B1, s3 B2, s4 A2; on day 3: s1 B1, s3 B2, s4 A2 (s2 absent)
    result = m.compute(flows(modal(*THREE_DAYS), daily(D3)))
    assert values(result) == {("A1", "B1"): 1, ("B2", "B2"): 1, ("A2", "A2"): 1}


# -- location_event_counts --------------------------------------------------------------------

COUNT_CALLS = [
    ("s1", "2016-01-01 10:15", "cA1", True),
    ("s1", "2016-01-01 10:45", "cA1", False),
    ("s1", "2016-01-01 11:00", "cA1", True),
    ("s2", "2016-01-01 10:15", "cA1", False),
    ("s2", "2016-01-02 08:00", "cB1", True),
    ("s3", "2015-12-31 09:00", "cA1", True),  # before the window
    ("s3", "2016-01-03 09:00", "cA1", True),  # end date exclusive
    ("s5", "2016-01-01 12:00", "cOut", True),  # not located at admin3
]
COUNT_SMS = [("s1", "2016-01-01 10:15", "cA1", False)]
COUNT_MDS = [("s4", "2016-01-01 10:15", "cA1")]  # not a default event type


@pytest.fixture
def counts_db(tiny_db):
    return tiny_db(calls=COUNT_CALLS, sms=COUNT_SMS, mds=COUNT_MDS)


def test_location_event_counts_day(counts_db):
    result = counts_db.compute(lec(D1, D3, "day"))
    assert list(result.columns) == ["pcod", "date", "value", "subscribers"]
    # A1 on day 1: s1 10:15 call, 10:15 sms, 10:45, 11:00 and s2 10:15 -> 5 events by 2 subscribers
    assert values(result) == {("A1", D1): 5, ("B1", D2): 1}
    assert values(result, "subscribers") == {("A1", D1): 2, ("B1", D2): 1}


def test_location_event_counts_hour_and_min(counts_db):
    assert values(counts_db.compute(lec(D1, D3, "hour"))) == {
        ("A1", D1, 10): 4,  # three at 10:15 (s1 call, s1 sms, s2 call) and s1 at 10:45
        ("A1", D1, 11): 1,
        ("B1", D2, 8): 1,
    }
    assert values(counts_db.compute(lec(D1, D3, "min"))) == {
        ("A1", D1, 10, 15): 3,
        ("A1", D1, 10, 45): 1,
        ("A1", D1, 11, 0): 1,
        ("B1", D2, 8, 0): 1,
    }


def test_location_event_counts_direction(counts_db):
    out = counts_db.compute(lec(D1, D3, "day", direction="out"))
    # outgoing: s1 10:15 call and 11:00 call at A1; s2 08:00 at B1
    assert values(out) == {("A1", D1): 2, ("B1", D2): 1}
    incoming = counts_db.compute(lec(D1, D3, "day", direction="in"))
    # incoming: s1 10:15 sms, s1 10:45 call, s2 10:15 call, all at A1 on day 1 (2 + 3 = 5 = both)
    assert values(incoming) == {("A1", D1): 3}
    # the private subscriber count is over every direction: s1 and s2 at A1
    assert values(incoming, "subscribers") == {("A1", D1): 2}
    assert values(counts_db.compute(lec(D1, D3, "min", direction="out"))) == {
        ("A1", D1, 10, 15): 1,
        ("A1", D1, 11, 0): 1,
        ("B1", D2, 8, 0): 1,
    }


def test_location_event_counts_hours_and_event_types(counts_db):
    # only the 10:xx events remain: 4 at A1 on day 1
    assert values(counts_db.compute(lec(D1, D3, "day", hours={"start_hour": 10, "end_hour": 11}))) == {("A1", D1): 4}
    assert values(counts_db.compute(lec(D1, D3, "day", event_types=["sms"]))) == {("A1", D1): 1}
    assert values(counts_db.compute(lec(D1, D3, "day", event_types=["mds"]))) == {("A1", D1): 1}
    # five call/sms events plus one mds at A1 on day 1
    assert values(counts_db.compute(lec(D1, D3, "day", event_types=["calls", "sms", "mds"]))) == {
        ("A1", D1): 6,
        ("B1", D2): 1,
    }


def test_location_event_counts_duplicate_event_types_count_once(counts_db):
    # FlowKit deduplicates event_types: naming calls twice must not count each call twice
    result = counts_db.compute(lec(D1, D3, "day", event_types=["calls", "calls"]))
    assert values(result) == {("A1", D1): 4, ("B1", D2): 1}  # the four calls at A1, one at B1


def test_location_event_counts_lon_lat(counts_db):
    result = counts_db.compute(lec(D1, D3, "day", "lon-lat"))
    assert list(result.columns) == ["lon", "lat", "date", "value", "subscribers"]
    assert values(result) == {(5.0, 10.0, D1): 5, (25.0, 10.0, D2): 1, (50.0, 10.0, D1): 1}


def test_location_event_counts_direction_needs_outgoing(counts_db):
    # mds has no `outgoing` column, so a direction cannot be applied (FlowKit: ValueError)
    assert "outgoing" in counts_db.failure(lec(D1, D3, "day", direction="out", event_types=["mds"]))


# -- redaction --------------------------------------------------------------------------------

P = [f"p{n:02}" for n in range(16)]  # 16 subscribers: p00 … p15
Q = [f"q{n:02}" for n in range(15)]  # 15 subscribers: q00 … q14


@pytest.fixture
def crowd_db(tiny_db):
    calls = []
    for n, who in enumerate(P):  # day 1 at A1 (half outgoing), day 2 at A2
        calls.append((who, "2016-01-01 10:00", "cA1", n < 8))
        calls.append((who, "2016-01-02 10:00", "cA2"))
    for who in Q:  # two calls each at B1 on day 1, one on day 2
        calls.append((who, "2016-01-01 10:00", "cB1"))
        calls.append((who, "2016-01-01 11:00", "cB1"))
        calls.append((who, "2016-01-02 10:00", "cB1"))
    return tiny_db(calls=calls)


def test_redaction_spatial_aggregate(crowd_db):
    spec = spatial(daily(D1))
    assert values(crowd_db.compute(spec)) == {"A1": 16, "B1": 15}
    assert values(crowd_db.served(spec)) == {"A1": 16}  # 16 > 15 is served, 15 is not


def test_redaction_unique_subscriber_counts(crowd_db):
    spec = usc(D1, D2)
    assert values(crowd_db.compute(spec)) == {"A1": 16, "B1": 15}
    assert values(crowd_db.served(spec)) == {"A1": 16}


def test_redaction_flows(crowd_db):
    spec = flows(daily(D1), daily(D2))
    assert values(crowd_db.compute(spec)) == {("A1", "A2"): 16, ("B1", "B1"): 15}
    assert values(crowd_db.served(spec)) == {("A1", "A2"): 16}


def test_redaction_location_event_counts_uses_subscribers_not_events(crowd_db):
    spec = lec(D1, D2, "day")
    # B1 has 30 events but only 15 subscribers: dropped; A1 has 16 events by 16 subscribers: kept
    assert values(crowd_db.compute(spec)) == {("A1", D1): 16, ("B1", D1): 30}
    served = crowd_db.served(spec)
    assert list(served.columns) == ["pcod", "date", "value"]  # the private column is dropped
    assert values(served) == {("A1", D1): 16}
    # 8 outgoing events at A1, but 16 subscribers there over all directions: served
    assert values(crowd_db.served(lec(D1, D2, "day", direction="out"))) == {("A1", D1): 8}
    assert values(crowd_db.served(lec(D1, D2, "hour", direction="in"))) == {("A1", D1, 10): 8}


# -- validation -------------------------------------------------------------------------------


def _error(spec) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    return caught.value.msg


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        # missing fields
        ({k: v for k, v in usc(D1, D2).items() if k != "aggregation_unit"}, "aggregation_unit"),
        ({k: v for k, v in usc(D1, D2).items() if k != "start_date"}, "start_date"),
        ({k: v for k, v in lec(D1, D2, "day").items() if k != "interval"}, "interval"),
        (spatial({k: v for k, v in daily(D1).items() if k != "method"}), "method"),
        ({"query_kind": "flows", "from_location": daily(D1)}, "to_location"),
        # values outside an enumeration
        (usc(D1, D2, "admin4"), "aggregation_unit"),
        (lec(D1, D2, "week"), "interval"),
        (lec(D1, D2, "day", direction="sideways"), "direction"),
        (usc(D1, D2, event_types=["voice"]), "event_types"),
        (usc(D1, D2, event_types=[]), "event_types"),
        (spatial(daily(D1, method="first")), "method"),
        (flows(daily(D1), daily(D2), "cross"), "join_type"),
        # dates
        (usc("2016-02-30", D2), "start_date"),
        (usc(D1, "not a date"), "end_date"),
        (usc(D2, D1), "end_date"),  # end before start
        (usc(D1, D1), "end_date"),  # empty window
        (spatial(daily("yesterday")), "date"),
        # unknown fields, at the top and nested
        ({**usc(D1, D2), "colour": "red"}, "colour"),
        (spatial({**daily(D1), "colour": "red"}), "colour"),
        # hours out of range
        (usc(D1, D2, hours={"start_hour": 25, "end_hour": 4}), "start_hour"),
        (usc(D1, D2, hours={"start_hour": 0, "end_hour": -1}), "end_hour"),
        (usc(D1, D2, hours={"start_hour": 3}), "end_hour"),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    assert field in _error(spec)


def test_mixed_aggregation_units_are_rejected():
    message = _error(spatial(modal(daily(D1, "admin3"), daily(D2, "admin1"))))
    assert "locations" in message and "aggregation_unit" in message
    message = _error(flows(daily(D1, "admin3"), daily(D2, "lon-lat")))
    assert "from_location" in message and "to_location" in message
    message = _error(flows(daily(D1), modal(daily(D1, "admin1"), daily(D2, "admin1"))))
    assert "from_location" in message and "to_location" in message


def test_unparseable_specs():
    assert "Query kind" in _error({"start_date": D1})
    assert "query_kind" in _error({"query_kind": "no_such_kind"})
    assert "query_kind" in _error(daily(D1))  # daily_location is only accepted nested
    with pytest.raises(SpecError):
        parse_spec(["not", "a", "dict"])


# -- query ids --------------------------------------------------------------------------------


def test_query_ids():
    spec = flows(daily(D1), daily(D2))
    assert parse_spec(spec).query_id == parse_spec(flows(daily(D1), daily(D2))).query_id
    # key order does not matter
    assert parse_spec(dict(reversed(spec.items()))).query_id == parse_spec(spec).query_id
    # a midnight datetime is the same instant as the bare date
    assert parse_spec(usc("2016-01-01", D2)).query_id == parse_spec(usc("2016-01-01T00:00:00", D2)).query_id
    assert (
        parse_spec(spatial(daily("2016-01-01"))).query_id == parse_spec(spatial(daily("2016-01-01T00:00:00"))).query_id
    )
    # defaults are part of the identity: leaving them out is the same as stating them
    implicit = {k: v for k, v in lec(D1, D2, "day").items() if k != "direction"}
    assert parse_spec(implicit).query_id == parse_spec(lec(D1, D2, "day", direction="both")).query_id
    assert parse_spec({k: v for k, v in spec.items() if k != "join_type"}).query_id == parse_spec(spec).query_id
    # event_types are deduplicated (as in FlowKit), so naming a table twice is the same query
    twice, once = usc(D1, D2, event_types=["calls", "calls"]), usc(D1, D2, event_types=["calls"])
    assert parse_spec(twice).query_id == parse_spec(once).query_id
    # different parameters, different ids
    ids = {
        parse_spec(s).query_id
        for s in [
            usc(D1, D2),
            usc(D1, D3),
            usc("2016-01-01T01:00:00", D2),
            usc(D1, D2, "admin1"),
            usc(D1, D2, event_types=["calls"]),
            usc(D1, D2, hours={"start_hour": 22, "end_hour": 4}),
            flows(daily(D1), daily(D2)),
            flows(daily(D1), daily(D3)),
            flows(daily(D1), daily(D2), "left"),
            flows(daily(D1, method="most-common"), daily(D2)),
            spatial(daily(D1)),
        ]
    }
    assert len(ids) == 11


def test_machine_run_returns_the_spec_query_id(tiny_db):
    m = tiny_db(calls=[("s1", "2016-01-01 10:00", "cA1")])
    spec = parse_spec(spatial(daily(D1)))
    assert m.run(spec) == spec.query_id
    assert m.run(parse_spec(spatial(daily("2016-01-01T00:00:00")))) == spec.query_id
