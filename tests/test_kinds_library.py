"""Library-only analytics (FlowKit's features outside the API) on small hand-built FlowDBs.

Geography and event tuples are described in conftest.py; every expected value is worked out by
hand from the events listed here, and the comment next to it says why.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
import shapely
from pydantic import ValidationError
from starlette.testclient import TestClient
from tests.conftest import BACKENDS

from flowkit.api.app import create_app
from flowkit.auth.tokens import ensure_key_pair, mint_token
from flowkit.machine import catalogue
from flowkit.machine.catalogue import SpecError, describe_validation_error, parse_spec
from flowkit.machine.queries import Machine
from flowkit.machine.spec import QuerySpec

D1, D2, D3, D4 = "2016-01-01", "2016-01-02", "2016-01-03", "2016-01-04"
WINDOW = {"start_date": D1, "end_date": D3}


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-worked case here runs on DuckDB and on PostgreSQL."""
    return request.param


def call(counterpart, duration=None):
    return {"msisdn_counterpart": counterpart, **({"duration": duration} if duration is not None else {})}


# s1 calls s2 (60 s), s2 calls s1 back (30 s), s1 calls s3 (20 s) and itself (5 s), s1 texts s3.
# Each call/SMS has one row per party; the 2016-01-03 call is outside [D1, D3).
CALLS = [
    ("s1", "2016-01-01 10:00", "cA1", True, call("s2", 60)),  # 1
    ("s2", "2016-01-01 10:00", "cA1", False, call("s1", 60)),  # 2
    ("s1", "2016-01-01 12:00", "cB1", False, call("s2", 30)),  # 3
    ("s2", "2016-01-01 12:00", "cB1", True, call("s1", 30)),  # 4
    ("s1", "2016-01-02 09:00", "cA1", True, call("s3", 20)),  # 5
    ("s3", "2016-01-02 09:00", "cA2", False, call("s1", 20)),  # 6
    ("s1", "2016-01-02 11:00", "cA1", True, call("s1", 5)),  # 7: a self-call
    ("s1", "2016-01-03 00:00", "cA1", True, call("s2", 99)),  # 8: end date is exclusive
]
SMS = [
    ("s1", "2016-01-01 15:00", "cA2", True, call("s3")),  # 9
    ("s3", "2016-01-01 15:00", "cA2", False, call("s1")),  # 10
]
# In the window: s1 has events 1 (out, s2), 3 (in, s2), 5 (out, s3), 7 (out, self), 9 (out, s3);
# s2 has 2 (in, s1) and 4 (out, s1); s3 has 6 (in, s1) and 10 (in, s1).


def library(spec: dict) -> QuerySpec:
    return QuerySpec.registry[spec["query_kind"]].model_validate(spec, context={"library": True})


@pytest.fixture
def m(tiny_db):
    return tiny_db(calls=CALLS, sms=SMS)


def run(machine, kind, **params) -> pd.DataFrame:
    return machine.dataframe(library({"query_kind": kind, **params}), timeout=30)


def table(frame: pd.DataFrame, value: str = "value") -> dict:
    """(key columns…) -> value; a single key unwrapped; floats as plain floats."""
    keys = [c for c in frame.columns if c != value]
    out = {}
    for _, row in frame.iterrows():
        key = tuple(row[c].item() if hasattr(row[c], "item") else row[c] for c in keys)
        cell = row[value]
        out[key[0] if len(key) == 1 else key] = (
            None if pd.isna(cell) else (cell.item() if hasattr(cell, "item") else cell)
        )
    assert len(out) == len(frame), "duplicate keys"
    return out


def H(*shares):
    """Entropy −Σ p ln p of the given shares."""
    return -sum(p * math.log(p) for p in shares)


# -- call_days --------------------------------------------------------------------------------


