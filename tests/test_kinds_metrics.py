"""Exact answers of the metrics family on small hand-built FlowDBs.

Per-subscriber metrics (radius_of_gyration … total_active_periods), the aggregates over them
(joined_spatial_aggregate, histogram_aggregate) and the calendar kinds. The geography (cells
cA1 (5, 10), cA1s (5, 5), cMoved (5, 15) on 2016-01-01…02, cB1 (25, 10), …) is described in
conftest.py. Every expected value was worked out by hand; the comment next to it says how.

Distances: cells on the meridian lon 5 make great-circle distances exact by hand, since on a
sphere the haversine distance between two points of one meridian is R × Δlatitude (radians).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from tests.conftest import BACKENDS, build_tiny_db

from flowkit.api.results import as_json, redacted_rows
from flowkit.machine.catalogue import SpecError, parse_spec, required_scopes

D1, D2, D3, D4 = "2016-01-01", "2016-01-02", "2016-01-03", "2016-01-04"
# One degree along a meridian of the sphere of radius 6371.0088 km (the mean Earth radius).
DEGREE_KM = 6371.0088 * math.pi / 180


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-worked case here runs on DuckDB and on PostgreSQL."""
    return request.param


# -- spec builders ----------------------------------------------------------------------------


def metric(kind, start=D1, end=D3, **extra):
    return {"query_kind": kind, "start_date": start, "end_date": end, **extra}


def daily(date=D1, unit="admin3", method="last"):
    return {"query_kind": "daily_location", "date": date, "aggregation_unit": unit, "method": method}


def jsa(metric_spec, method, locations=None):
    return {
        "query_kind": "joined_spatial_aggregate",
        "locations": locations or daily(),
        "metric": metric_spec,
        "method": method,
    }


def histogram(metric_spec, bins, **extra):
    return {"query_kind": "histogram_aggregate", "metric": metric_spec, "bins": bins, **extra}


def calendar(start=D1, total=3, **extra):
    return {"query_kind": "calendar_activity", "start_date": start, "total_periods": total, **extra}


def localised(reference, start=D1, total=3, **extra):
    return {
        "query_kind": "localised_calendar_activity",
        "start_date": start,
        "total_periods": total,
        "reference_location": reference,
        **extra,
    }


# -- result readers ---------------------------------------------------------------------------


def _plain(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_plain(v) for v in value)
    if value is None or pd.isna(value):
        return None
    if isinstance(value, datetime):  # pandas Timestamps too
        return value.strftime("%Y-%m-%d %H:%M")
    return value.item() if hasattr(value, "item") else value


def per_subscriber(frame: pd.DataFrame) -> dict:
    assert list(frame.columns) == ["subscriber", "value"]
    assert frame["subscriber"].is_unique
    return {row.subscriber: _plain(row.value) for row in frame.itertuples()}


def keyed(frame: pd.DataFrame, *keys: str, value: str = "value") -> dict:
    """(key columns) -> value; a single key column unwrapped."""
    result = {}
    for _, row in frame.iterrows():
        key = tuple(_plain(row[k]) for k in keys)
        assert key not in result, f"duplicate row for {key}"
        result[key[0] if len(key) == 1 else key] = _plain(row[value])
    return result


def approx(expected: dict) -> dict:
    return {k: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for k, v in expected.items()}


def shared_db(**data):
    """A FlowDB built once for the module: parametrized tests read it, none writes events to it."""

    @pytest.fixture(scope="module")
    def fixture():
        machine = build_tiny_db(**data)
        yield machine
        machine.close()
        machine.db.close()

    return fixture


def _error(spec) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    return caught.value.msg


# -- radius_of_gyration -----------------------------------------------------------------------

GYRATION_CALLS = [
    # s1: (5, 10) and (5, 5): centroid (5, 7.5), both 2.5° away
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s1", "2016-01-01 11:00", "cA1s"),
    # s2: (5, 10) twice and (5, 5): repeats count; latitudes 10, 10, 5 about 25/3
    ("s2", "2016-01-01 10:00", "cA1"),
    ("s2", "2016-01-02 10:00", "cA1"),
    ("s2", "2016-01-02 11:00", "cA1s"),
    # s3: one place only
    ("s3", "2016-01-01 10:00", "cB1"),
    ("s3", "2016-01-02 10:00", "cB1"),
    # s4: the 2016-01-03 00:00 event is outside [2016-01-01, 2016-01-03)
    ("s4", "2016-01-02 12:00", "cA1s"),
    ("s4", "2016-01-03 00:00", "cA1"),
    # s5: a cell nobody knows: no located event
    ("s5", "2016-01-01 10:00", "cNowhere"),
    # s6: 09:00 at (5, 10) and 21:00 at (5, 15) (cMoved's first version, in service on day 1)
    ("s6", "2016-01-01 09:00", "cA1"),
    ("s6", "2016-01-01 21:00", "cMoved"),
]


def test_radius_of_gyration(tiny_db):
    m = tiny_db(calls=GYRATION_CALLS)
    assert per_subscriber(m.compute(metric("radius_of_gyration"))) == approx(
        {
            "s1": 2.5 * DEGREE_KM,  # two points 2.5° from their centroid
            # deviations 5/3, 5/3, 10/3 degrees: mean square (25 + 25 + 100) / 27 = 50/9
            "s2": math.sqrt(50 / 9) * DEGREE_KM,
            "s3": 0.0,  # every event at the centroid
            "s4": 0.0,  # one event left in the window
            # s5 absent: nothing located
            "s6": 2.5 * DEGREE_KM,  # latitudes 10 and 15
        }
    )
    # with the end moved a day on, s4's (5, 10) event joins its (5, 5) one
    assert per_subscriber(m.compute(metric("radius_of_gyration", end=D4)))["s4"] == pytest.approx(2.5 * DEGREE_KM)
    # 08:00-12:00: s1, s2, s3 keep every event; s4's 12:00 is at the excluded end; s6 keeps 09:00 only
    morning = per_subscriber(m.compute(metric("radius_of_gyration", hours={"start_hour": 8, "end_hour": 12})))
    assert morning == approx({"s1": 2.5 * DEGREE_KM, "s2": math.sqrt(50 / 9) * DEGREE_KM, "s3": 0.0, "s6": 0.0})


