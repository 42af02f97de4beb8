"""Exact answers of the location family on small hand-built FlowDBs.

Reference locations over a window (most_frequent_location, visited_most_days), unique_locations,
location_visits → majority_location → coalesced_location → mobility_classification, the flows
family (inflows, outflows, labelled_flows), labelled_spatial_aggregate and the counts built on
unique locations. Geography and cells are conftest.py's (admin3 A1 A2 | B1 B2, cells cA1 … cOut);
every expected value was worked out by hand from the events next to it.
"""

from __future__ import annotations

import pytest
from tests.conftest import BACKENDS

from flowkit.machine.catalogue import SpecError, parse_spec
from test_kinds import FLOW_CALLS, daily, flows, modal, spatial, usc, values, where

D1, D2, D3, D4, D5, D6 = (f"2016-01-0{n}" for n in range(1, 7))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-worked case here runs on DuckDB and on PostgreSQL."""
    return request.param


# -- spec builders ----------------------------------------------------------------------------


def window(kind, start=D1, end=D3, unit="admin3", **extra):
    return {"query_kind": kind, "start_date": start, "end_date": end, "aggregation_unit": unit, **extra}


def visits(*locations):
    return {"query_kind": "location_visits", "locations": list(locations)}


def majority(weights, **extra):
    return {"query_kind": "majority_location", "subscriber_location_weights": weights, **extra}


def coalesced(preferred, fallback, weights, threshold):
    return {
        "query_kind": "coalesced_location",
        "preferred_location": preferred,
        "fallback_location": fallback,
        "subscriber_location_weights": weights,
        "weight_threshold": threshold,
    }


def period(first, second, unit="admin3"):
    """A two-day period: the place of both days' last locations if they agree, NULL if the
    subscriber was seen but not at one place both days, absent if not seen either day."""
    weights = visits(daily(first, unit), daily(second, unit))
    both_days = majority(weights, minimum_total_weight=2, include_unlocatable=True)
    return coalesced(both_days, majority(weights), weights, threshold=2)


def mobility(*periods, threshold=2):
    return {"query_kind": "mobility_classification", "locations": list(periods), "stay_length_threshold": threshold}


def labelled(locations, labels):
    return {"query_kind": "labelled_spatial_aggregate", "locations": locations, "labels": labels}


def labelled_flows(origin, destination, labels, join_type="inner"):
    return {
        "query_kind": "labelled_flows",
        "from_location": origin,
        "to_location": destination,
        "labels": labels,
        "join_type": join_type,
    }


def in_out(kind, origin, destination, join_type="inner"):
    return {"query_kind": kind, "from_location": origin, "to_location": destination, "join_type": join_type}


def active(unique_locations, reference):
    return {
        "query_kind": "active_at_reference_location_counts",
        "unique_locations": unique_locations,
        "reference_locations": reference,
    }


def unmoving(unique_locations):
    return {"query_kind": "unmoving_counts", "locations": unique_locations}


def unmoving_at_home(unique_locations, reference):
    return {
        "query_kind": "unmoving_at_reference_location_counts",
        "locations": unique_locations,
        "reference_locations": reference,
    }


def visitors(active_counts, subscriber_counts):
    return {
        "query_kind": "unique_visitor_counts",
        "active_at_reference_location_counts": active_counts,
        "unique_subscriber_counts": subscriber_counts,
    }


def calls_on(who, days, cells, time="10:00"):
    """One call per (day, cell) pair, at `time`; a None cell means no event that day."""
    return [(who, f"{day} {time}", cell) for day, cell in zip(days, cells, strict=True) if cell is not None]


def rows(frame) -> set[tuple]:
    """Every row as a tuple, NULLs as None (for kinds with several rows per subscriber)."""
    return set(values(frame.assign(value=0)))


def crowd(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02}" for i in range(n)]


# -- most_frequent_location -------------------------------------------------------------------

FREQUENT_CALLS = [
    # s1: A1 twice, B1 once
    ("s1", f"{D1} 08:00", "cA1"),
    ("s1", f"{D2} 09:00", "cA1"),
    ("s1", f"{D2} 20:00", "cB1"),
    # s2: A2 twice and B1 twice; B1's latest event (D2 12:00) is later than A2's (D1 11:00)
    ("s2", f"{D1} 10:00", "cA2"),
    ("s2", f"{D1} 11:00", "cA2"),
    ("s2", f"{D2} 10:00", "cB1"),
    ("s2", f"{D2} 12:00", "cB1"),
    # s3: B2 and A2 once each, at the same instant
    ("s3", f"{D1} 12:00", "cB2"),
    ("s3", f"{D1} 12:00", "cA2"),
    # s4: three A1 events at the window's end (excluded), one B2 event inside
    ("s4", f"{D3} 00:00", "cA1"),
    ("s4", f"{D3} 00:00", "cA1"),
    ("s4", f"{D3} 10:00", "cA1"),
    ("s4", f"{D2} 10:00", "cB2"),
    # s5: two A1 events before the window, one B1 event inside
    ("s5", "2015-12-31 23:59", "cA1"),
    ("s5", "2015-12-31 23:00", "cA1"),
    ("s5", f"{D1} 15:00", "cB1"),
    # s6: two events at cOut (located only at lon-lat), one at A2
    ("s6", f"{D1} 10:00", "cOut"),
    ("s6", f"{D1} 11:00", "cOut"),
    ("s6", f"{D1} 14:00", "cA2"),
]


def test_most_frequent_location_admin3(tiny_db):
    m = tiny_db(calls=FREQUENT_CALLS)
    assert where(m.compute(window("most_frequent_location"))) == {
        "s1": "A1",  # 2 events beat 1
        "s2": "B1",  # 2 - 2 tie; B1's latest event is later
        "s3": "A2",  # 1 - 1 tie at the same instant -> smallest pcod
        "s4": "B2",  # the A1 events at D3 are outside [D1, D3)
        "s5": "B1",  # the A1 events of 2015-12-31 are outside the window
        "s6": "A2",  # cOut is in no admin3 unit
    }


def test_most_frequent_location_lon_lat(tiny_db):
    m = tiny_db(calls=FREQUENT_CALLS)
    assert where(m.compute(window("most_frequent_location", unit="lon-lat"))) == {
        "s1": (5.0, 10.0),
        "s2": (25.0, 10.0),
        "s3": (15.0, 10.0),  # tie between (35, 10) and (15, 10) -> smallest lon
        "s4": (35.0, 10.0),
        "s5": (25.0, 10.0),
        "s6": (50.0, 10.0),  # cOut counts at lon-lat: 2 events beat 1
    }


def test_most_frequent_location_hours(tiny_db):
    m = tiny_db(calls=FREQUENT_CALLS)
    assert where(m.compute(window("most_frequent_location", hours={"start_hour": 9, "end_hour": 12}))) == {
        "s1": "A1",  # only D2 09:00 (start hour inclusive)
        "s2": "A2",  # A2 10:00 and 11:00 against B1 10:00: D2 12:00 is at the end hour (excluded)
        # s3: 12:00 excluded; s5: 15:00 and s6: 14:00 outside the hours; s6's cOut events are not at admin3
        "s4": "B2",
    }


def test_most_frequent_location_event_types_and_subset(tiny_db):
    m = tiny_db(calls=FREQUENT_CALLS, mds=[("s1", f"{D1} 10:00", "cB2"), ("s9", f"{D1} 10:00", "cA1")])
    # mds is read only when named: then s1 has one B2 data session, s9 one at A1
    assert where(m.compute(window("most_frequent_location", event_types=["mds"]))) == {"s1": "B2", "s9": "A1"}
    # a subset names a stored result with a subscriber column: here the unique locations of
    # 2015-12-31, when only s5 called
    subset = m.as_spec(window("unique_locations", start="2015-12-31", end=D1))
    m.compute(subset)
    assert where(m.compute(window("most_frequent_location", subscriber_subset=subset.query_id))) == {"s5": "B1"}


def test_sampling_keeps_a_reproducible_subset_of_subscribers(tiny_db):
    m = tiny_db(calls=FREQUENT_CALLS)
    everyone = where(m.compute(window("most_frequent_location")))
    sample = {"seed": 0.5, "size": 2}
    sampled = where(m.compute(window("most_frequent_location", sampling=sample)))
    assert len(sampled) == 2 and sampled.items() <= everyone.items()  # 2 of the 6, at their own locations
    # the same seed over the same subscribers picks the same ones, whatever the kind
    assert set(where(m.compute(window("visited_most_days", sampling=sample)))) == set(sampled)


# -- visited_most_days ------------------------------------------------------------------------

VISITED_CALLS = [
    # v1: A1 three times on one day; B1 on two days -> days win over events
    ("v1", f"{D1} 08:00", "cA1"),
    ("v1", f"{D1} 09:00", "cA1"),
    ("v1", f"{D1} 10:00", "cA1"),
    ("v1", f"{D2} 10:00", "cB1"),
    ("v1", f"{D3} 10:00", "cB1"),
    # v2: A1 on 2 days (2 events), B2 on 2 days (3 events) -> more events
    ("v2", f"{D1} 10:00", "cA1"),
    ("v2", f"{D2} 10:00", "cA1"),
    ("v2", f"{D1} 11:00", "cB2"),
    ("v2", f"{D3} 11:00", "cB2"),
    ("v2", f"{D3} 12:00", "cB2"),
    # v3: A2 and B1 on 2 days with 2 events each; B1 was seen latest (D3 08:00 vs D2 10:00)
    ("v3", f"{D1} 10:00", "cA2"),
    ("v3", f"{D2} 10:00", "cA2"),
    ("v3", f"{D1} 09:00", "cB1"),
    ("v3", f"{D3} 08:00", "cB1"),
    # v4: A2 and B2 at the same instant -> smallest pcod
    ("v4", f"{D2} 10:00", "cB2"),
    ("v4", f"{D2} 10:00", "cA2"),
    # v5: A1 twice on one day against B1 once on another: 1 day each, A1 has more events
    ("v5", f"{D1} 01:00", "cA1"),
    ("v5", f"{D1} 23:00", "cA1"),
    ("v5", f"{D2} 12:00", "cB1"),
    # v6: A1 on two days, both at or after the window's end D4; B2 once inside
    ("v6", f"{D4} 00:00", "cA1"),
    ("v6", f"{D5} 10:00", "cA1"),
    ("v6", f"{D1} 10:00", "cB2"),
]


def test_visited_most_days(tiny_db):
    m = tiny_db(calls=VISITED_CALLS)
    assert where(m.compute(window("visited_most_days", end=D4))) == {
        "v1": "B1",
        "v2": "B2",
        "v3": "B1",
        "v4": "A2",
        "v5": "A1",
        "v6": "B2",  # [D1, D4) ends before D4 00:00
    }


# -- unique_locations -------------------------------------------------------------------------


def test_unique_locations(tiny_db):
    m = tiny_db(
        calls=[
            ("u1", f"{D1} 10:00", "cA1"),
            ("u1", f"{D2} 10:00", "cA1s"),  # also A1: one row
            ("u1", f"{D2} 11:00", "cB1"),
            ("u2", f"{D1} 10:00", "cEdge"),  # on the A1|A2 border: no admin3 unit, admin1 A
            ("u3", f"{D3} 00:00", "cB2"),  # end exclusive
            ("u3", f"{D2} 23:59", "cA2"),
        ]
    )
    assert rows(m.compute(window("unique_locations"))) == {("u1", "A1"), ("u1", "B1"), ("u3", "A2")}
    assert rows(m.compute(window("unique_locations", unit="admin1"))) == {
        ("u1", "A"),
        ("u1", "B"),
        ("u2", "A"),
        ("u3", "A"),
    }
    assert rows(m.compute(window("unique_locations", unit="lon-lat"))) == {
        ("u1", 5.0, 10.0),
        ("u1", 5.0, 5.0),  # cA1s is its own place at lon-lat
        ("u1", 25.0, 10.0),
        ("u2", 10.0, 10.0),
        ("u3", 15.0, 10.0),
    }
    hours = {"start_hour": 11, "end_hour": 24}
    assert rows(m.compute(window("unique_locations", hours=hours))) == {("u1", "B1"), ("u3", "A2")}


# -- location_visits, majority_location -------------------------------------------------------

FOUR_DAYS = (D1, D2, D3, D4)
WEIGHT_CALLS = [
    *calls_on("m1", FOUR_DAYS, ["cA1", "cA1", "cA1", "cB1"]),  # A1 3, B1 1
    *calls_on("m2", FOUR_DAYS, ["cA1", "cA1", "cB1", "cB1"]),  # A1 2, B1 2
    *calls_on("m3", FOUR_DAYS, ["cA2", None, None, None]),  # A2 1 (active one day)
    *calls_on("m4", FOUR_DAYS, ["cB2", "cB2", "cB2", None]),  # B2 3 (active three days)
    *calls_on("m5", FOUR_DAYS, ["cA2", "cA2", None, None]),  # A2 2 (active two days)
]
WEIGHTS = visits(*(daily(day) for day in FOUR_DAYS))


def test_location_visits(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    assert values(m.compute(WEIGHTS)) == {
        ("m1", "A1"): 3,
        ("m1", "B1"): 1,
        ("m2", "A1"): 2,
        ("m2", "B1"): 2,
        ("m3", "A2"): 1,
        ("m4", "B2"): 3,
        ("m5", "A2"): 2,
    }
    # a day listed twice counts twice, a modal location once: over D1-D4 it is A1 for m1, B1 for m2
    # (2 days each, B1's D4 is later), A2 for m3 and m5, B2 for m4; on D1, m2 was at A1
    twice = visits(daily(D1), daily(D1), modal(*(daily(day) for day in FOUR_DAYS)))
    assert values(m.compute(twice)) == {
        ("m1", "A1"): 3,
        ("m2", "A1"): 2,
        ("m2", "B1"): 1,
        ("m3", "A2"): 3,
        ("m4", "B2"): 3,
        ("m5", "A2"): 3,
    }


def test_majority_location(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    assert where(m.compute(majority(WEIGHTS))) == {
        "m1": "A1",  # 3 > 4 / 2
        # m2: 2 is not more than half of 4
        "m3": "A2",  # total 1: 1 > 0.5
        "m4": "B2",  # 3 > 1.5
        "m5": "A2",  # 2 > 1
    }
    # every day counts: the total is at least 4
    assert where(m.compute(majority(WEIGHTS, minimum_total_weight=4))) == {"m1": "A1", "m4": "B2"}
    # strictly more than half: B2's 3 days are not more than half of 6
    assert where(m.compute(majority(WEIGHTS, minimum_total_weight=6))) == {}
    assert where(m.compute(majority(WEIGHTS, minimum_total_weight=4, include_unlocatable=True))) == {
        "m1": "A1",
        "m2": None,
        "m3": None,
        "m4": "B2",
        "m5": None,
    }


def test_majority_location_lon_lat_unlocatable(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    weights = visits(*(daily(day, "lon-lat") for day in FOUR_DAYS))
    result = m.compute(majority(weights, include_unlocatable=True))
    assert list(result.columns) == ["subscriber", "lon", "lat"]
    assert where(result) == {
        "m1": (5.0, 10.0),
        "m2": (None, None),
        "m3": (15.0, 10.0),
        "m4": (35.0, 10.0),
        "m5": (15.0, 10.0),
    }


def test_majority_location_as_a_reference_location(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    # the NULL locations of unlocatable subscribers (m2, m3, m5) form their own group
    spec = spatial(majority(WEIGHTS, minimum_total_weight=4, include_unlocatable=True))
    assert values(m.compute(spec)) == {"A1": 1, "B2": 1, None: 3}


# -- coalesced_location -----------------------------------------------------------------------


def test_coalesced_location(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    preferred = majority(WEIGHTS, minimum_total_weight=4, include_unlocatable=True)
    spec = coalesced(preferred, majority(WEIGHTS), WEIGHTS, threshold=2)
    assert where(m.compute(spec)) == {
        "m1": "A1",  # preferred
        "m2": None,  # preferred NULL, and no fallback majority (2 of 4)
        "m3": None,  # fallback A2 has weight 1 < 2: not used
        "m4": "B2",  # preferred
        "m5": "A2",  # preferred NULL (2 of 4); fallback A2 (2 of 2) with weight 2 >= 2 (inclusive)
    }
    assert where(m.compute({**spec, "weight_threshold": 3}))["m5"] is None
    assert where(m.compute({**spec, "weight_threshold": 1}))["m3"] == "A2"


def test_coalesced_location_takes_subscribers_of_either_input(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    # without include_unlocatable, m5 is absent from the preferred input but has a usable fallback
    spec = coalesced(majority(WEIGHTS, minimum_total_weight=4), majority(WEIGHTS), WEIGHTS, threshold=2)
    assert where(m.compute(spec)) == {"m1": "A1", "m4": "B2", "m5": "A2"}


# -- mobility_classification ------------------------------------------------------------------

SIX_DAYS = (D1, D2, D3, D4, D5, D6)
P1, P2, P3 = period(D1, D2), period(D3, D4), period(D5, D6)
MOBILITY_CALLS = [
    *calls_on("k1", SIX_DAYS, ["cA1"] * 6),  # A1 A1 A1
    *calls_on("k2", SIX_DAYS, ["cA1", "cA1", "cB1", "cB1", "cA1", "cA1"]),  # A1 B1 A1
    *calls_on("k3", SIX_DAYS, ["cA1", "cA1", "cA1", "cA1", "cA1", "cB1"]),  # A1 A1 NULL
    *calls_on("k4", SIX_DAYS, ["cA1", "cA1", None, None, "cA1", "cA1"]),  # A1 - A1
    *calls_on("k5", SIX_DAYS, ["cA2", "cB2", "cA2", "cA2", "cA2", "cA2"]),  # NULL A2 A2
    *calls_on("k6", SIX_DAYS, ["cA1", "cA1", "cB2", "cB2", None, None]),  # A1 B2 -
    *calls_on("k7", SIX_DAYS, ["cB1", "cB1", "cA2", "cA2", "cA2", "cA2"]),  # B1 A2 A2
    *calls_on("k8", SIX_DAYS, [None, None, "cB2", "cB2", "cA1", "cB1"]),  # - B2 NULL
]


def test_periods_as_coalesced_locations(tiny_db):
    m = tiny_db(calls=MOBILITY_CALLS)
    assert where(m.compute(P3)) == {
        "k1": "A1",
        "k2": "A1",
        "k3": None,  # A1 then B1: no place on both days
        "k4": "A1",
        "k5": "A2",
        "k7": "A2",
        "k8": None,
    }


def test_mobility_classification(tiny_db):
    m = tiny_db(calls=MOBILITY_CALLS)
    assert where(m.compute(mobility(P1, P2, P3))) == {
        "k1": "stable",  # 3 periods at A1 >= 2
        "k2": "mobile",  # A1, B1, A1: the two A1 periods are not consecutive, longest stay 1 < 2
        "k3": "unlocated",  # NULL in the last period
        "k4": "irregular",  # absent from P2
        "k5": "not_always_locatable",  # NULL in P1
        # k6: absent from the last period -> not classified
        "k7": "stable",  # B1, A2, A2: a stay of 2 is not below the threshold 2
        "k8": "unlocated",  # absent from P1 too, but 'unlocated' comes first
    }
    at_three = where(m.compute(mobility(P1, P2, P3, threshold=3)))
    assert (at_three["k1"], at_three["k7"]) == ("stable", "mobile")  # 3 is not below 3; 2 is


def test_mobility_classification_of_one_period(tiny_db):
    m = tiny_db(calls=MOBILITY_CALLS)
    # with P2 alone: present everywhere; a stay of one period is below 2 for everyone located
    assert where(m.compute(mobility(P2))) == {s: "mobile" for s in ("k1", "k2", "k3", "k5", "k6", "k7", "k8")}
    assert where(m.compute(mobility(P2, threshold=1))) == {
        s: "stable" for s in ("k1", "k2", "k3", "k5", "k6", "k7", "k8")
    }


# -- labelled_spatial_aggregate, labelled_flows -----------------------------------------------

LABELS = mobility(P1, P2, P3)
# P2: k1 A1, k2 B1, k3 A1, k5 A2, k6 B2, k7 A2, k8 B2      P3: k1 A1, k2 A1, k3 -, k4 A1, k5 A2, k7 A2, k8 -
# labels: k1 stable, k2 mobile, k3 unlocated, k4 irregular, k5 not_always_locatable, k7 stable, k8 unlocated


def test_labelled_spatial_aggregate(tiny_db):
    m = tiny_db(calls=MOBILITY_CALLS)
    result = m.compute(labelled(P3, LABELS))
    assert list(result.columns) == ["pcod", "value_label", "value"]
    assert values(result) == {
        ("A1", "stable"): 1,  # k1
        ("A1", "mobile"): 1,  # k2
        ("A1", "irregular"): 1,  # k4
        ("A2", "not_always_locatable"): 1,  # k5
        ("A2", "stable"): 1,  # k7
        (None, "unlocated"): 2,  # k3, k8: NULL location in P3
    }
    assert values(m.compute(labelled(P2, LABELS))) == {
        ("A1", "stable"): 1,  # k1
        ("A1", "unlocated"): 1,  # k3
        ("B1", "mobile"): 1,  # k2
        ("A2", "not_always_locatable"): 1,  # k5
        ("A2", "stable"): 1,  # k7
        ("B2", None): 1,  # k6 has no label (absent from P3): the NULL label group
        ("B2", "unlocated"): 1,  # k8
    }


def test_labelled_flows(tiny_db):
    m = tiny_db(calls=MOBILITY_CALLS)
    result = m.compute(labelled_flows(P2, P3, LABELS))
    assert list(result.columns) == ["pcod_from", "pcod_to", "value_label", "value"]
    inner = {
        ("A1", "A1", "stable"): 1,  # k1
        ("B1", "A1", "mobile"): 1,  # k2
        ("A1", None, "unlocated"): 1,  # k3: NULL location in P3
        ("A2", "A2", "not_always_locatable"): 1,  # k5
        ("A2", "A2", "stable"): 1,  # k7
        ("B2", None, "unlocated"): 1,  # k8
    }
    assert values(result) == inner
    k6 = {("B2", None, None): 1}  # in P2 only, unlabelled
    k4 = {(None, "A1", "irregular"): 1}  # in P3 only: still labelled by its subscriber
    assert values(m.compute(labelled_flows(P2, P3, LABELS, "left outer"))) == inner | k6
    assert values(m.compute(labelled_flows(P2, P3, LABELS, "right"))) == inner | k4
    assert values(m.compute(labelled_flows(P2, P3, LABELS, "full outer"))) == inner | k6 | k4


def _label_crowd():
    """At A1: 16 stable and 16 irregular subscribers; at B1: 16 stable and 15 irregular.
    Stable ones are there all six days; irregular ones from D3 on (absent from P1)."""
    calls = []
    for prefix, cell, irregular_count in (("a", "cA1", 16), ("b", "cB1", 15)):
        for who in crowd(f"{prefix}s", 16):
            calls += calls_on(who, SIX_DAYS, [cell] * 6)
        for who in crowd(f"{prefix}i", irregular_count):
            calls += calls_on(who, SIX_DAYS, [None, None, *[cell] * 4])
    return calls


def test_redaction_labelled_kinds_hide_a_place_with_one_small_group(tiny_db):
    m = tiny_db(calls=_label_crowd())
    spec = labelled(P3, LABELS)
    assert values(m.compute(spec)) == {
        ("A1", "stable"): 16,
        ("A1", "irregular"): 16,
        ("B1", "stable"): 16,
        ("B1", "irregular"): 15,
    }
    # B1's irregular group has 15: the whole of B1 is hidden, its 16 stable subscribers too
    assert values(m.served(spec)) == {("A1", "stable"): 16, ("A1", "irregular"): 16}
    flows_spec = labelled_flows(P2, P3, LABELS)
    assert values(m.served(flows_spec)) == {("A1", "A1", "stable"): 16, ("A1", "A1", "irregular"): 16}


def test_redaction_labelled_spatial_aggregate_lon_lat(tiny_db):
    m = tiny_db(calls=_label_crowd())
    located = period(D5, D6, "lon-lat")
    labels = mobility(*(period(a, b, "lon-lat") for a, b in ((D1, D2), (D3, D4), (D5, D6))))
    # groups are places given by lon and lat: (25, 10) holds the group of 15
    assert values(m.served(labelled(located, labels))) == {(5.0, 10.0, "stable"): 16, (5.0, 10.0, "irregular"): 16}


# -- flows over unique locations, inflows, outflows -------------------------------------------

EVERY_PAIR_CALLS = [
    ("f1", f"{D1} 10:00", "cA1"),
    ("f1", f"{D1} 11:00", "cB1"),
    ("f1", f"{D2} 10:00", "cA2"),
    ("f2", f"{D1} 10:00", "cA1"),
    ("f2", f"{D2} 10:00", "cA2"),
    ("f2", f"{D2} 11:00", "cB2"),
]


def test_flows_over_unique_locations_count_every_pair(tiny_db):
    m = tiny_db(calls=EVERY_PAIR_CALLS)
    day_one, day_two = window("unique_locations", D1, D2), window("unique_locations", D2, D3)
    # f1: {A1, B1} -> {A2}; f2: {A1} -> {A2, B2}
    assert values(m.compute(flows(day_one, day_two))) == {("A1", "A2"): 2, ("B1", "A2"): 1, ("A1", "B2"): 1}
    assert values(m.compute(in_out("inflows", day_one, day_two))) == {"A2": 3, "B2": 1}
    assert values(m.compute(in_out("outflows", day_one, day_two))) == {"A1": 3, "B1": 1}


def test_inflows_and_outflows(tiny_db):
    m = tiny_db(calls=FLOW_CALLS)
    # test_kinds' flows: inner (A1, B1) 2 and (A2, A2) 1; full outer adds (B2, -), (-, A1), (-, B2)
    result = m.compute(in_out("inflows", daily(D1), daily(D2)))
    assert list(result.columns) == ["pcod", "value"]
    assert values(result) == {"B1": 2, "A2": 1}
    assert values(m.compute(in_out("outflows", daily(D1), daily(D2)))) == {"A1": 2, "A2": 1}
    assert values(m.compute(in_out("inflows", daily(D1), daily(D2), "full outer"))) == {
        "B1": 2,
        "A2": 1,
        "A1": 1,
        "B2": 1,
        None: 1,  # s4 was located on day 1 only
    }
    assert values(m.compute(in_out("outflows", daily(D1), daily(D2), "full outer"))) == {
        "A1": 2,
        "A2": 1,
        "B2": 1,
        None: 2,  # s5 and s6 were located on day 2 only (s6's day 1 is at cOut)
    }
    result = m.compute(in_out("outflows", daily(D1, "lon-lat"), daily(D2, "lon-lat")))
    assert list(result.columns) == ["lon", "lat", "value"]
    assert values(result) == {(5.0, 10.0): 2, (15.0, 10.0): 1, (50.0, 10.0): 1}


def test_redaction_inflows_and_outflows_sum_unredacted_pairs(tiny_db):
    calls = []
    for n, who in enumerate(crowd("p", 16)):  # 8 from A1 and 8 from A2, all to B1
        calls += calls_on(who, (D1, D2), ["cA1" if n < 8 else "cA2", "cB1"])
    for n, who in enumerate(crowd("q", 15)):  # all from B2, 8 to A1 and 7 to A2
        calls += calls_on(who, (D1, D2), ["cB2", "cA1" if n < 8 else "cA2"])
    m = tiny_db(calls=calls)
    assert m.served(flows(daily(D1), daily(D2))).empty  # pairs of 8, 8, 8 and 7
    assert values(m.served(in_out("inflows", daily(D1), daily(D2)))) == {"B1": 16}  # A1 8, A2 7 hidden
    assert m.served(in_out("outflows", daily(D1), daily(D2))).empty  # A1 8, A2 8, B2 15


# -- active_at_reference_location_counts, unique_visitor_counts -------------------------------

RESIDENT_CALLS = [
    ("r1", f"{D1} 10:00", "cA1"),  # home A1, seen at A1 and B1
    ("r1", f"{D2} 10:00", "cA1"),
    ("r1", f"{D2} 11:00", "cB1"),
    ("r2", f"{D1} 10:00", "cA1"),  # home A1, seen at B2 only
    ("r2", f"{D3} 10:00", "cB2"),
    ("r3", f"{D1} 10:00", "cB1"),  # home B1, not seen in the period
    ("r4", f"{D1} 10:00", "cA1"),  # home A1, seen at A1
    ("r4", f"{D2} 10:00", "cA1s"),
    ("r5", f"{D2} 10:00", "cA1"),  # no home, seen at A1
    ("r6", f"{D1} 10:00", "cA2"),  # home A2, seen at A2 only at the period's end (excluded)
    ("r6", f"{D4} 00:00", "cA2"),
]
PERIOD = window("unique_locations", D2, D4)
HOMES = daily(D1)


def test_active_at_reference_location_counts(tiny_db):
    m = tiny_db(calls=RESIDENT_CALLS)
    result = m.compute(active(PERIOD, HOMES))
    assert list(result.columns) == ["pcod", "value"]
    # A1's residents r1, r2, r4: r1 and r4 were seen at A1; B1's r3 and A2's r6 were not seen at home
    assert values(result) == {"A1": 2, "B1": 0, "A2": 0}


def test_unique_visitor_counts(tiny_db):
    m = tiny_db(calls=RESIDENT_CALLS)
    spec = visitors(active(PERIOD, HOMES), usc(D2, D4))
    result = m.compute(spec)
    assert list(result.columns) == ["pcod", "value", "active_residents", "unique_subscribers"]
    # seen in [D2, D4): A1 r1 r4 r5, B1 r1, B2 r2; rows follow the active counts (A1, B1, A2)
    assert values(result[["pcod", "value"]]) == {"A1": 1, "B1": 1, "A2": None}  # A2: nobody seen
    private = {
        column: values(result[["pcod", column]].rename(columns={column: "value"})) for column in result.columns[2:]
    }
    assert private == {
        "active_residents": {"A1": 2, "B1": 0, "A2": 0},
        "unique_subscribers": {"A1": 3, "B1": 1, "A2": None},
    }


def test_redaction_unique_visitor_counts_needs_every_count_above_15(tiny_db):
    calls = []
    for place, cell, residents, guests in (("a", "cA1", 16, 16), ("b", "cB1", 16, 15), ("c", "cA2", 15, 16)):
        for who in crowd(f"{place}r", residents):  # at home on D1, seen at home on D2
            calls += calls_on(who, (D1, D2), [cell, cell])
        for who in crowd(f"{place}g", guests):  # seen there on D2 only
            calls += calls_on(who, (D2,), [cell])
    m = tiny_db(calls=calls)
    spec = visitors(active(window("unique_locations", D2, D3), HOMES), usc(D2, D3))
    assert values(m.compute(spec)[["pcod", "value"]]) == {"A1": 16, "B1": 15, "A2": 16}
    # B1: 15 visitors; A2: 16 visitors but only 15 active residents -> hidden
    served = m.served(spec)
    assert list(served.columns) == ["pcod", "value"]
    assert values(served) == {"A1": 16}


# -- unmoving_counts, unmoving_at_reference_location_counts -----------------------------------


def test_unmoving_counts(tiny_db):
    m = tiny_db(
        calls=[
            ("n1", f"{D1} 10:00", "cA1"),  # A1 only
            ("n1", f"{D2} 10:00", "cA1"),
            ("n2", f"{D1} 10:00", "cA1"),  # A1 and B1: moved
            ("n2", f"{D2} 10:00", "cB1"),
            ("n3", f"{D2} 10:00", "cB2"),  # B2 only
            ("n4", f"{D1} 10:00", "cA1"),  # A1 only: the B1 event is at the window's end
            ("n4", f"{D3} 00:00", "cB1"),
            ("n5", f"{D1} 10:00", "cOut"),  # nowhere at admin3
            ("n6", f"{D1} 10:00", "cA1"),  # one admin3 place, two lon-lat places
            ("n6", f"{D1} 11:00", "cA1s"),
        ]
    )
    assert values(m.compute(unmoving(window("unique_locations")))) == {"A1": 3, "B2": 1}  # n1 n4 n6; n3
    assert values(m.compute(unmoving(window("unique_locations", unit="lon-lat")))) == {
        (5.0, 10.0): 2,  # n1, n4 (n6 was also at (5, 5))
        (35.0, 10.0): 1,  # n3
        (50.0, 10.0): 1,  # n5
    }


def test_unmoving_at_reference_location_counts(tiny_db):
    m = tiny_db(
        calls=[
            ("h1", f"{D1} 10:00", "cA1"),  # home A1, seen at A1 only
            ("h1", f"{D2} 10:00", "cA1"),
            ("h2", f"{D1} 10:00", "cA1"),  # home A1, seen at A1 and B1
            ("h2", f"{D2} 10:00", "cA1"),
            ("h2", f"{D3} 10:00", "cB1"),
            ("h3", f"{D1} 10:00", "cB1"),  # home B1, seen at A2 only: unmoving, but away
            ("h3", f"{D2} 10:00", "cA2"),
            ("h4", f"{D1} 10:00", "cB1"),  # home B1, not seen in the period
            ("h5", f"{D1} 10:00", "cA1"),  # home A1, seen at A1; the B2 event is at the period's end
            ("h5", f"{D3} 10:00", "cA1"),
            ("h5", f"{D4} 00:00", "cB2"),
            ("h6", f"{D2} 10:00", "cA2"),  # no home
        ]
    )
    assert values(m.compute(unmoving_at_home(PERIOD, HOMES))) == {"A1": 2}  # h1, h5


def test_unmoving_at_reference_location_null_homes_never_count(tiny_db):
    m = tiny_db(
        calls=[
            *calls_on("x1", (D1, D2), ["cA1", "cA1"]),  # home A1 (both days)
            *calls_on("x2", (D1, D2), ["cA1", "cB1"]),  # no majority: NULL home
            *calls_on("x3", (D1,), ["cA2"]),  # one day of two: NULL home, although seen at A2 only
        ]
    )
    homes = majority(visits(daily(D1), daily(D2)), minimum_total_weight=2, include_unlocatable=True)
    assert values(m.compute(unmoving_at_home(window("unique_locations"), homes))) == {"A1": 1}
    # active counts keep NULL homes as their own group, with no one active there
    assert values(m.compute(active(window("unique_locations"), homes))) == {"A1": 1, None: 0}


def test_redaction_counts_on_unique_locations(tiny_db):
    calls = []
    for who in crowd("a", 16):  # home A1 on D1, seen only at A1 on D2
        calls += calls_on(who, (D1, D2), ["cA1", "cA1"])
    for who in crowd("b", 15):  # home B1, seen only at B1
        calls += calls_on(who, (D1, D2), ["cB1", "cB1"])
    for who in crowd("c", 5):  # five more B1 residents, not seen on D2
        calls += calls_on(who, (D1,), ["cB1"])
    m = tiny_db(calls=calls)
    day_two = window("unique_locations", D2, D3)
    for spec in (unmoving(day_two), unmoving_at_home(day_two, HOMES), active(day_two, HOMES)):
        assert values(m.compute(spec)) == {"A1": 16, "B1": 15}  # B1 has 20 residents, 15 active
        assert values(m.served(spec)) == {"A1": 16}


# -- every reference location kind nests where reference locations go -------------------------


def test_reference_location_kinds_nest_in_spatial_aggregate_and_flows(tiny_db):
    m = tiny_db(calls=WEIGHT_CALLS)
    four_days = window("most_frequent_location", D1, D5)
    # most frequent over D1-D4: m1 A1, m2 B1 (2-2 tie, B1 latest), m3 A2, m4 B2, m5 A2
    assert values(m.compute(spatial(four_days))) == {"A1": 1, "B1": 1, "A2": 2, "B2": 1}
    # visited most days: the same here (one event per day)
    assert values(m.compute(spatial({**four_days, "query_kind": "visited_most_days"}))) == {
        "A1": 1,
        "B1": 1,
        "A2": 2,
        "B2": 1,
    }
    preferred = majority(WEIGHTS, minimum_total_weight=4, include_unlocatable=True)
    # coalesced (m1 A1, m2 -, m3 -, m4 B2, m5 A2) to the last location on D4 (m1 B1, m2 B1)
    assert values(m.compute(flows(coalesced(preferred, majority(WEIGHTS), WEIGHTS, 2), daily(D4)))) == {
        ("A1", "B1"): 1,
        (None, "B1"): 1,
    }


# -- validation -------------------------------------------------------------------------------


def _error(spec) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    return caught.value.msg


def _without(spec, key):
    return {k: v for k, v in spec.items() if k != key}


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        (spatial(_without(window("most_frequent_location"), "start_date")), ["start_date"]),
        (spatial(window("visited_most_days", unit="admin4")), ["aggregation_unit"]),
        (unmoving(window("unique_locations", D2, D1)), ["end_date"]),
        (unmoving(window("unique_locations", hours={"start_hour": 3, "end_hour": 25})), ["end_hour"]),
        (unmoving(window("unique_locations", event_types=["voice"])), ["event_types"]),
        (unmoving(window("unique_locations", sampling={"seed": 5, "size": 2})), ["sampling"]),
        (unmoving(window("unique_locations", sampling={"seed": 0.5})), ["sampling"]),
        (unmoving(daily(D1)), ["locations"]),  # a daily location is not a unique_locations spec
        (spatial(window("unique_locations")), ["locations"]),  # nor unique_locations a reference location
        (spatial(majority(visits())), ["locations"]),
        (spatial(majority(visits(daily(D1), daily(D2, "admin1")))), ["locations", "aggregation_unit"]),
        (spatial(majority(WEIGHTS, minimum_total_weight=-1)), ["minimum_total_weight"]),
        (spatial(majority(WEIGHTS, include_unlocatable="perhaps")), ["include_unlocatable"]),
        (spatial(majority(daily(D1))), ["subscriber_location_weights"]),
        (
            spatial(_without(coalesced(majority(WEIGHTS), majority(WEIGHTS), WEIGHTS, 2), "weight_threshold")),
            ["weight_threshold"],
        ),
        (spatial(coalesced(daily(D1), majority(WEIGHTS), WEIGHTS, 2)), ["preferred_location"]),
        (
            spatial(coalesced(majority(WEIGHTS), majority(visits(daily(D1, "admin1"))), WEIGHTS, 2)),
            ["fallback_location", "aggregation_unit"],
        ),
        (
            spatial(coalesced(majority(WEIGHTS), majority(WEIGHTS), visits(daily(D1, "admin1")), 2)),
            ["subscriber_location_weights", "aggregation_unit"],
        ),
        (labelled(P3, _without(LABELS, "stay_length_threshold")), ["stay_length_threshold"]),
        (labelled(P3, mobility()), ["locations"]),
        (labelled(P3, mobility(P1, period(D3, D4, "admin1"))), ["locations", "aggregation_unit"]),
        (labelled(daily(D1), LABELS), ["locations"]),
        (labelled_flows(P2, daily(D1), LABELS), ["to_location"]),
        (labelled_flows(P2, period(D5, D6, "admin1"), LABELS), ["from_location", "to_location"]),
        (labelled_flows(P2, P3, LABELS, "cross"), ["join_type"]),
        (in_out("inflows", daily(D1), daily(D2, "admin1")), ["from_location", "to_location"]),
        (in_out("outflows", daily(D1), daily(D2), "sideways"), ["join_type"]),
        (_without(in_out("outflows", daily(D1), daily(D2)), "to_location"), ["to_location"]),
        (active(PERIOD, daily(D1, "admin1")), ["unique_locations", "reference_locations"]),
        (_without(active(PERIOD, HOMES), "reference_locations"), ["reference_locations"]),
        (unmoving_at_home(window("unique_locations", unit="lon-lat"), HOMES), ["locations", "reference_locations"]),
        (
            visitors(active(PERIOD, HOMES), usc(D2, D4, "admin2")),
            ["active_at_reference_location_counts", "unique_subscriber_counts"],
        ),
        (visitors(active(PERIOD, HOMES), daily(D1)), ["unique_subscriber_counts"]),
        ({**unmoving(PERIOD), "colour": "red"}, ["colour"]),
        (unmoving({**PERIOD, "colour": "red"}), ["colour"]),
    ],
)
def test_invalid_specs_name_the_field(spec, fields):
    message = _error(spec)
    for field in fields:
        assert field in message


def test_nested_only_kinds_are_not_top_level():
    for spec in (window("unique_locations"), WEIGHTS, majority(WEIGHTS), P1, LABELS, window("visited_most_days")):
        assert "query_kind" in _error(spec)


def test_inflows_query_ids_differ_from_flows():
    pair = (daily(D1), daily(D2))
    ids = {parse_spec(in_out(kind, *pair)).query_id for kind in ("flows", "inflows", "outflows")}
    assert len(ids) == 3