def test_call_days_cell_and_admin1(m):
    assert table(run(m, "call_days", **WINDOW, aggregation_unit="cell"), "calldays") == {
        ("s1", "cA1"): 2,  # 1 on D1, 5 and 7 on D2: two days
        ("s1", "cB1"): 1,
        ("s1", "cA2"): 1,
        ("s2", "cA1"): 1,
        ("s2", "cB1"): 1,
        ("s3", "cA2"): 2,  # 10 on D1, 6 on D2
    }
    assert table(run(m, "call_days", **WINDOW, aggregation_unit="admin1"), "calldays") == {
        ("s1", "A"): 2,  # cA1 and cA2 are both in A: still only D1 and D2
        ("s1", "B"): 1,
        ("s2", "A"): 1,
        ("s2", "B"): 1,
        ("s3", "A"): 2,
    }
    # hours 9-11 keep the 09:xx and 10:xx events: 1 and 5 (s1 at cA1), 2 (s2 at cA1), 6 (s3 at cA2)
    hours = run(m, "call_days", **WINDOW, aggregation_unit="cell", hours={"start_hour": 9, "end_hour": 11})
    assert table(hours, "calldays") == {("s1", "cA1"): 2, ("s2", "cA1"): 1, ("s3", "cA2"): 1}


def test_call_days_versioned_site(tiny_db):
    m = tiny_db(
        calls=[
            ("s1", "2016-01-01 10:00", "cA1"),
            ("s1", "2016-01-01 11:00", "cA1s"),  # same site, same day as the 10:00 call
            ("s1", "2016-01-02 10:00", "cA1"),  # site S1 has moved: its version 2
            ("s1", "2016-01-02 12:00", "cB1"),  # cB1 belongs to no site: not located
        ]
    )
    m.db.execute("UPDATE infrastructure.cells SET site_id = 'S1' WHERE id IN ('cA1', 'cA1s')")
    m.db.execute(
        "INSERT INTO infrastructure.sites (id, version, date_of_first_service, date_of_last_service, geom_point) "
        "VALUES ('S1', 1, NULL, '2016-01-01', ?), ('S1', 2, '2016-01-02', NULL, ?)",
        [shapely.Point(5, 8).wkb, shapely.Point(6, 8).wkb],
    )
    m.db.refresh_cell_admin_units()
    result = run(m, "call_days", **WINDOW, aggregation_unit="versioned-site")
    assert list(result.columns) == ["subscriber", "site_id", "version", "lon", "lat", "calldays"]
    assert table(result, "calldays") == {("s1", "S1", 1, 5.0, 8.0): 1, ("s1", "S1", 2, 6.0, 8.0): 1}


# -- contact_balance and contact_entropy ------------------------------------------------------


def test_contact_balance(m):
    result = run(m, "contact_balance", **WINDOW)
    assert list(result.columns) == ["subscriber", "msisdn_counterpart", "events", "proportion"]
    # s1: 1 and 3 with s2, 5 and 9 with s3 (7, the self-call, is dropped): 2 of 4 each
    assert table(result.drop(columns="proportion"), "events") == {
        ("s1", "s2"): 2,
        ("s1", "s3"): 2,
        ("s2", "s1"): 2,
        ("s3", "s1"): 2,
    }
    assert table(result.drop(columns="events"), "proportion") == {
        ("s1", "s2"): 0.5,
        ("s1", "s3"): 0.5,
        ("s2", "s1"): 1.0,
        ("s3", "s1"): 1.0,
    }


def test_contact_balance_direction_self_calls_and_event_types(m):
    def shares(**params):
        return table(run(m, "contact_balance", **WINDOW, **params).drop(columns="events"), "proportion")

    # out: s1 made 1 (s2), 5 and 9 (s3) -> 1/3, 2/3; s2 made 4; s3 made nothing
    assert shares(direction="out") == pytest.approx({("s1", "s2"): 1 / 3, ("s1", "s3"): 2 / 3, ("s2", "s1"): 1.0})
    # in: s1 received 3 (s2); s2 received 2; s3 received 6 and 10
    assert shares(direction="in") == {("s1", "s2"): 1.0, ("s2", "s1"): 1.0, ("s3", "s1"): 1.0}
    # self-calls kept: s1 has 5 events, 2 + 2 + 1 (itself)
    kept = shares(exclude_self_calls=False)
    assert {k: v for k, v in kept.items() if k[0] == "s1"} == pytest.approx(
        {("s1", "s2"): 0.4, ("s1", "s3"): 0.4, ("s1", "s1"): 0.2}
    )
    # calls only: s1 has 1, 3 (s2) and 5 (s3)
    assert {k: v for k, v in shares(event_types=["calls"]).items() if k[0] == "s1"} == pytest.approx(
        {("s1", "s2"): 2 / 3, ("s1", "s3"): 1 / 3}
    )