def test_metric_sampling_keeps_whole_subscribers(tiny_db):
    m = tiny_db(calls=GYRATION_CALLS)
    everyone = per_subscriber(m.compute(metric("radius_of_gyration")))
    sample = per_subscriber(
        m.compute(metric("radius_of_gyration", sampling={"sampling_method": "random_ids", "seed": 0.5, "size": 2}))
    )
    assert len(sample) == 2  # two of the five subscribers, each with their full-population value
    assert all(everyone[s] == value for s, value in sample.items())


def test_subscriber_subset_restricts_every_metric(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 10:00", "cA1", True, _with("s2")),
            ("s1", "2016-01-01 11:00", "cA1s", True, _with("s3")),
            ("s2", "2016-01-01 10:00", "cB1", True, _with("s1")),
            ("s2", "2016-01-01 22:00", "cB1", True, _with("s3")),
        ],
        sms=[("s2", "2016-01-01 12:00", "cB1")],
        topups=[_topup("s1", "2016-01-01 10:00", 5), _topup("s2", "2016-01-01 10:00", 7)],
    )
    # the subset: subscribers with an sms that day, i.e. s2 alone
    subset = m.as_spec(metric("event_count", end=D2, event_types=["sms"]))
    m.compute(subset)
    only = {"subscriber_subset": subset.query_id}
    night = {"start_hour": 20, "end_hour": 4}
    assert per_subscriber(m.compute(metric("event_count", end=D2, **only))) == {"s2": 3}  # 2 calls, 1 sms
    assert per_subscriber(m.compute(metric("radius_of_gyration", end=D2, **only))) == {"s2": 0.0}
    assert per_subscriber(m.compute(metric("subscriber_degree", end=D2, **only))) == {"s2": 2}  # s1, s3
    assert per_subscriber(m.compute(metric("topup_amount", end=D2, statistic="sum", **only))) == {"s2": 7.0}
    assert per_subscriber(m.compute(metric("nocturnal_events", end=D2, night_hours=night, **only))) == approx(
        {"s2": 100 / 3}  # the 22:00 call of its 3 events
    )
    assert per_subscriber(m.compute(metric("unique_location_counts", end=D2, aggregation_unit="admin3", **only))) == {
        "s2": 1
    }
    assert per_subscriber(m.compute(periods(total=1, **only))) == {"s2": 1}
    assert keyed(m.compute(calendar(total=1, **only)), "grp") == {("2016-01-01 00:00",): 1}


# -- unique_location_counts -------------------------------------------------------------------

PLACES_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s1", "2016-01-01 11:00", "cA1s"),  # also in A1, but another lon-lat
    ("s1", "2016-01-02 10:00", "cA2"),
    ("s1", "2016-01-03 00:00", "cB1"),  # end exclusive: not counted
    ("s2", "2016-01-01 10:00", "cOut"),  # in no admin unit, but has a lon-lat
    ("s3", "2016-01-01 10:00", "cEdge"),  # on the A1|A2 border: no admin3 unit, inside A
    ("s3", "2016-01-01 11:00", "cA1"),
]


def test_unique_location_counts(tiny_db):
    m = tiny_db(calls=PLACES_CALLS)
    count = "unique_location_counts"
    assert per_subscriber(m.compute(metric(count, aggregation_unit="admin3"))) == {"s1": 2, "s3": 1}
    assert per_subscriber(m.compute(metric(count, aggregation_unit="admin1"))) == {"s1": 1, "s3": 1}
    assert per_subscriber(m.compute(metric(count, aggregation_unit="lon-lat"))) == {"s1": 3, "s2": 1, "s3": 2}


# -- event_count ------------------------------------------------------------------------------

EVENT_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1", True),
    ("s1", "2016-01-01 11:00", "cA1", False),
    ("s1", "2016-01-02 09:00", "cB1", True),
    ("s2", "2016-01-01 10:00", "cA1", False),
    ("s3", "2015-12-31 23:59", "cA1", True),  # before the window
    ("s3", "2016-01-03 00:00", "cA1", True),  # end exclusive
]
EVENT_SMS = [("s1", "2016-01-01 12:00", "cA1", True)]
EVENT_MDS = [("s2", "2016-01-01 10:00", "cA1")]


events_db = shared_db(calls=EVENT_CALLS, sms=EVENT_SMS, mds=EVENT_MDS)


def test_event_count(events_db):
    count = "event_count"
    # calls + sms: s1 three calls and an sms, s2 one call (its mds session is not a default table)
    assert per_subscriber(events_db.compute(metric(count))) == {"s1": 4, "s2": 1}
    assert per_subscriber(events_db.compute(metric(count, direction="out"))) == {"s1": 3}  # 2 calls + the sms
    assert per_subscriber(events_db.compute(metric(count, direction="in"))) == {"s1": 1, "s2": 1}
    assert per_subscriber(events_db.compute(metric(count, event_types=["calls"]))) == {"s1": 3, "s2": 1}
    assert per_subscriber(events_db.compute(metric(count, event_types=["mds"]))) == {"s2": 1}
    # hours 10-12: s1's 10:00 and 11:00 calls (09:00 before, the 12:00 sms at the excluded end)
    assert per_subscriber(events_db.compute(metric(count, hours={"start_hour": 10, "end_hour": 12}))) == {
        "s1": 2,
        "s2": 1,
    }


def test_event_count_direction_needs_outgoing(events_db):
    assert "outgoing" in events_db.failure(metric("event_count", direction="out", event_types=["mds"]))


# -- subscriber_degree ------------------------------------------------------------------------


def _with(counterpart, **more):
    return {"msisdn_counterpart": counterpart, **more}


DEGREE_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1", True, _with("s2")),
    ("s1", "2016-01-01 11:00", "cA1", True, _with("s2")),  # s2 again: one counterpart
    ("s1", "2016-01-01 12:00", "cA1", False, _with("s3")),
    ("s1", "2016-01-01 13:00", "cA1", True, _with("s1")),  # a call to oneself does not count
    ("s2", "2016-01-01 10:00", "cA1", False, _with("s1")),
    ("s2", "2016-01-01 11:00", "cA1", False, _with("s1")),
    ("s6", "2016-01-01 10:00", "cA1", True, _with("s6")),  # only calls to oneself: absent
    ("s7", "2016-01-01 10:00", "cA1", True),  # no counterpart recorded: absent
]
DEGREE_SMS = [
    ("s1", "2016-01-02 10:00", "cA1", False, _with("s4")),
    ("s2", "2016-01-03 10:00", "cA1", True, _with("s5")),  # outside the window
]


