"""Meaningful locations: Hartigan clustering, scores, labels and the three aggregate kinds.

The geography is a strip along the equator, where distances are easy to work out by hand: one
degree of longitude is 111.319 km on the WGS84 ellipsoid (a·π/180), so 0.001° ≈ 111 m and
1 km ≈ 0.00898°. admin3 units: W1 lon -0.05‥0.01, W2 0.01‥0.05, E1 0.05‥0.1 (lat -0.05‥0.05);
admin1 P covers them all. Every site has one cell of the same id, so events name sites.
Dates: 2016-01-04 is a Monday, 2016-01-09 a Saturday, 2016-01-10 a Sunday.
"""

from __future__ import annotations

import math

import flowclient
import numpy as np
import pytest
import shapely
from tests.conftest import BACKENDS

import flowkit.client
from flowkit.machine import meaningful_locations
from flowkit.machine.catalogue import SpecError, parse_spec, top_level_kinds
from flowkit.machine.meaningful_locations import DAYS, geodesic_distance, hartigan

ADMINS = {
    1: [("P", (-0.1, -0.05, 0.1, 0.05))],
    3: [("W1", (-0.05, -0.05, 0.01, 0.05)), ("W2", (0.01, -0.05, 0.05, 0.05)), ("E1", (0.05, -0.05, 0.1, 0.05))],
}
AGGREGATE = "meaningful_locations_aggregate"
LABEL_OD = "meaningful_locations_between_label_od_matrix"
DATES_OD = "meaningful_locations_between_dates_od_matrix"


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-worked case here runs on DuckDB and on PostgreSQL."""
    return request.param


def box(x0, y0, x1, y1):
    """A GeoJSON polygon; the ring is left open, as in FlowKit's own label examples."""
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0, y1], [x1, y1], [x1, y0]]]}


# Hour score -1 before noon, +1 from noon; day score +1 on weekdays, -1 at weekends.
HALF_DAYS = [-1] * 12 + [1] * 12
WEEK = {day: 1 if day not in ("saturday", "sunday") else -1 for day in DAYS}
FLAT_WEEK = dict.fromkeys(DAYS, 0)
LABELS = {"work": box(0.25, 0, 1.1, 1.1), "home": box(-1.1, -1.1, -0.5, 1.1), "leisure": box(0, 0.5, 0.2, 1)}


def spec(kind=AGGREGATE, **params):
    base = {
        "query_kind": kind,
        "aggregation_unit": "admin3",
        "labels": LABELS,
        "tower_hour_of_day_scores": HALF_DAYS,
        "tower_day_of_week_scores": WEEK,
    }
    if kind == DATES_OD:
        base |= {"start_date_a": "2016-01-04", "end_date_a": "2016-01-11"}
        base |= {"start_date_b": "2016-01-11", "end_date_b": "2016-01-18", "label": "home"}
    else:
        base |= {"start_date": "2016-01-04", "end_date": "2016-01-11"}
        base |= {"label": "work"} if kind == AGGREGATE else {"label_a": "home", "label_b": "work"}
    return base | params


def site_db(tiny_db, sites, **events):
    """A tiny FlowDB whose events name sites: (site_id, lon, lat[, first, last]) is one version of
    a site (numbered 0, 1, ... in the order listed), with a cell of the same id in service forever."""
    cells = {site[0]: site[:3] for site in sites}
    machine = tiny_db(admins=ADMINS, cells=list(cells.values()), **events)
    machine.db.execute("UPDATE infrastructure.cells SET site_id = id")
    versions: dict[str, int] = {}
    for site_id, lon, lat, *service in sites:
        version = versions[site_id] = versions.get(site_id, -1) + 1
        first, last = service or (None, None)
        machine.db.execute(
            "INSERT INTO infrastructure.sites (id, version, date_of_first_service, date_of_last_service, geom_point) "
            "VALUES (?, ?, ?::DATE, ?::DATE, ?)",
            [site_id, version, first, last, shapely.Point(lon, lat).wkb],
        )
    machine.db.refresh_cell_admin_units()
    return machine


def values(frame) -> dict:
    """The non-value columns (one unwrapped) -> value, NaN locations as None."""
    keys = [c for c in frame.columns if c != "value"]
    out = {}
    for row in frame.itertuples(index=False):
        key = tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row[:-1])
        out[key[0] if len(keys) == 1 else key] = row[-1]
    return out