def test_contact_balance_needs_counterparts(m):
    spec = library({"query_kind": "contact_balance", **WINDOW, "event_types": ["mds"]})
    assert "msisdn_counterpart" in m.failure(spec)  # mds has no counterpart (FlowKit: ValueError)


def test_contact_entropy(m):
    assert table(run(m, "contact_entropy", **WINDOW), "entropy") == pytest.approx(
        {"s1": math.log(2), "s2": 0.0, "s3": 0.0}  # s1: two contacts, half each
    )
    out = table(run(m, "contact_entropy", **WINDOW, direction="out"), "entropy")
    assert out == pytest.approx({"s1": H(1 / 3, 2 / 3), "s2": 0.0})
    kept = table(run(m, "contact_entropy", **WINDOW, exclude_self_calls=False), "entropy")
    assert kept["s1"] == pytest.approx(H(0.4, 0.4, 0.2))


# -- periodic_entropy and location_entropy ----------------------------------------------------


def test_periodic_entropy(m):
    # s1's events are at hours 10, 12, 15, 9, 11: five equal shares; s2 10 and 12; s3 9 and 15
    assert table(run(m, "periodic_entropy", **WINDOW), "entropy") == pytest.approx(
        {"s1": math.log(5), "s2": math.log(2), "s3": math.log(2)}
    )
    # day of week: s1 has 3 events on Friday D1 and 2 on Saturday D2; s2 only Friday
    dow = table(run(m, "periodic_entropy", **WINDOW, phase="dow"), "entropy")
    assert dow == pytest.approx({"s1": H(0.6, 0.4), "s2": 0.0, "s3": math.log(2)})
    # outgoing only: s1's 10, 15, 9, 11; s2's 12; s3 made nothing
    out = table(run(m, "periodic_entropy", **WINDOW, direction="out"), "entropy")
    assert out == pytest.approx({"s1": math.log(4), "s2": 0.0})


def test_periodic_entropy_seconds_include_their_fraction(tiny_db):
    m = tiny_db(calls=[("s1", "2016-01-01 10:00:05", "cA1"), ("s1", "2016-01-01 11:00:05", "cA1"),
                       ("s1", "2016-01-01 11:00:05.5", "cA1")])  # fmt: skip
    # PostgreSQL's `second` is 5, 5, 5.5: two groups, 2/3 and 1/3; every event is at minute 0
    assert table(run(m, "periodic_entropy", **WINDOW, phase="second"), "entropy") == pytest.approx(
        {"s1": H(2 / 3, 1 / 3)}
    )
    assert table(run(m, "periodic_entropy", **WINDOW, phase="minute"), "entropy") == pytest.approx({"s1": 0.0})


def test_location_entropy(m):
    # cells: s1 cA1 x3 (1, 5, 7), cB1 (3), cA2 (9); s2 cA1, cB1; s3 cA2 x2
    assert table(run(m, "location_entropy", **WINDOW), "entropy") == pytest.approx(
        {"s1": H(0.6, 0.2, 0.2), "s2": math.log(2), "s3": 0.0}
    )
    # admin1: s1 A x4, B x1
    admin1 = table(run(m, "location_entropy", **WINDOW, aggregation_unit="admin1"), "entropy")
    assert admin1 == pytest.approx({"s1": H(0.8, 0.2), "s2": math.log(2), "s3": 0.0})


# -- interevent_interval and interevent_period ------------------------------------------------