def test_subscriber_degree(tiny_db):
    m = tiny_db(calls=DEGREE_CALLS, sms=DEGREE_SMS)
    degree = "subscriber_degree"
    assert per_subscriber(m.compute(metric(degree))) == {"s1": 3, "s2": 1}  # s1: s2, s3, s4
    assert per_subscriber(m.compute(metric(degree, direction="out"))) == {"s1": 1}  # s2 (and itself)
    assert per_subscriber(m.compute(metric(degree, direction="in"))) == {"s1": 2, "s2": 1}  # s3, s4; s1
    assert per_subscriber(m.compute(metric(degree, event_types=["sms"]))) == {"s1": 1}
    assert "msisdn_counterpart" in m.failure(metric(degree, event_types=["mds"]))


# -- topup_amount -----------------------------------------------------------------------------


def _topup(subscriber, when, amount=0.0, pre=0.0, post=0.0):
    values = {"recharge_amount": amount, "pre_event_balance": pre, "post_event_balance": post}
    return (subscriber, when, "cA1", values)


AMOUNT_TOPUPS = [
    _topup("s1", "2016-01-01 10:00", 5),
    _topup("s1", "2016-01-01 12:00", 3),
    _topup("s1", "2016-01-02 08:00", 10),
    _topup("s1", "2016-01-02 09:00", 3),
    _topup("s2", "2016-01-01 10:00", 7),
    _topup("s2", "2016-01-03 00:00", 100),  # end exclusive
    _topup("s3", "2016-01-01 10:00", 4),
    _topup("s3", "2016-01-01 11:00", 2),
]
amount_db = shared_db(topups=AMOUNT_TOPUPS, calls=[("s9", "2016-01-01 10:00", "cA1")])  # calls are not top-ups


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [
        # s1's amounts 5, 3, 10, 3; s2's 7; s3's 4, 2
        ("count", {"s1": 4, "s2": 1, "s3": 2}),
        ("sum", {"s1": 21.0, "s2": 7.0, "s3": 6.0}),
        ("avg", {"s1": 5.25, "s2": 7.0, "s3": 3.0}),
        ("max", {"s1": 10.0, "s2": 7.0, "s3": 4.0}),
        ("min", {"s1": 3.0, "s2": 7.0, "s3": 2.0}),
        ("median", {"s1": 4.0, "s2": 7.0, "s3": 3.0}),  # interpolated: (3 + 5) / 2 for s1
        # sample variance: s1 squares about 5.25 sum to 0.0625 + 5.0625 + 5.0625 + 22.5625 = 32.75, over 3;
        # s2 has a single amount: no sample variance; s3: (1 + 1) / 1
        ("variance", {"s1": 32.75 / 3, "s2": None, "s3": 2.0}),
        ("stddev", {"s1": math.sqrt(32.75 / 3), "s2": None, "s3": math.sqrt(2)}),
        ("mode", {"s1": 3.0, "s2": 7.0, "s3": 2.0}),  # s3: 4 and 2 once each: the smaller
    ],
)
def test_topup_amount(amount_db, statistic, expected):
    assert per_subscriber(amount_db.compute(metric("topup_amount", statistic=statistic))) == approx(expected)


def test_topup_amount_hours(amount_db):
    # 08:00-11:00: s1's 10:00, 08:00 and 09:00 (5 + 10 + 3); s2's 10:00; s3's 10:00 (11:00 excluded)
    spec = metric("topup_amount", statistic="sum", hours={"start_hour": 8, "end_hour": 11})
    assert per_subscriber(amount_db.compute(spec)) == {"s1": 18.0, "s2": 7.0, "s3": 4.0}


# -- topup_balance ----------------------------------------------------------------------------

BALANCE_TOPUPS = [
    # s1 over [2016-01-01, 2016-01-03), 48 h; segments (balance held, hours held):
    #   before 06:00          pre of the first top-up          10   6 h
    #   06:00 -> 18:00        (pre 4 + previous post 20) / 2   12  12 h
    #   18:00 -> day 2 12:00  (pre 14 + previous post 24) / 2  19  18 h
    #   day 2 12:00 -> end    post of the last top-up          30  12 h
    _topup("s1", "2016-01-01 06:00", pre=10, post=20),
    _topup("s1", "2016-01-01 18:00", pre=4, post=24),
    _topup("s1", "2016-01-02 12:00", pre=14, post=30),
    _topup("s1", "2016-01-03 00:00", pre=99, post=99),  # end exclusive
    # s2: two top-ups at the same instant, taken in order of their balances (0 -> 10, then 10 -> 15):
    #   before 12:00 0 for 12 h; between them (10 + 10) / 2 for 0 s; after 15 for 36 h
    _topup("s2", "2016-01-01 12:00", pre=10, post=15),
    _topup("s2", "2016-01-01 12:00", pre=0, post=10),
]
balance_db = shared_db(topups=BALANCE_TOPUPS)
HOUR = 3600
S1_SUM = (10 * 6 + 12 * 12 + 19 * 18 + 30 * 12) * HOUR  # 906 balance-hours
S1_SQUARES = (100 * 6 + 144 * 12 + 361 * 18 + 900 * 12) * HOUR  # 19626 balance²-hours
S1_WEIGHT = 48 * HOUR
# FlowKit's weighted variance: (Σwb² − (Σwb)² / Σw) / (Σw − 1), weights in seconds
S1_VARIANCE = (S1_SQUARES - S1_SUM**2 / S1_WEIGHT) / (S1_WEIGHT - 1)


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [
        ("count", {"s1": 3, "s2": 2}),
        ("sum", {"s1": S1_SUM, "s2": 15.0 * 36 * HOUR}),
        ("avg", {"s1": 906 / 48, "s2": 15 * 36 / 48}),  # s2: (0·12 + 10·0 + 15·36) / 48 = 11.25
        ("max", {"s1": 30.0, "s2": 15.0}),  # over every pre and post balance
        ("min", {"s1": 4.0, "s2": 0.0}),
        (
            "variance",
            {"s1": S1_VARIANCE, "s2": (15**2 * 36 * HOUR - (15 * 36 * HOUR) ** 2 / (48 * HOUR)) / (48 * HOUR - 1)},
        ),
        ("stddev", {"s1": math.sqrt(S1_VARIANCE), "s2": math.sqrt((8100 * HOUR - 6075 * HOUR) / (48 * HOUR - 1))}),
        # weighted median: balances in order 10 (6 h), 12 (12 h), 19 (18 h), 30 (12 h); half of 48 h is
        # first reached at 19 (6 + 12 + 18 = 36); s2: 0 (12 h), 10 (0 h), 15 (36 h) reaches 24 h at 15
        ("median", {"s1": 19.0, "s2": 15.0}),
        # the balance held longest: 19 for 18 h; s2: 15 for 36 h
        ("mode", {"s1": 19.0, "s2": 15.0}),
    ],
)
def test_topup_balance(balance_db, statistic, expected):
    assert per_subscriber(balance_db.compute(metric("topup_balance", statistic=statistic))) == approx(expected)