def by_place(frame) -> dict:
    """Aggregate result as pcod -> value (the label column is checked to be constant)."""
    assert frame["label"].nunique() <= 1
    return {pcod: value for (_, pcod), value in values(frame).items()}


# -- geodesic distance ------------------------------------------------------------------------


def test_geodesic_distance_is_on_the_wgs84_ellipsoid():
    # Along the equator the geodesic is the equator itself: a · Δλ with a = 6 378 137 m.
    assert geodesic_distance(0, 0, 0.01, 0) == pytest.approx(6378137 * math.radians(0.01), abs=1e-6)
    # Vincenty's (1975) worked example, Flinders Peak to Buninyong: 54 972.271 m.
    flinders = (144 + 25 / 60 + 29.52440 / 3600, -(37 + 57 / 60 + 3.72030 / 3600))
    buninyong = (143 + 55 / 60 + 35.38390 / 3600, -(37 + 39 / 60 + 10.15610 / 3600))
    assert geodesic_distance(*flinders, *buninyong) == pytest.approx(54972.271, abs=1e-3)
    # Along a meridian, 0° → 1° of latitude is 110 574.4 m (less than along the equator: flattening).
    assert geodesic_distance(0, 0, 0, 1) == pytest.approx(110574.4, abs=0.1)
    assert geodesic_distance(5, 5, 5, 5) == 0


# -- Hartigan clustering ----------------------------------------------------------------------

# One subscriber's sites in clustering order (call days descending; ties by site id):
#   S1 (0, 0) 3 days · S2 (0.006, 0.003) 2 · S3 (0.020, 0) 2 · S4 (0.0125, 0) 1 · S5 (0.0105, 0) 1 · S6 (-0.0075, 0) 1
ALICE_SITES = [
    ("S1", 0.0, 0.0),
    ("S2", 0.006, 0.003),
    ("S3", 0.020, 0.0),
    ("S4", 0.0125, 0.0),
    ("S5", 0.0105, 0.0),
    ("S6", -0.0075, 0.0),
]