def test_interevent_interval(m):
    # s1's outgoing events: D1 10:00, D1 15:00, D2 09:00, D2 11:00 -> gaps 5 h, 18 h, 2 h;
    # s2 made one outgoing call: no gap (NULL, count 0); s3 made none: absent
    def stat(statistic, **params):
        return table(run(m, "interevent_interval", **WINDOW, statistic=statistic, **params))

    assert stat("avg") == {"s1": 30000.0, "s2": None}  # (18000 + 64800 + 7200) / 3 seconds
    assert stat("max") == {"s1": 64800.0, "s2": None}
    assert stat("median") == {"s1": 18000.0, "s2": None}
    assert stat("count") == {"s1": 3, "s2": 0}
    assert stat("mode")["s1"] == 7200.0  # three gaps seen once each: the smallest wins
    # both directions: s1 D1 10, 12, 15, D2 09, 11 -> 2 h, 3 h, 18 h, 2 h; s3 D1 15, D2 09 -> 18 h
    assert stat("mode", direction="both") == {"s1": 7200.0, "s2": 7200.0, "s3": 64800.0}
    assert stat("sum", direction="in") == {"s1": None, "s2": None, "s3": 64800.0}


def test_interevent_period(m):
    def stat(statistic, **params):
        return table(run(m, "interevent_period", **WINDOW, statistic=statistic, **params))

    assert stat("avg") == {"s1": 8.0, "s2": None}  # 30000 s = 8.33 h, rounded down
    assert stat("max", time_resolution="day") == {"s1": 0.0, "s2": None}  # 18 h is 0.75 days
    assert stat("min", time_resolution="minute")["s1"] == 120.0  # 2 h
    # gaps 5, 18 and 2 h: mean 25/3, sample variance ((10/3)² + (29/3)² + (19/3)²) / 2 = 72.33 h²
    assert stat("variance")["s1"] == 72.0
    assert stat("count") == {"s1": 3, "s2": 0}  # a number of gaps: no unit to divide by


# -- proportion_event_type --------------------------------------------------------------------


def test_proportion_event_type(m):
    # sms / (calls + sms): s1 1 of 5, s3 1 of 2; s2 sent no sms: absent
    assert table(run(m, "proportion_event_type", **WINDOW, numerator=["sms"])) == {"s1": 0.2, "s3": 0.5}
    # incoming sms only: s1 received none
    assert table(run(m, "proportion_event_type", **WINDOW, numerator=["sms"], numerator_direction="in")) == {"s3": 0.5}
    # calls (any direction) over outgoing calls and sms: s1 4 / 4 (1, 5, 7, 9); s2 2 / 1 (4);
    # s3 made nothing: no denominator, absent
    result = run(m, "proportion_event_type", **WINDOW, numerator=["calls"], direction="out")
    assert table(result) == {"s1": 1.0, "s2": 2.0}


# -- call durations ---------------------------------------------------------------------------


def test_subscriber_call_durations(m):
    def stat(**params):
        return table(run(m, "subscriber_call_durations", **WINDOW, **params))

    assert stat() == {"s1": 85.0, "s2": 30.0}  # outgoing: s1 60 + 20 + 5 (8 is outside), s2 30
    assert stat(direction="in") == {"s1": 30.0, "s2": 60.0, "s3": 20.0}
    assert stat(statistic="median") == {"s1": 20.0, "s2": 30.0}
    assert stat(statistic="avg")["s1"] == pytest.approx(85 / 3)
    assert stat(hours={"start_hour": 10, "end_hour": 12}) == {"s1": 65.0}  # 10:00 and 11:00; s2's 12:00 dropped


def test_per_location_subscriber_call_durations(m):
    kind = "per_location_subscriber_call_durations"
    assert table(run(m, kind, **WINDOW)) == {("s1", "A1"): 85.0, ("s2", "B1"): 30.0}  # outgoing legs
    assert table(run(m, kind, **WINDOW, direction="both", statistic="count")) == {
        ("s1", "A1"): 3,  # 1, 5, 7
        ("s1", "B1"): 1,  # 3
        ("s2", "A1"): 1,
        ("s2", "B1"): 1,
        ("s3", "A2"): 1,  # 6
    }
    assert table(run(m, kind, **WINDOW, aggregation_unit="cell")) == {("s1", "cA1"): 85.0, ("s2", "cB1"): 30.0}