def test_topup_balance_hours_select_top_ups_not_time(balance_db):
    # hours 0-12 keep s1's 06:00 top-up only: 10 for 6 h, then its post 20 for the remaining 42 h;
    # s2's 12:00 top-ups are at the excluded end hour
    spec = metric("topup_balance", statistic="avg", hours={"start_hour": 0, "end_hour": 12})
    assert per_subscriber(balance_db.compute(spec)) == approx({"s1": (10 * 6 + 20 * 42) / 48})


# -- handset ----------------------------------------------------------------------------------

TACS = [
    {"id": 1001, "brand": "Nokia", "model": "N1", "hnd_type": "Feature"},
    {"id": 1002, "brand": "Apple", "model": "A1", "hnd_type": "Smart"},
    {"id": 1003, "brand": "Samsung", "model": "S1", "hnd_type": "Smart"},
]
HANDSET_CALLS = [
    # s1: Nokia twice, then an Apple last
    ("s1", "2016-01-01 08:00", "cA1", True, {"tac": 1001}),
    ("s1", "2016-01-01 09:00", "cA1", True, {"tac": 1001}),
    ("s1", "2016-01-01 20:00", "cA1", True, {"tac": 1002}),
    ("s1", "2016-01-03 00:00", "cA1", True, {"tac": 1003}),  # end exclusive
    # s2: an Apple and a Samsung at the same instant
    ("s2", "2016-01-01 10:00", "cA1", True, {"tac": 1003}),
    ("s2", "2016-01-01 10:00", "cA1", True, {"tac": 1002}),
    # s3: a TAC missing from infrastructure.tacs
    ("s3", "2016-01-01 10:00", "cA1", True, {"tac": 9999}),
    # s4: no TAC on any event: absent
    ("s4", "2016-01-01 10:00", "cA1"),
    # s5: the later event carries no TAC, so the Samsung one is the latest with a handset
    ("s5", "2016-01-01 09:00", "cA1", True, {"tac": 1003}),
    ("s5", "2016-01-01 10:00", "cA1"),
]
HANDSET_SMS = [("s6", "2016-01-02 10:00", "cA1", True, {"tac": 1001})]  # sms are a default table
handset_db = shared_db(calls=HANDSET_CALLS, sms=HANDSET_SMS, tacs=TACS)


@pytest.mark.parametrize(
    ("characteristic", "method", "expected"),
    [
        # s2's tie at 10:00 goes to the smaller TAC, 1002 (Apple)
        ("brand", "last", {"s1": "Apple", "s2": "Apple", "s3": None, "s5": "Samsung", "s6": "Nokia"}),
        ("hnd_type", "last", {"s1": "Smart", "s2": "Smart", "s3": None, "s5": "Smart", "s6": "Feature"}),
        # most events: s1 Nokia 2 - Apple 1; s2 Apple 1 - Samsung 1 ties to the smaller value
        ("brand", "most-common", {"s1": "Nokia", "s2": "Apple", "s3": None, "s5": "Samsung", "s6": "Nokia"}),
        # counted by characteristic, not by handset: s2's two handsets are both Smart
        ("hnd_type", "most-common", {"s1": "Feature", "s2": "Smart", "s3": None, "s5": "Smart", "s6": "Feature"}),
        ("model", "most-common", {"s1": "N1", "s2": "A1", "s3": None, "s5": "S1", "s6": "N1"}),
    ],
)
def test_handset(handset_db, characteristic, method, expected):
    spec = metric("handset", characteristic=characteristic, method=method)
    assert per_subscriber(handset_db.compute(spec)) == expected


# -- pareto_interactions ----------------------------------------------------------------------


def _contacts(subscriber, *counts):
    """Calls from `subscriber`, `n` with each counterpart, one minute apart."""
    rows, minute = [], 0
    for counterpart, n in counts:
        for _ in range(n):
            rows.append((subscriber, f"2016-01-01 10:{minute:02}", "cA1", True, _with(counterpart)))
            minute += 1
    return rows


PARETO_CALLS = [
    # s1: 10 events; 80 % is exactly 8, reached by a (5) + b (3): 2 of 4 counterparts
    *_contacts("s1", ("a", 5), ("b", 3), ("c", 1), ("d", 1)),
    # s3: calls to oneself count here: 3 with itself, 1 with z
    *_contacts("s3", ("s3", 3), ("z", 1)),
    # s4: events without a counterpart are not interactions
    *_contacts("s4", ("w", 1)),
    # s5: 25 events, 80 % is 20, which a alone reaches: 1 of 2
    *_contacts("s5", ("a", 20), ("b", 5)),
    ("s4", "2016-01-01 11:00", "cA1"),
    ("s1", "2016-01-03 10:00", "cA1", True, _with("e")),  # end exclusive
]


def test_pareto_interactions(tiny_db):
    m = tiny_db(calls=PARETO_CALLS)
    assert per_subscriber(m.compute(metric("pareto_interactions", proportion=0.8))) == {
        "s1": 0.5,  # ceil(0.8 × 10) = 8, exactly: a float sum 8.000000000000002 would need c too
        "s3": 1.0,  # ceil(0.8 × 4) = 4 needs itself (3) and z (1): 2 of 2
        "s4": 1.0,  # w's single event is all there is
        "s5": 0.5,
    }
    # half of s1's 10 events: a alone (5 ≥ 5): 1 of 4; s3: itself alone (3 ≥ 2): 1 of {itself, z}
    # (without its calls to itself s3 would score 1 of 1)
    assert per_subscriber(m.compute(metric("pareto_interactions", proportion=0.5))) == {
        "s1": 0.25,
        "s3": 0.5,
        "s4": 1.0,
        "s5": 0.5,  # ceil(12.5) = 13: a alone
    }