@pytest.mark.parametrize("slots", [meaningful_locations.SLOTS_AT_ONCE, 2])
def test_hartigan_hand_worked_example(monkeypatch, slots):
    monkeypatch.setattr(meaningful_locations, "SLOTS_AT_ONCE", slots)  # 2: one subscriber per batch
    lon = np.array([0.0, 0.006, 0.020, 0.0125, 0.0105, -0.0075, 0.0, 0.005])
    lat = np.array([0.0, 0.003, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    owner = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    position = np.array([0, 1, 2, 3, 4, 5, 0, 1])
    found = hartigan(owner, position, lon, lat, np.array([3, 2, 2, 1, 1, 1, 1, 1]), 1.0)
    # Subscriber 0, radius 1 km:
    #  S1 starts C1 at (0, 0), weight 3.
    #  S2 is 0.75 km from C1 (0.668 km east, 0.332 km north): joins; C1 = (0.012/5, 0.006/5) = (0.0024, 0.0012), weight 5.
    #  S3 is 1.96 km from C1: starts C2 at (0.020, 0), weight 2.
    #  S4 is 1.13 km from C1 but 0.83 km from C2: joins C2 = ((0.040 + 0.0125)/3, 0) = (0.0175, 0), weight 3.
    #  S5 is 0.91 km from C1 and 0.78 km from C2: the first cluster created wins, C1 =
    #     ((0.012 + 0.0105)/6, 0.006/6) = (0.00375, 0.001), weight 6.
    #  S6 was 0.83 km from S1, but C1 has moved east: 1.25 km away; 2.78 km from C2: starts C3.
    # Subscriber 1 (clustered in the same steps, independently): (0, 0) and (0.005, 0), 0.56 km apart:
    #     one cluster at (0.0025, 0), weight 2.
    assert found.member.tolist() == [0, 0, 1, 1, 0, 2, 3, 3]
    assert found.owner.tolist() == [0, 0, 0, 1]
    assert found.lon == pytest.approx([0.00375, 0.0175, -0.0075, 0.0025])
    assert found.lat == pytest.approx([0.001, 0.0, 0.0, 0.0])
    assert found.weight.tolist() == [6, 3, 1, 2]
    # Cluster scores are unweighted means over member sites.
    assert found.mean_of(np.array([-0.5, 1, -1, 1, 1, -1, 0, 1])) == pytest.approx([0.5, 0, -1, 0.5])


def test_hartigan_radius_is_strict_and_geodesic():
    # Two sites on the equator 0.01° apart: 1113.195 m on the ellipsoid (1111.95 m on a 6371 km sphere).
    args = (np.array([0, 0]), np.array([0, 1]), np.array([0.0, 0.01]), np.array([0.0, 0.0]), np.array([1, 1]))
    assert hartigan(*args, 1.1132).member.tolist() == [0, 0]  # 1113.195 m < 1113.2 m
    assert hartigan(*args, 1.1131).member.tolist() == [0, 1]  # not < 1113.1 m (a sphere would say it is)
    exactly = float(geodesic_distance(0, 0, 0.01, 0)) / 1000
    assert exactly * 1000 == geodesic_distance(0, 0, 0.01, 0)
    assert hartigan(*args, exactly).member.tolist() == [0, 1]  # at the radius is not within it


def test_hartigan_of_nothing():
    empty = np.array([], dtype=np.int64)
    found = hartigan(empty, empty, empty.astype(float), empty.astype(float), empty, 1.0)
    assert len(found.member) == len(found.lon) == 0


# Alice's events (window 2016-01-04 … 2016-01-11). Per site: call days (distinct days) and the
# mean hour score (HALF_DAYS) and day score (WEEK) of its events:
#   S1 Mon 09:00, Mon 10:00, Tue 09:00, Wed 20:00 → 3 days, hour (-1-1-1+1)/4 = -0.5, day 1
#   S2 Sat 13:00, Sun 14:00 → 2 days, (1, -1)
#   S3 Mon 08:00, Tue 08:00 → 2 days, (-1, 1)
#   S4 Wed 12:00 → (1, 1)     S5 Thu 15:00 → (1, 1)     S6 (an sms) Sat 03:00 → (-1, -1)
# Clusters as in the hand-worked example: C1 {S1, S2, S5} centre lon 0.00375 (W1), C2 {S3, S4}
# centre 0.0175 (W2), C3 {S6} at -0.0075 (W1). Cluster scores (unweighted site means):
#   C1 ((-0.5+1+1)/3, (1-1+1)/3) = (0.5, 1/3) → inside "work" (x 0.25‥1.1, y 0‥1.1).
#      Weighting by events would give x = 1/7, by call days x = 0.25 (on the edge): neither is work.
#   C2 (0, 1): a corner of "leisure" — on the boundary, so not inside: "unknown".
#   C3 (-1, -1) → inside "home".
ALICE_CALLS = [
    ("alice", "2016-01-04 09:00", "S1"),
    ("alice", "2016-01-04 10:00", "S1"),
    ("alice", "2016-01-05 09:00", "S1"),
    ("alice", "2016-01-06 20:00", "S1"),
    ("alice", "2016-01-09 13:00", "S2"),
    ("alice", "2016-01-10 14:00", "S2"),
    ("alice", "2016-01-04 08:00", "S3"),
    ("alice", "2016-01-05 08:00", "S3"),
    ("alice", "2016-01-06 12:00", "S4"),
    ("alice", "2016-01-07 15:00", "S5"),
    # outside the window: a far site (SE, in E1) just before it and at its (exclusive) end
    ("alice", "2016-01-03 23:59", "SE"),
    ("alice", "2016-01-11 00:00", "SE"),
]
ALICE_SMS = [("alice", "2016-01-09 03:00", "S6")]
FAR_SITE = ("SE", 0.07, 0.0)


@pytest.fixture
def alice(tiny_db):
    return site_db(tiny_db, [*ALICE_SITES, FAR_SITE], calls=ALICE_CALLS, sms=ALICE_SMS)


def test_aggregate_clusters_scores_and_labels(alice):
    # Each label has one cluster of alice's, so it weighs 1 where its centre lies; the SE events
    # are outside the window (they would add a cluster in E1).
    assert values(alice.compute(spec(label="work"))) == {("work", "W1"): 1.0}  # C1
    assert values(alice.compute(spec(label="home"))) == {("home", "W1"): 1.0}  # C3
    assert values(alice.compute(spec(label="unknown"))) == {("unknown", "W2"): 1.0}  # C2
    assert values(alice.compute(spec(label="leisure"))) == {}  # C2 only touches it
    # nothing in the window, nothing found
    assert values(alice.compute(spec(start_date="2016-02-01", end_date="2016-02-08"))) == {}
    # admin1: C1 lies in P
    assert values(alice.compute(spec(label="work", aggregation_unit="admin1"))) == {("work", "P"): 1.0}


def test_event_types(alice):
    # Calls only: S6's sms is gone, so alice has no home cluster (and the others are unchanged).
    assert values(alice.compute(spec(label="home", event_types=["calls"]))) == {}
    assert values(alice.compute(spec(label="work", event_types=["calls"]))) == {("work", "W1"): 1.0}
    assert values(alice.compute(spec(label="home", event_types=["sms"]))) == {("home", "W1"): 1.0}


def test_call_threshold_drops_small_clusters_before_counting(tiny_db):
    # ben: S3 on Mon and Tue 13:00 (2 days, (1, 1): work) and S6 Wed 14:00 (1 day, work), 3 km
    # apart → two work clusters, W2 (weight 2) and W1 (weight 1), 1/2 each.
    ben = [("ben", "2016-01-04 13:00", "S3"), ("ben", "2016-01-05 13:00", "S3"), ("ben", "2016-01-06 14:00", "S6")]
    m = site_db(tiny_db, ALICE_SITES, calls=ALICE_CALLS[:10] + ben, sms=ALICE_SMS)
    assert by_place(m.compute(spec())) == {"W1": 1.5, "W2": 0.5}  # alice's C1 + ben's halves
    # threshold 2: ben's one-day cluster goes, so his remaining work cluster counts whole
    assert by_place(m.compute(spec(tower_cluster_call_threshold=2))) == {"W1": 1.0, "W2": 1.0}
    # threshold 3: both of ben's go (2 < 3); alice's C1 (6 days) stays
    assert by_place(m.compute(spec(tower_cluster_call_threshold=3))) == {"W1": 1.0}
    # alice's C2 has exactly 3 call days: kept at 3 (>=), dropped at 4
    assert by_place(m.compute(spec(label="unknown", tower_cluster_call_threshold=3))) == {"W2": 1.0}
    assert by_place(m.compute(spec(label="unknown", tower_cluster_call_threshold=4))) == {}
    assert by_place(m.compute(spec(label="home", tower_cluster_call_threshold=2))) == {}  # C3 has 1 day


def test_radius(alice):
    # With a 5 km radius all six sites form one cluster: S2..S6 are all within 5 km of the moving
    # centre. Its score is the mean of the six site scores: x (-0.5+1-1+1+1-1)/6 = 0.0833, y
    # (1-1+1+1+1-1)/6 = 1/3 — in no label. Its centre (call-day weighted, 10 days):
    # lon (0·3 + 0.006·2 + 0.020·2 + 0.0125 + 0.0105 - 0.0075)/10 = 0.00675 → W1.
    assert values(alice.compute(spec(label="unknown", tower_cluster_radius=5))) == {("unknown", "W1"): 1.0}
    # With 100 m every site is its own cluster: S1 (-0.5, 1) unknown, S2 (1, -1) unknown, S3 (-1, 1)
    # home, S4 and S5 (1, 1) work, S6 (-1, -1) home. Work: S4 at 0.0125 and S5 at 0.0105, both W2.
    assert values(alice.compute(spec(tower_cluster_radius=0.1))) == {("work", "W2"): 1.0}
    assert values(alice.compute(spec(label="home", tower_cluster_radius=0.1))) == {
        ("home", "W2"): 0.5,
        ("home", "W1"): 0.5,
    }


def test_hour_and_day_scores_index_from_midnight_and_monday(tiny_db):
    # Hour h scores h/12 - 1 (0 → -1, 12 → 0, 23 → 11/12); days monday … sunday score
    # -1, -0.5, 0, 0.25, 0.5, 0.75, 1. Events at one site: Mon 00:30 (-1, -1), Wed 12:00 (0, 0),
    # Sun 23:59 (11/12, 1) → scores ((-1 + 0 + 11/12)/3, (-1 + 0 + 1)/3) = (-1/36, 0).
    ramp = [h / 12 - 1 for h in range(24)]
    week = dict(zip(DAYS, [-1, -0.5, 0, 0.25, 0.5, 0.75, 1]))
    x, e = -1 / 36, 0.001
    calls = [("ann", "2016-01-04 00:30", "S1"), ("ann", "2016-01-06 12:00", "S1"), ("ann", "2016-01-10 23:59", "S1")]
    m = site_db(tiny_db, ALICE_SITES, calls=calls)
    params = dict(tower_hour_of_day_scores=ramp, tower_day_of_week_scores=week, label="dot")
    assert by_place(m.compute(spec(labels={"dot": box(x - e, -e, x + e, e)}, **params))) == {"W1": 1.0}
    # a label just beside the point does not hold it
    assert by_place(m.compute(spec(labels={"dot": box(x + e, -e, x + 3 * e, e)}, **params))) == {}


def test_site_versions_and_centres_outside_every_unit(tiny_db):
    # MV moved on 2016-01-08 from W1 to E1: hank's calls before and after are at two site versions,
    # 10 km apart, so two home clusters of 1/2 each. ivy's site lies outside every admin3 unit:
    # her cluster counts at a null pcod (FlowKit's left join).
    sites = [("MV", -0.02, 0.01, "2016-01-01", "2016-01-07"), ("MV", 0.07, 0.01, "2016-01-08", None), ("OUT", 0.3, 0)]
    calls = [("hank", "2016-01-05 08:00", "MV"), ("hank", "2016-01-09 08:00", "MV"), ("ivy", "2016-01-05 08:00", "OUT")]
    m = site_db(tiny_db, sites, calls=calls)
    assert by_place(m.compute(spec(label="home"))) == {"W1": 0.5, "E1": 0.5, None: 1.0}


# -- OD matrices ------------------------------------------------------------------------------

# Three sites ≥ 4 km apart (each its own cluster); hour < 12 → home (x = -1), ≥ 12 → work (x = 1).
OD_SITES = [("SW1", -0.02, 0.0), ("SW2", 0.03, 0.0), ("SE1", 0.07, 0.0)]
OD_LABELS = {"home": box(-1.1, -1.1, -0.5, 1.1), "work": box(0.5, -1.1, 1.1, 1.1)}
OD_CALLS = [
    # period a (2016-01-04 … 2016-01-11)
    ("carol", "2016-01-04 08:00", "SW1"),  # home W1
    ("carol", "2016-01-04 14:00", "SW2"),  # work W2
    ("dave", "2016-01-04 08:00", "SW1"),  # home W1
    ("dave", "2016-01-05 14:00", "SW2"),  # work W2
    ("dave", "2016-01-06 15:00", "SE1"),  # work E1
    ("erin", "2016-01-04 14:00", "SE1"),  # work E1 only
    ("frank", "2016-01-05 07:00", "SW2"),  # home W2 only
    # period b (2016-01-11 … 2016-01-18)
    ("carol", "2016-01-12 08:00", "SE1"),  # home E1
    ("dave", "2016-01-13 09:00", "SW1"),  # home W1
    ("frank", "2016-01-11 00:00", "SE1"),  # home E1: the first instant of b, not the last of a
    ("gina", "2016-01-14 10:00", "SW2"),  # home W2, in b only
]


@pytest.fixture
def od(tiny_db):
    return site_db(tiny_db, OD_SITES, calls=OD_CALLS)


def od_spec(kind, **params):
    return spec(kind, labels=OD_LABELS, tower_day_of_week_scores=FLAT_WEEK, **params)


def test_aggregate_splits_subscribers_over_their_clusters(od):
    # work in period a: carol W2 (1), dave W2 and E1 (1/2 each), erin E1 (1)
    assert by_place(od.compute(od_spec(AGGREGATE))) == {"W2": 1.5, "E1": 1.5}
    # home in period a: carol W1, dave W1, frank W2 (gina and frank's E1 call are in period b)
    assert by_place(od.compute(od_spec(AGGREGATE, label="home"))) == {"W1": 2.0, "W2": 1.0}


def test_between_label_od_matrix(od):
    # home → work in period a: carol W1 → W2 (1); dave W1 → W2 and W1 → E1 (1/(1·2) each);
    # erin has no home and frank no work: left out.
    assert values(od.compute(od_spec(LABEL_OD))) == {
        ("home", "work", "W1", "W2"): 1.5,
        ("home", "work", "W1", "E1"): 0.5,
    }
    # work → work pairs every work cluster with every other, itself included: dave's 2×2 pairs
    # weigh 1/4 each; carol (W2) and erin (E1) pair their single cluster with itself.
    assert values(od.compute(od_spec(LABEL_OD, label_a="work"))) == {
        ("work", "work", "W2", "W2"): 1.25,
        ("work", "work", "W2", "E1"): 0.25,
        ("work", "work", "E1", "W2"): 0.25,
        ("work", "work", "E1", "E1"): 1.25,
    }


def test_between_dates_od_matrix(od):
    # home in a → home in b: carol W1 → E1, dave W1 → W1, frank W2 → E1 (his 2016-01-11 00:00 call
    # is in b only: were it also in a he would have two home clusters there and weigh 1/2 per pair).
    # gina (b only) and erin (no home) are left out.
    assert values(od.compute(od_spec(DATES_OD))) == {
        ("home", "home", "W1", "E1"): 1.0,
        ("home", "home", "W1", "W1"): 1.0,
        ("home", "home", "W2", "E1"): 1.0,
    }


def test_subscriber_subset(od):
    # daily_location on 2016-01-04 holds carol, dave and erin (not frank): frank's home leaves W2.
    subset = od.as_spec(
        {"query_kind": "daily_location", "date": "2016-01-04", "aggregation_unit": "admin3", "method": "last"}
    )
    od.compute(subset)
    assert by_place(od.compute(od_spec(AGGREGATE, label="home", subscriber_subset=subset.query_id))) == {"W1": 2.0}


# -- redaction --------------------------------------------------------------------------------


def test_redaction_keeps_values_above_15(tiny_db):
    # One morning call each on Mon 2016-01-04 and Tue 2016-01-05 (one home cluster per subscriber):
    # 16 subscribers at SW1 (W1), 15 at SW2 (W2), 15 at SE1 (E1), and "split" at SE1 and at OUT
    # (outside every unit, 25.6 km away) → two home clusters of 1/2 each.
    sites = [*OD_SITES, ("OUT", 0.3, 0.0)]
    groups = {"SW1": 16, "SW2": 15, "SE1": 15}
    people = [(f"{site}-{i}", site) for site, n in groups.items() for i in range(n)]
    people += [("split", "SE1"), ("split", "OUT")]
    calls = [(who, f"{day} 08:00", site) for who, site in people for day in ("2016-01-04", "2016-01-05")]
    m = site_db(tiny_db, sites, calls=calls)
    home = od_spec(AGGREGATE, label="home")
    assert by_place(m.compute(home)) == {"W1": 16.0, "W2": 15.0, "E1": 15.5, None: 0.5}
    assert by_place(m.served(home)) == {"W1": 16.0, "E1": 15.5}  # 15 and 0.5 are not > 15
    # home → home pairs: one pair per subscriber, split's 2×2 pairs weigh 1/4 each.
    pairs = {
        ("home", "home", "W1", "W1"): 16.0,
        ("home", "home", "W2", "W2"): 15.0,
        ("home", "home", "E1", "E1"): 15.25,
        ("home", "home", "E1", None): 0.25,
        ("home", "home", None, "E1"): 0.25,
        ("home", "home", None, None): 0.25,
    }
    served = {key: value for key, value in pairs.items() if value > 15}
    by_label = od_spec(LABEL_OD, label_b="home")
    assert values(m.compute(by_label)) == pairs
    assert values(m.served(by_label)) == served
    # Between dates: period a is the Monday, b the Tuesday — the same clusters in each. FlowKit
    # serves this kind unredacted; we redact it like the others.
    by_dates = od_spec(DATES_OD, end_date_a="2016-01-05", start_date_b="2016-01-05", end_date_b="2016-01-06")
    assert values(m.compute(by_dates)) == pairs
    assert values(m.served(by_dates)) == served


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, change, field",
    [
        (AGGREGATE, {"aggregation_unit": "lon-lat"}, "aggregation_unit"),
        (AGGREGATE, {"aggregation_unit": "versioned-site"}, "aggregation_unit"),
        (AGGREGATE, {"tower_hour_of_day_scores": [0] * 23}, "tower_hour_of_day_scores"),
        (AGGREGATE, {"tower_hour_of_day_scores": [0] * 3 + [1.5] + [0] * 20}, "tower_hour_of_day_scores.3"),
        (
            AGGREGATE,
            {"tower_day_of_week_scores": {d: 0 for d in DAYS if d != "friday"}},
            "tower_day_of_week_scores.friday",
        ),
        (AGGREGATE, {"tower_day_of_week_scores": {**FLAT_WEEK, "funday": 0}}, "tower_day_of_week_scores.funday"),
        (AGGREGATE, {"tower_day_of_week_scores": {**FLAT_WEEK, "monday": -2}}, "tower_day_of_week_scores.monday"),
        (AGGREGATE, {"labels": {**LABELS, "unknown": box(2, 2, 3, 3)}}, "labels"),
        (AGGREGATE, {"labels": {"a": box(0, 0, 1, 1), "b": box(0.5, 0.5, 2, 2)}, "label": "a"}, "intersect"),
        (AGGREGATE, {"labels": {"a": box(0, 0, 1, 1), "b": box(1, 0, 2, 1)}, "label": "a"}, "'a' and 'b'"),
        (AGGREGATE, {"labels": {"a": {"type": "Point", "coordinates": [0, 0]}}, "label": "a"}, "labels.a.type"),
        (
            AGGREGATE,
            {"labels": {"a": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1]]]}}},
            "labels.a",
        ),
        (AGGREGATE, {"labels": {"a": {"type": "Polygon", "coordinates": [[[0, 0], [1]]]}}}, "labels.a"),
        (AGGREGATE, {"label": "night"}, "label"),
        (AGGREGATE, {"tower_cluster_radius": 0}, "tower_cluster_radius"),
        (AGGREGATE, {"tower_cluster_call_threshold": 1.5}, "tower_cluster_call_threshold"),
        (AGGREGATE, {"hours": {"start_hour": 0, "end_hour": 12}}, "hours"),
        (AGGREGATE, {"mapping_table": "geography.mapping"}, "mapping_table"),
        (AGGREGATE, {"end_date": "2016-01-04"}, "end_date must be after start_date"),
        (AGGREGATE, {"start_date": None}, "start_date"),
        (LABEL_OD, {"label_b": "night"}, "label_b"),
        (LABEL_OD, {"label_a": None}, "label_a"),
        (DATES_OD, {"end_date_b": "2016-01-10"}, "end_date_b must be after start_date_b"),
        (DATES_OD, {"start_date_a": "yesterday"}, "start_date_a"),
        (DATES_OD, {"label": "night"}, "label"),
    ],
)
def test_invalid_specs_name_the_field(kind, change, field):
    with pytest.raises(SpecError) as raised:
        parse_spec(spec(kind, **change))
    assert field in raised.value.msg