def test_paired_subscriber_call_durations(m):
    # outgoing call legs only; FlowKit keeps the self-call here
    assert table(run(m, "paired_subscriber_call_durations", **WINDOW)) == {
        ("s1", "s2"): 60.0,
        ("s1", "s3"): 20.0,
        ("s1", "s1"): 5.0,
        ("s2", "s1"): 30.0,
    }


def test_subscriber_location_subset(m, tiny_db):
    # located call legs: s1 A1 x3, B1 x1; s2 A1, B1; s3 A2
    assert table(run(m, "subscriber_location_subset", **WINDOW, min_calls=2).assign(v=1), "v") == {("s1", "A1"): 1}
    one = run(m, "subscriber_location_subset", **WINDOW, min_calls=1)
    assert sorted(map(tuple, one.values.tolist())) == [
        ("s1", "A1"),
        ("s1", "B1"),
        ("s2", "A1"),
        ("s2", "B1"),
        ("s3", "A2"),
    ]
    # calls are counted by their durations: a call without one does not count (as in FlowKit)
    n = tiny_db(
        calls=[
            ("s9", "2016-01-01 10:00", "cA1", True, call("x", 10)),
            ("s9", "2016-01-01 11:00", "cA1", True, call("x")),
        ]
    )
    assert run(n, "subscriber_location_subset", **WINDOW, min_calls=2).empty


# -- per_location_event_stats and per_contact_event_stats -------------------------------------


def test_per_location_event_stats(m):
    # per cell: s1 cA1 3, cB1 1, cA2 1; s2 cA1 1, cB1 1; s3 cA2 2
    assert table(run(m, "per_location_event_stats", **WINDOW)) == pytest.approx({"s1": 5 / 3, "s2": 1.0, "s3": 2.0})
    assert table(run(m, "per_location_event_stats", **WINDOW, statistic="max", aggregation_unit="admin1")) == {
        "s1": 4,  # A: 1, 5, 7, 9
        "s2": 1,
        "s3": 2,
    }
    # outgoing only: s1 cA1 3 (1, 5, 7), cA2 1 (9); s2 cB1 1
    out = run(m, "per_location_event_stats", **WINDOW, statistic="sum", direction="out")
    assert table(out) == {"s1": 4, "s2": 1}


def test_per_contact_event_stats(m):
    balance = {"query_kind": "contact_balance", **WINDOW, "exclude_self_calls": False}

    def stat(statistic, contacts=balance):
        return table(run(m, "per_contact_event_stats", contact_balance=contacts, statistic=statistic))

    # s1's contacts: s2 2, s3 2, itself 1 -> mean 5/3, sample variance (1/9 + 1/9 + 4/9) / 2 = 1/3
    assert stat("avg")["s1"] == pytest.approx(5 / 3)
    assert stat("variance")["s1"] == pytest.approx(1 / 3)
    assert stat("stddev")["s1"] == pytest.approx(math.sqrt(1 / 3))
    assert (stat("median")["s1"], stat("mode")["s1"], stat("count")["s1"]) == (2.0, 2, 3)
    # outgoing: s1 s2 1, s3 2 -> a tie for the mode: the smallest, 1
    assert stat("mode", {**balance, "direction": "out"})["s1"] == 1


# -- mds_volume -------------------------------------------------------------------------------

MDS = [
    ("s1", "2016-01-01 10:00", "cA1", {"volume_total": 10.0, "volume_upload": 4.0, "volume_download": 6.0}),
    ("s1", "2016-01-01 11:00", "cA1", {"volume_total": 20.0, "volume_upload": 5.0, "volume_download": 15.0}),
    ("s2", "2016-01-02 10:00", "cA1", {"volume_total": 7.0, "volume_upload": 7.0, "volume_download": 0.0}),
    ("s2", "2016-01-03 00:00", "cA1", {"volume_total": 50.0, "volume_upload": 50.0, "volume_download": 0.0}),
]


def test_mds_volume(tiny_db):
    m = tiny_db(mds=MDS)
    assert table(run(m, "mds_volume", **WINDOW)) == {"s1": 30.0, "s2": 7.0}  # s2's D3 session is outside
    assert table(run(m, "mds_volume", **WINDOW, volume="upload", statistic="max")) == {"s1": 5.0, "s2": 7.0}
    assert table(run(m, "mds_volume", **WINDOW, volume="download", statistic="avg")) == {"s1": 10.5, "s2": 0.0}