@pytest.mark.parametrize("proportion", [0, 1, 1.5, -0.1])
def test_pareto_proportion_strictly_between_0_and_1(proportion):
    spec = jsa(metric("pareto_interactions", proportion=proportion), "avg")
    assert "proportion" in _error(spec)


# -- nocturnal_events -------------------------------------------------------------------------

NIGHT_CALLS = [
    ("s1", "2016-01-01 21:00", "cA1"),
    ("s1", "2016-01-01 03:00", "cA1"),
    ("s1", "2016-01-01 12:00", "cA1"),
    ("s1", "2016-01-01 19:59", "cA1"),
    ("s2", "2016-01-01 04:00", "cA1"),  # the end hour is not night
    ("s2", "2016-01-01 20:00", "cA1"),  # the start hour is
    ("s3", "2016-01-01 12:00", "cA1"),
    ("s4", "2016-01-01 23:00", "cA1"),
    ("s4", "2016-01-03 01:00", "cA1"),  # end exclusive
]


def test_nocturnal_events(tiny_db):
    m = tiny_db(calls=NIGHT_CALLS, mds=[("s3", "2016-01-01 22:00", "cA1")])

    def night(start, end, **extra):
        spec = metric("nocturnal_events", night_hours={"start_hour": start, "end_hour": end}, **extra)
        return per_subscriber(m.compute(spec))

    # 20 -> 4 wraps midnight: s1 21:00 and 03:00 of 4 events; s2 20:00 of 2; s4 23:00 of 1
    assert night(20, 4) == {"s1": 50.0, "s2": 50.0, "s3": 0.0, "s4": 100.0}
    # 0 -> 6 does not wrap: s1's 03:00 and s2's 04:00 (FlowKit's OR would call every event nocturnal)
    assert night(0, 6) == {"s1": 25.0, "s2": 50.0, "s3": 0.0, "s4": 0.0}
    assert night(5, 5) == {"s1": 0.0, "s2": 0.0, "s3": 0.0, "s4": 0.0}  # an empty night
    # s3's 22:00 data session is one of its two events when mds is named too
    assert night(20, 4, event_types=["calls", "mds"])["s3"] == 50.0


def test_nocturnal_events_takes_night_hours_not_hours():
    spec = metric(
        "nocturnal_events", night_hours={"start_hour": 20, "end_hour": 4}, hours={"start_hour": 1, "end_hour": 2}
    )
    assert "hours" in _error(jsa(spec, "avg"))
    assert "night_hours" in _error(jsa(metric("nocturnal_events"), "avg"))


# -- displacement -----------------------------------------------------------------------------

DISPLACEMENT_CALLS = [
    # s1's last location on day 1 is (5, 10); its events lie 5°, 0, 5° and 0 away
    ("s1", "2016-01-01 08:00", "cA1s"),  # (5, 5)
    ("s1", "2016-01-01 20:00", "cA1"),  # (5, 10)
    ("s1", "2016-01-02 10:00", "cMoved"),  # (5, 15), the first version in service on day 2
    ("s1", "2016-01-02 12:00", "cA1"),
    ("s1", "2016-01-03 00:00", "cB2"),  # end exclusive
    # s2 has no reference location (no event on day 1): absent
    ("s2", "2016-01-02 10:00", "cA1"),
    # s3 never moves from cB1
    ("s3", "2016-01-01 10:00", "cB1"),
]
displacement_db = shared_db(calls=DISPLACEMENT_CALLS)
FIVE_DEGREES = 5 * DEGREE_KM


@pytest.mark.parametrize(
    ("statistic", "s1"),
    [
        ("max", FIVE_DEGREES),
        ("min", 0.0),
        ("sum", 2 * FIVE_DEGREES),
        ("avg", FIVE_DEGREES / 2),
        ("median", FIVE_DEGREES / 2),  # between 0, 0 and 5°, 5°
        ("count", 4),
        ("mode", 0.0),  # 0 and 5° twice each: the smaller
        # deviations ±2.5° about the mean: sample variance 4 × 6.25 / 3 (degrees²)
        ("variance", 25 / 3 * DEGREE_KM**2),
        ("stddev", 5 / math.sqrt(3) * DEGREE_KM),
    ],
)
def test_displacement(displacement_db, statistic, s1):
    spec = metric("displacement", statistic=statistic, reference_location=daily(D1, "lon-lat"))
    result = per_subscriber(displacement_db.compute(spec))
    assert set(result) == {"s1", "s3"}
    assert result["s1"] == pytest.approx(s1, rel=1e-9)
    assert result["s3"] == (1 if statistic == "count" else None if statistic in ("variance", "stddev") else 0.0)


def test_displacement_needs_a_lon_lat_reference():
    spec = metric("displacement", statistic="max", reference_location=daily(D1, "admin3"))
    assert "reference_location" in _error(jsa(spec, "avg"))


# -- total_active_periods ---------------------------------------------------------------------

ACTIVE_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s1", "2016-01-01 11:00", "cA1"),
    ("s1", "2016-01-03 05:00", "cA1"),
    ("s2", "2015-12-31 23:00", "cA1"),  # before the first period
    ("s2", "2016-01-04 00:00", "cA1"),  # three days from 2016-01-01 end here (exclusive)
    ("s3", "2016-01-03 23:59", "cA1"),
]


def periods(kind="total_active_periods", start=D1, total=3, **extra):
    return {"query_kind": kind, "start_date": start, "total_periods": total, **extra}