def test_label_rules():
    # MultiPolygons, open rings (as in FlowKit's examples) and 'unknown' as the label are accepted
    two = {"type": "MultiPolygon", "coordinates": [[[[0, 0], [0, 1], [1, 1]]], [[[2, 2], [2, 3], [3, 3]]]]}
    parsed = parse_spec(spec(labels={"two": two}, label="unknown"))
    assert parsed.labels["two"].shape.area == 1.0
    # labels need not cover the plane, and may be empty (everything is 'unknown')
    assert parse_spec(spec(labels={}, label="unknown")).labels == {}


def test_defaults_and_flowclient_parity():
    # flowclient 1.34 emits every optional parameter; our builders and parser agree with it.
    common = dict(
        aggregation_unit="admin3",
        labels=LABELS,
        tower_day_of_week_scores=WEEK,
        tower_hour_of_day_scores=HALF_DAYS,
    )
    cases = {
        AGGREGATE: dict(common, start_date="2016-01-04", end_date="2016-01-11", label="work"),
        LABEL_OD: dict(common, start_date="2016-01-04", end_date="2016-01-11", label_a="home", label_b="work"),
        DATES_OD: dict(
            common,
            start_date_a="2016-01-04",
            end_date_a="2016-01-11",
            start_date_b="2016-01-11",
            end_date_b="2016-01-18",
            label="home",
        ),
    }
    for kind, params in cases.items():
        theirs = getattr(flowclient.aggregates, f"{kind}_spec")(**params)
        ours = getattr(flowkit.client, f"{kind}_spec")(**params)
        assert ours == theirs
        parsed = parse_spec(theirs)
        assert (parsed.tower_cluster_radius, parsed.tower_cluster_call_threshold) == (1.0, 0)
        assert parsed.model_dump(mode="json") == theirs


@pytest.mark.parametrize("kind", [AGGREGATE, LABEL_OD, DATES_OD])
def test_examples_are_valid_and_redacted_above_15(kind):
    model = top_level_kinds()[kind]
    assert parse_spec(model.example).query_kind == kind
    assert model.redaction.columns == ("value",) and not model.redaction.private