# -- reciprocity ------------------------------------------------------------------------------


def test_contact_reciprocal(m):
    result = run(m, "contact_reciprocal", **WINDOW)
    rows = {(r.subscriber, r.msisdn_counterpart): [round(v, 6) for v in r[2:].tolist()] for _, r in result.iterrows()}
    # in-balance: s1 <- s2 (3); s2 <- s1 (2); s3 <- s1 (6, 10). out-balance: s1 -> s2 (1),
    # s1 -> s3 (5, 9); s2 -> s1 (4). Columns: events_in, events_out, proportion_in, proportion_out, reciprocal
    assert rows == {
        ("s1", "s2"): [1, 1, 1.0, 0.333333, True],
        ("s1", "s3"): [0, 2, 0.0, 0.666667, False],
        ("s2", "s1"): [1, 1, 1.0, 1.0, True],
        ("s3", "s1"): [2, 0, 1.0, 0.0, False],
    }


def test_proportion_contact_reciprocal(m):
    reciprocal = {"query_kind": "contact_reciprocal", **WINDOW}
    result = run(m, "proportion_contact_reciprocal", contact_reciprocal=reciprocal)
    # s1: s2 reciprocal, s3 not; s2: s1 reciprocal; s3: s1 not
    assert table(result, "proportion") == {"s1": 0.5, "s2": 1.0, "s3": 0.0}


def test_proportion_event_reciprocal(m):
    reciprocal = {"query_kind": "contact_reciprocal", **WINDOW}
    # outgoing (default): s1's 1 (s2, reciprocal), 5 and 9 (s3, not); 7 (self) dropped; s2's 4 (s1, reciprocal)
    out = run(m, "proportion_event_reciprocal", **WINDOW, contact_reciprocal=reciprocal)
    assert table(out) == pytest.approx({"s1": 1 / 3, "s2": 1.0})
    both = run(m, "proportion_event_reciprocal", **WINDOW, contact_reciprocal=reciprocal, direction="both")
    assert table(both) == {"s1": 0.5, "s2": 1.0, "s3": 0.0}  # s1: 1 and 3 of 1, 3, 5, 9


# -- first_location ---------------------------------------------------------------------------


def test_first_location(m):
    def first(location, **params):
        return {
            k: str(v) for k, v in table(run(m, "first_location", **WINDOW, location=location, **params), "time").items()
        }

    assert first("cA2") == {"s1": "2016-01-01 15:00:00", "s3": "2016-01-01 15:00:00"}  # 9 and 10 (6 is later)
    assert first(["cB1", "cA2"]) == {
        "s1": "2016-01-01 12:00:00",
        "s2": "2016-01-01 12:00:00",
        "s3": "2016-01-01 15:00:00",
    }
    assert first("any") == {"s1": "2016-01-01 10:00:00", "s2": "2016-01-01 10:00:00", "s3": "2016-01-01 15:00:00"}
    assert first("B1", aggregation_unit="admin3") == {"s1": "2016-01-01 12:00:00", "s2": "2016-01-01 12:00:00"}
    # a dict of some of the unit's columns: lon 5 is cA1 (and cA1s), where s1 and s2 were at 10:00
    assert first({"lon": 5}, aggregation_unit="lon-lat") == {"s1": "2016-01-01 10:00:00", "s2": "2016-01-01 10:00:00"}


# -- unique_subscribers, new_subscribers, active_subscribers ----------------------------------


def test_unique_and_new_subscribers(m):
    everyone = run(m, "unique_subscribers", start_date=D1, end_date=D2)
    assert sorted(everyone.subscriber) == ["s1", "s2", "s3"]
    texters = {"query_kind": "unique_subscribers", "start_date": D1, "end_date": D2, "event_types": ["sms"]}
    callers = {"query_kind": "unique_subscribers", **WINDOW, "event_types": ["calls"]}
    # callers s1, s2, s3 (6 is s3's call leg); texters s1, s3 -> s2 is new
    new = run(m, "new_subscribers", unique_subscribers_bench_mark=texters, unique_subscribers_focal=callers)
    assert new.subscriber.tolist() == ["s2"]