def test_total_active_periods(tiny_db):
    m = tiny_db(calls=ACTIVE_CALLS)
    # days 1, 2, 3: s1 active on days 1 and 3; s3 on day 3
    assert per_subscriber(m.compute(periods())) == {"s1": 2, "s3": 1}
    # two 2-day periods [01, 03) and [03, 05): s1 both; s2's 2016-01-04 in the second; s3 the second
    assert per_subscriber(m.compute(periods(total=2, period_length=2))) == {"s1": 2, "s2": 1, "s3": 1}
    # four 6-hour periods of day 1: s1's 10:00 and 11:00 share [06:00, 12:00)
    assert per_subscriber(m.compute(periods(total=4, period_length=6, period_unit="hours"))) == {"s1": 1}
    # 90-minute periods from 2016-01-01 09:30: [09:30, 11:00) holds 10:00, [11:00, 12:30) 11:00
    spec = periods(start="2016-01-01T09:30:00", total=2, period_length=90, period_unit="minutes")
    assert per_subscriber(m.compute(spec)) == {"s1": 2}
    # hours filter inside every period: 10-11 keeps only s1's 10:00
    assert per_subscriber(m.compute(periods(hours={"start_hour": 10, "end_hour": 11}))) == {"s1": 1}


# -- joined_spatial_aggregate -----------------------------------------------------------------

JOINED_CALLS = [
    # day 1 places (last location): s1, s2, s3 at A1; s4 at B1; s5 nowhere at admin3
    ("s1", "2016-01-01 10:00", "cA1", True, {"tac": 1001}),
    ("s2", "2016-01-01 10:00", "cA1", True, {"tac": 1001}),
    ("s3", "2016-01-01 10:00", "cA1s", True, {"tac": 1002}),
    ("s4", "2016-01-01 10:00", "cB1", True, {"tac": 1002}),
    ("s5", "2016-01-01 10:00", "cOut", True, {"tac": 1001}),
    # day 2 events: s1 1, s2 3, s5 1 (s3 and s4 have none)
    ("s1", "2016-01-02 10:00", "cA1"),
    ("s2", "2016-01-02 10:00", "cB1"),
    ("s2", "2016-01-02 11:00", "cB1"),
    ("s2", "2016-01-02 12:00", "cB1"),
    ("s5", "2016-01-02 10:00", "cB1"),
]
joined_db = shared_db(calls=JOINED_CALLS, tacs=TACS)
DAY_TWO_EVENTS = metric("event_count", start=D2, end=D3)
TWO_DAYS_EVENTS = metric("event_count")  # s1 2, s2 4, s3 1, s4 1, s5 2


@pytest.mark.parametrize(
    ("method", "a1", "b1"),
    [
        # A1's subscribers s1, s2, s3 count 2, 4 and 1 events; B1's s4 1 (s5 is not at admin3)
        ("avg", 7 / 3, 1.0),
        ("sum", 7, 1),
        ("count", 3, 1),
        ("max", 4, 1),
        ("min", 1, 1),
        ("median", 2.0, 1.0),
        ("mode", 1, 1),  # 2, 4, 1 once each: the smallest
        # about the mean 7/3: (1/9 + 25/9 + 16/9) / 2 = 7/3; one value has no sample variance
        ("variance", 7 / 3, None),
        ("stddev", math.sqrt(7 / 3), None),
    ],
)
def test_joined_spatial_aggregate_statistics(joined_db, method, a1, b1):
    result = joined_db.compute(jsa(TWO_DAYS_EVENTS, method))
    assert list(result.columns) == ["pcod", "value", "subscribers"]
    assert keyed(result, "pcod") == approx({"A1": a1, "B1": b1})


def test_joined_spatial_aggregate_counts_located_subscribers_before_the_join(joined_db):
    result = joined_db.compute(jsa(DAY_TWO_EVENTS, "avg"))
    # only s1 (1) and s2 (3) of A1 have events on day 2; B1's s4 has none, so B1 has no row
    assert keyed(result, "pcod") == {"A1": 2.0}
    # but A1's redaction count is its 3 located subscribers
    assert keyed(result, "pcod", value="subscribers") == {"A1": 3}


def test_joined_spatial_aggregate_lon_lat(joined_db):
    result = joined_db.compute(jsa(TWO_DAYS_EVENTS, "max", daily(D1, "lon-lat")))
    # s1, s2 at (5, 10) with 2 and 4; s3 at (5, 5); s4 at (25, 10); s5 at (50, 10) with 2
    assert keyed(result, "lon", "lat") == {(5.0, 10.0): 4, (5.0, 5.0): 1, (25.0, 10.0): 1, (50.0, 10.0): 2}


def test_joined_spatial_aggregate_of_handset(joined_db):
    m = joined_db
    brands = metric("handset", characteristic="brand", method="last")
    shares = m.compute(jsa(brands, "distr"))
    assert list(shares.columns) == ["pcod", "metric", "key", "value", "subscribers"]
    assert set(shares["metric"]) == {"value"}  # the metric column's name, as FlowKit
    # A1: s1, s2 Nokia, s3 Apple; B1: s4 Apple
    assert keyed(shares, "pcod", "key") == approx(
        {("A1", "Nokia"): 2 / 3, ("A1", "Apple"): 1 / 3, ("B1", "Apple"): 1.0}
    )
    assert keyed(m.compute(jsa(brands, "mode")), "pcod") == {"A1": "Nokia", "B1": "Apple"}


@pytest.mark.parametrize(
    ("metric_spec", "method"),
    [
        (TWO_DAYS_EVENTS, "distr"),  # numeric metrics take a statistic
        (metric("handset", characteristic="brand", method="last"), "avg"),  # handset: distr or mode
        (TWO_DAYS_EVENTS, "mean"),
    ],
)
def test_joined_spatial_aggregate_method_must_fit_the_metric(metric_spec, method):
    assert "method" in _error(jsa(metric_spec, method))


def test_every_metric_joins_and_all_but_handset_bin():
    joinable = [
        metric("radius_of_gyration"),
        metric("unique_location_counts", aggregation_unit="admin1"),
        metric("topup_balance", statistic="avg"),
        metric("subscriber_degree"),
        metric("topup_amount", statistic="sum"),
        metric("event_count"),
        metric("pareto_interactions", proportion=0.8),
        metric("nocturnal_events", night_hours={"start_hour": 20, "end_hour": 4}),
        metric("displacement", statistic="avg", reference_location=daily(D1, "lon-lat")),
        periods(),
    ]
    for spec in joinable:
        assert parse_spec(jsa(spec, "avg")).metric.query_kind == spec["query_kind"]
        assert parse_spec(histogram(spec, {"n_bins": 3})).metric.query_kind == spec["query_kind"]
    handset = metric("handset", characteristic="brand", method="last")
    assert parse_spec(jsa(handset, "distr")).metric.query_kind == "handset"
    assert "metric" in _error(histogram(handset, {"n_bins": 3}))
    assert "metric" in _error(jsa(daily(), "avg"))  # a reference location is no metric
    with pytest.raises(SpecError):
        parse_spec(metric("event_count"))  # metrics only appear nested