ACTIVE = [
    # a: D1 one hour (10:00 and 10:30), D2 two hours, D3 two hours
    ("a", "2016-01-01 10:00", "cA1"),
    ("a", "2016-01-01 10:30", "cA1"),
    ("a", "2016-01-02 10:00", "cA1"),
    ("a", "2016-01-02 11:00", "cA1"),
    ("a", "2016-01-03 01:00", "cA1"),
    ("a", "2016-01-03 02:00", "cA1"),
    # b: D1 two hours, D3 one hour; D4 00:00 is after the last period
    ("b", "2016-01-01 10:00", "cA1"),
    ("b", "2016-01-01 11:00", "cA1"),
    ("b", "2016-01-03 23:59", "cA1"),
    ("b", "2016-01-04 00:00", "cA1"),
    # c: first and last hour of D1, then the first two hours of D2
    ("c", "2016-01-01 00:00", "cA1"),
    ("c", "2016-01-01 23:59", "cA1"),
    ("c", "2016-01-02 00:00", "cA1"),
    ("c", "2016-01-02 01:00", "cA1"),
]


def test_active_subscribers(tiny_db):
    m = tiny_db(calls=ACTIVE)

    def active(**params):
        days = dict(start_date=D1, minor_period_length=1, minor_periods_per_major_period=24, total_major_periods=3)
        return sorted(run(m, "active_subscribers", **{**days, **params}).subscriber)

    # active day = 2 active hours: a on D2 and D3, b on D1 only, c on D1 and D2
    assert active(minor_period_threshold=2, major_period_threshold=2) == ["a", "c"]
    assert active(minor_period_threshold=2, major_period_threshold=1) == ["a", "b", "c"]
    assert active(minor_period_threshold=3, major_period_threshold=1) == []
    # periods of days, two per major period (D1-D2, D3-D4; the window now ends at 2016-01-05):
    # a D1, D2 | D3; b D1 | D3, D4 (its D4 00:00 call is inside now); c D1, D2 | -
    two_days = active(
        minor_period_length=1,
        minor_periods_per_major_period=2,
        total_major_periods=2,
        period_unit="days",
        minor_period_threshold=2,
        major_period_threshold=1,
    )
    assert two_days == ["a", "b", "c"]


# -- sampling, catalogue, API, restart --------------------------------------------------------


def test_sampling(m):
    sampled = run(m, "contact_balance", **WINDOW, sampling={"seed": 0.5, "size": 2})
    assert sampled.subscriber.nunique() == 2  # all rows of two of the three subscribers
    full = run(m, "contact_balance", **WINDOW)
    assert len(sampled) == len(full[full.subscriber.isin(sampled.subscriber)])


LIBRARY = sorted(catalogue.library_kinds())


def test_every_assigned_kind_is_library_only():
    assert set(LIBRARY) >= {
        "call_days", "contact_balance", "periodic_entropy", "location_entropy", "contact_entropy",
        "interevent_interval", "interevent_period", "proportion_event_type", "subscriber_call_durations",
        "per_location_subscriber_call_durations", "paired_subscriber_call_durations", "per_location_event_stats",
        "per_contact_event_stats", "mds_volume", "contact_reciprocal", "proportion_contact_reciprocal",
        "proportion_event_reciprocal", "first_location", "unique_subscribers", "new_subscribers",
        "active_subscribers", "subscriber_location_subset",
    }  # fmt: skip


def test_library_kinds_stay_out_of_the_api():
    assert not set(LIBRARY) & set(catalogue.kinds())
    schemas = catalogue.openapi_schemas()
    assert not {QuerySpec.registry[k].__name__ for k in LIBRARY} & set(schemas)
    assert not [s for s in catalogue.scope_universe() if any(f":{k}" in s for k in LIBRARY)]
    with pytest.raises(SpecError):
        parse_spec({"query_kind": "unique_subscribers", "start_date": D1, "end_date": D2})


def test_api_does_not_serve_library_results(m, tmp_path):
    query_id = m.run(library({"query_kind": "unique_subscribers", "start_date": D1, "end_date": D2}))
    m.wait(query_id)
    private, public = ensure_key_pair(tmp_path, key_size=2048)
    scopes = ["get_result", "run", "nonspatial:unique_subscribers:unique_subscribers"]
    token = mint_token(private, user="u", audience="s", roles={"r": scopes}, lifetime=timedelta(minutes=5))
    client = TestClient(create_app(m, public_key=public, server_name="s"), follow_redirects=False)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/0/get/{query_id}", headers=headers).status_code == 404
    assert client.get(f"/api/0/poll/{query_id}", headers=headers).status_code == 404


def test_machine_restarts_after_library_queries(m):
    spec = library({"query_kind": "call_days", **WINDOW, "aggregation_unit": "cell"})
    m.dataframe(spec)
    restarted = Machine(m.db)
    assert restarted.spec(spec.query_id) == spec
    restarted.close()


# -- validation -------------------------------------------------------------------------------


def _error(spec: dict, context=None) -> str:
    with pytest.raises(ValidationError) as caught:
        QuerySpec.registry[spec["query_kind"]].model_validate(
            spec, context={"library": True} if context is None else context
        )
    return describe_validation_error(caught.value)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"query_kind": "call_days", **WINDOW}, "aggregation_unit"),
        ({"query_kind": "call_days", **WINDOW, "aggregation_unit": "admin4"}, "aggregation_unit"),
        ({"query_kind": "call_days", "start_date": D2, "end_date": D1, "aggregation_unit": "cell"}, "end_date"),
        ({"query_kind": "contact_balance", **WINDOW, "direction": "up"}, "direction"),
        ({"query_kind": "periodic_entropy", **WINDOW, "phase": "fortnight"}, "phase"),
        ({"query_kind": "interevent_interval", **WINDOW, "statistic": "range"}, "statistic"),
        ({"query_kind": "interevent_period", **WINDOW, "time_resolution": "week"}, "time_resolution"),
        ({"query_kind": "proportion_event_type", **WINDOW}, "numerator"),
        ({"query_kind": "proportion_event_type", **WINDOW, "numerator": []}, "numerator"),
        ({"query_kind": "mds_volume", **WINDOW, "volume": "sideways"}, "volume"),
        ({"query_kind": "mds_volume", **WINDOW, "event_types": ["calls"]}, "event_types"),
        ({"query_kind": "subscriber_location_subset", **WINDOW, "min_calls": 0}, "min_calls"),
        ({"query_kind": "first_location", **WINDOW, "location": "cA1", "aggregation_unit": "lon-lat"}, "location"),
        ({"query_kind": "first_location", **WINDOW, "location": {"pcod": "A1"}, "aggregation_unit": "lon-lat"}, "location"),
        ({"query_kind": "first_location", **WINDOW}, "location"),
        ({"query_kind": "active_subscribers", "start_date": D1, "minor_period_length": 0, "minor_periods_per_major_period": 1,
          "total_major_periods": 1, "minor_period_threshold": 1, "major_period_threshold": 1}, "minor_period_length"),
        ({"query_kind": "per_contact_event_stats", "contact_balance": {"query_kind": "contact_balance", **WINDOW, "colour": 1}}, "colour"),
    ],
)  # fmt: skip
def test_invalid_library_specs_name_the_field(spec, field):
    assert field in _error(spec)


def test_library_units_need_the_library_context():
    assert "aggregation_unit" in _error({"query_kind": "call_days", **WINDOW, "aggregation_unit": "cell"}, context={})


def test_subscriber_subset_by_stored_id(m):
    texters = library({"query_kind": "unique_subscribers", **WINDOW, "event_types": ["sms"]})
    m.dataframe(texters)  # s1 and s3 sent or received an sms
    balance = run(m, "contact_balance", **WINDOW, subscriber_subset=texters.query_id)
    assert sorted(balance.subscriber.unique()) == ["s1", "s3"]  # s2's rows are gone, the others unchanged
    assert table(run(m, "per_location_event_stats", **WINDOW, subscriber_subset=texters.query_id)) == pytest.approx(
        {"s1": 5 / 3, "s3": 2.0}
    )