def test_joined_spatial_aggregate_unit_and_scopes():
    spec = parse_spec(jsa(metric("unique_location_counts", aggregation_unit="admin1"), "avg"))
    assert spec.location_columns == ("pcod",) and spec.unit == "admin3"  # the locations' unit, not the metric's
    assert required_scopes(spec) == [
        "admin3:joined_spatial_aggregate:daily_location",
        "admin3:joined_spatial_aggregate:joined_spatial_aggregate",
        "admin3:joined_spatial_aggregate:unique_location_counts",
    ]


# -- histogram_aggregate ----------------------------------------------------------------------

# events on 2016-01-01: s1 1, s2 2, s3 2, s4 3, s5 5
HISTOGRAM_CALLS = [
    (who, f"2016-01-01 {10 + n:02}:00", "cA1")
    for who, count in (("s1", 1), ("s2", 2), ("s3", 2), ("s4", 3), ("s5", 5))
    for n in range(count)
]
histogram_db = shared_db(calls=HISTOGRAM_CALLS)
DAY_ONE_EVENTS = metric("event_count", start=D1, end=D2)


def bins_of(frame: pd.DataFrame) -> list[tuple]:
    assert list(frame.columns) == ["value", "lower_edge", "upper_edge"]
    return [(_plain(r.value), _plain(r.lower_edge), _plain(r.upper_edge)) for r in frame.itertuples()]


def test_histogram_n_bins(histogram_db):
    m = histogram_db
    # the values span 1..5: two bins of width 2, the last closed: [1, 3) holds 1, 2, 2; [3, 5] 3 and 5
    assert bins_of(m.compute(histogram(DAY_ONE_EVENTS, {"n_bins": 2}))) == [(3, 1.0, 3.0), (2, 3.0, 5.0)]
    assert bins_of(m.compute(histogram(DAY_ONE_EVENTS, {"n_bins": 4}))) == [
        (1, 1.0, 2.0),
        (2, 2.0, 3.0),
        (1, 3.0, 4.0),
        (1, 4.0, 5.0),  # 5 is the closed top edge
    ]


def test_histogram_range(histogram_db):
    m = histogram_db
    # [0, 2) holds 1; [2, 4] holds 2, 2, 3; 5 lies outside the range and is not counted
    expected = [(1, 0.0, 2.0), (3, 2.0, 4.0)]
    as_list = histogram(DAY_ONE_EVENTS, {"n_bins": 2}, range=[0, 4])  # flowclient's form
    as_object = histogram(DAY_ONE_EVENTS, {"n_bins": 2}, range={"lower_bound": 0, "upper_bound": 4})  # FlowKit's
    assert bins_of(m.compute(as_list)) == expected
    assert parse_spec(as_list).query_id == parse_spec(as_object).query_id


def test_histogram_bin_list(histogram_db):
    m = histogram_db
    # every bin half-open, the top one too: 5 is not in [2, 5); the range is ignored with a bin list
    spec = histogram(DAY_ONE_EVENTS, {"bin_list": [0, 2, 5]}, range=[0, 100])
    assert bins_of(m.compute(spec)) == [(1, 0.0, 2.0), (3, 2.0, 5.0)]
    # empty bins count 0 (FlowKit reports 1)
    assert bins_of(m.compute(histogram(DAY_ONE_EVENTS, {"bin_list": [0, 1, 2, 3, 10, 20]}))) == [
        (0, 0.0, 1.0),
        (1, 1.0, 2.0),
        (2, 2.0, 3.0),
        (2, 3.0, 10.0),
        (0, 10.0, 20.0),
    ]


def test_histogram_redaction_all_or_nothing(tiny_db):
    calls = [(f"p{n:02}", "2016-01-01 10:00", "cA1") for n in range(16)]  # 16 subscribers with 1 event
    calls += [(f"q{n:02}", f"2016-01-01 1{k}:00", "cA1") for n in range(16) for k in range(2)]  # 16 with 2
    m = tiny_db(calls=calls + [("q15", "2016-01-01 15:00", "cA1")])  # q15 now has 3
    spec = histogram(DAY_ONE_EVENTS, {"bin_list": [1, 2, 4]})
    assert bins_of(m.compute(spec)) == [(16, 1.0, 2.0), (16, 2.0, 4.0)]  # 2 and 3 both in [2, 4)
    assert bins_of(m.served(spec)) == [(16, 1.0, 2.0), (16, 2.0, 4.0)]  # 16 > 15: served as is
    narrow = histogram(DAY_ONE_EVENTS, {"bin_list": [1, 2, 3]})  # q15's 3 falls outside
    assert bins_of(m.compute(narrow)) == [(16, 1.0, 2.0), (15, 2.0, 3.0)]
    assert bins_of(m.served(narrow)) == [(None, None, None), (None, None, None)]  # one bin of 15 blanks all


@pytest.mark.parametrize(
    ("bins", "extra", "field"),
    [
        ({"n_bins": 2, "bin_list": [0, 1]}, {}, "bins"),
        ({}, {}, "bins"),
        ({"n_bins": 0}, {}, "n_bins"),
        ({"bin_list": [1]}, {}, "bin_list"),
        ({"bin_list": [2, 1]}, {}, "bins"),
        ({"n_bins": 2}, {"range": [4, 0]}, "range"),
        ({"n_bins": 2}, {"range": {"lower_bound": 1}}, "upper_bound"),
    ],
)
def test_histogram_invalid_bins(bins, extra, field):
    assert field in _error(histogram(DAY_ONE_EVENTS, bins, **extra))


def test_histogram_is_nonspatial():
    assert required_scopes(parse_spec(histogram(DAY_ONE_EVENTS, {"n_bins": 2}))) == [
        "nonspatial:histogram_aggregate:event_count",
        "nonspatial:histogram_aggregate:histogram_aggregate",
    ]


# -- redaction of joined_spatial_aggregate ----------------------------------------------------


def test_joined_spatial_aggregate_redaction(tiny_db):
    calls = [(f"p{n:02}", "2016-01-01 10:00", "cA1") for n in range(16)]  # 16 located at A1
    calls += [(f"q{n:02}", "2016-01-01 10:00", "cB1") for n in range(15)]  # 15 at B1
    calls += [(f"p{n:02}", "2016-01-02 10:00", "cA1") for n in range(2)]  # only p00, p01 active on day 2
    calls += [(f"q{n:02}", "2016-01-02 10:00", "cB1") for n in range(15)]
    m = tiny_db(calls=calls)
    spec = jsa(DAY_TWO_EVENTS, "sum")
    assert keyed(m.compute(spec), "pcod") == {"A1": 2, "B1": 15}
    served = m.served(spec)
    assert list(served.columns) == ["pcod", "value"]  # the private count is dropped
    # A1 has 16 located subscribers (> 15), though only 2 have a metric value; B1 has 15
    assert keyed(served, "pcod") == {"A1": 2}


# -- calendar_activity and localised_calendar_activity ----------------------------------------

CALENDAR_CALLS = [
    ("s1", "2016-01-01 10:00", "cA1"),
    ("s1", "2016-01-02 10:00", "cA1"),
    ("s2", "2016-01-01 11:00", "cA1"),
    ("s2", "2016-01-02 23:59", "cA1"),
    ("s3", "2016-01-01 10:00", "cA1"),
    ("s3", "2016-01-02 10:00", "cA1"),
    ("s3", "2016-01-03 10:00", "cA1"),
    ("s4", "2016-01-01 10:00", "cB1"),
    ("s4", "2016-01-04 00:00", "cB1"),  # the fourth day is outside three periods
    ("s5", "2016-01-02 10:00", "cA2"),
    ("s6", "2016-01-01 10:00", "cA2"),  # located on day 1, no event after it
]


def test_calendar_activity(tiny_db):
    m = tiny_db(calls=CALENDAR_CALLS)
    result = m.compute(calendar())
    assert list(result.columns) == ["grp", "value"]
    day = {D1: "2016-01-01 00:00", D2: "2016-01-02 00:00", D3: "2016-01-03 00:00"}
    assert keyed(result, "grp") == {
        (day[D1], day[D2]): 2,  # s1, s2
        (day[D1], day[D2], day[D3]): 1,  # s3
        (day[D1],): 2,  # s4 (its 2016-01-04 event is outside), s6
        (day[D2],): 1,  # s5
    }
    # 12-hour periods of day 1: s1, s3, s4, s6 at 10:00 in the first; s2 at 11:00 too
    assert keyed(m.compute(calendar(total=2, period_length=12, period_unit="hours")), "grp") == {(day[D1],): 5}


def test_calendar_activity_sampling_counts_sampled_subscribers(tiny_db):
    m = tiny_db(calls=CALENDAR_CALLS)
    sampled = m.compute(calendar(sampling={"sampling_method": "random_ids", "seed": 0.1, "size": 3}))
    assert sampled["value"].sum() == 3  # three subscribers are counted, whatever their patterns


def test_calendar_activity_redaction_and_json(tiny_db):
    calls = [(f"p{n:02}", f"2016-01-0{d} 10:00", "cA1") for n in range(16) for d in (1, 2)]  # 16 on days 1, 2
    calls += [(f"q{n:02}", "2016-01-01 10:00", "cA1") for n in range(15)]  # 15 on day 1 only
    m = tiny_db(calls=calls)
    spec = calendar()
    assert sorted(m.compute(spec)["value"]) == [15, 16]
    served = m.served(spec)
    assert keyed(served, "grp") == {("2016-01-01 00:00", "2016-01-02 00:00"): 16}
    # the pattern leaves the API as a list of ISO datetimes
    query_id = m.run(parse_spec(spec))
    columns, rows = redacted_rows(m, query_id, parse_spec(spec))
    assert json.loads(as_json(query_id, columns, rows))["query_result"] == [
        {"grp": ["2016-01-01T00:00:00", "2016-01-02T00:00:00"], "value": 16}
    ]


def test_localised_calendar_activity(tiny_db):
    m = tiny_db(calls=CALENDAR_CALLS)
    # located by their last event of day 1: s1, s2, s3 at A1; s4 at B1; s6 at A2 (s5 not located)
    # periods: days 2 and 3
    result = m.compute(localised(daily(D1), start=D2, total=2))
    assert list(result.columns) == ["pcod", "value_label", "value"]
    assert keyed(result, "pcod", "value_label") == {
        ("A1", ("2016-01-02 00:00",)): 2,  # s1, s2
        ("A1", ("2016-01-02 00:00", "2016-01-03 00:00")): 1,  # s3
        ("B1", None): 1,  # s4: nothing in the periods
        ("A2", None): 1,  # s6
    }
    # a sample picks located subscribers (of the five), active or not
    sample = {"sampling_method": "random_ids", "seed": -0.3, "size": 2}
    assert m.compute(localised(daily(D1), start=D2, total=2, sampling=sample))["value"].sum() == 2


def test_localised_calendar_activity_redaction_hides_whole_locations(tiny_db):
    calls = []
    for n in range(16):  # A1: 16 subscribers active on days 1 and 2 ...
        calls += [(f"a{n:02}", "2016-01-01 10:00", "cA1"), (f"a{n:02}", "2016-01-02 10:00", "cA1")]
    calls += [(f"b{n:02}", "2016-01-01 10:00", "cA1") for n in range(15)]  # ... and 15 on day 1 only
    calls += [(f"c{n:02}", "2016-01-01 10:00", "cB1") for n in range(16)]  # B1: 16 on day 1 only
    m = tiny_db(calls=calls)
    spec = localised(daily(D1), total=2)
    assert sorted(m.compute(spec)["value"]) == [15, 16, 16]
    # A1's 15-subscriber pattern would be recoverable from A1's other rows: A1 is hidden whole
    assert keyed(m.served(spec), "pcod", "value_label") == {("B1", ("2016-01-01 00:00",)): 16}


def test_calendar_validation():
    assert "total_periods" in _error(calendar(total=0))
    assert "period_length" in _error(calendar(period_length=0))
    assert "period_unit" in _error(calendar(period_unit="weeks"))
    assert "reference_location" in _error({**localised(daily()), "reference_location": None})
    assert required_scopes(parse_spec(calendar())) == ["nonspatial:calendar_activity:calendar_activity"]
    assert parse_spec(localised(daily())).unit == "admin3"
