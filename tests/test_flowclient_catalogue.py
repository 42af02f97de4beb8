"""Every aggregate flowclient 1.34 can build runs through flowclient unchanged, over HTTP.

Each query below is written as a notebook would write it with flowclient's own builders; the
server must accept the JSON flowclient sends and serve a result flowclient can read.
"""

from datetime import date, timedelta

import flowclient
import pytest
from tests.live_server import serving

from flowkit.api.app import create_app
from flowkit.auth.tokens import ensure_key_pair, mint_token
from flowkit.db import FlowDB
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.machine.catalogue import scope_universe
from flowkit.machine.queries import Machine

pytestmark = pytest.mark.slow

WEEK = {"start_date": "2016-01-04", "end_date": "2016-01-11"}
UNIT = {"aggregation_unit": "admin3"}
# Meaningful-location labels in (hour score, day-of-week score) space: daytime sites score < 0.
LABELS = {
    "day": {
        "type": "Polygon",
        "coordinates": [[[-1.1, -1.1], [-1.1, 1.1], [-1e-06, 1.1], [-1e-06, -1.1], [-1.1, -1.1]]],
    },
    "evening": {
        "type": "Polygon",
        "coordinates": [[[1e-06, -1.1], [1e-06, 1.1], [1.1, 1.1], [1.1, -1.1], [1e-06, -1.1]]],
    },
}
HOUR_SCORES = [1.0] * 7 + [-1.0] * 12 + [1.0] * 5
DAY_SCORES = dict.fromkeys(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], 0.5)
MEANINGFUL = {
    "labels": LABELS,
    "tower_hour_of_day_scores": HOUR_SCORES,
    "tower_day_of_week_scores": DAY_SCORES,
    **UNIT,
}


def daily(day, method="last"):
    return flowclient.daily_location_spec(date=day, method=method, **UNIT)


def modal(start, end):
    return flowclient.modal_location_from_dates_spec(start_date=start, end_date=end, method="most-common", **UNIT)


def unique_locations():
    return flowclient.unique_locations_spec(**WEEK, **UNIT)


def coalesced(start, end):
    visits = flowclient.location_visits_spec(
        locations=[daily((date.fromisoformat(start) + timedelta(days=i)).isoformat()) for i in range(7)]
    )
    majority = flowclient.majority_location_spec(subscriber_location_weights=visits)
    return flowclient.coalesced_location_spec(
        preferred_location=majority,
        fallback_location=flowclient.majority_location_spec(subscriber_location_weights=visits, minimum_total_weight=2),
        subscriber_location_weights=visits,
        weight_threshold=2,
    )


def mobility_labels():
    return flowclient.mobility_classification_spec(
        locations=[coalesced("2016-01-04", "2016-01-11"), coalesced("2016-01-11", "2016-01-18")],
        stay_length_threshold=2,
    )


QUERIES = {
    "spatial_aggregate": lambda conn: flowclient.spatial_aggregate(
        connection=conn, locations=modal("2016-01-04", "2016-01-11")
    ),
    "joined_spatial_aggregate": lambda conn: flowclient.joined_spatial_aggregate(
        connection=conn, locations=daily("2016-01-05"), metric=flowclient.radius_of_gyration_spec(**WEEK), method="avg"
    ),
    "joined_spatial_aggregate_distr": lambda conn: flowclient.joined_spatial_aggregate(
        connection=conn, locations=daily("2016-01-05"), metric=flowclient.handset_spec(**WEEK), method="distr"
    ),
    "histogram_aggregate": lambda conn: flowclient.histogram_aggregate(
        connection=conn, metric=flowclient.event_count_spec(**WEEK), bins=5, range=(0, 100)
    ),
    "flows": lambda conn: flowclient.flows(
        connection=conn, from_location=daily("2016-01-05"), to_location=daily("2016-01-06")
    ),
    "inflows": lambda conn: flowclient.inflows(
        connection=conn, from_location=daily("2016-01-05"), to_location=daily("2016-01-06")
    ),
    "outflows": lambda conn: flowclient.outflows(
        connection=conn, from_location=unique_locations(), to_location=daily("2016-01-06")
    ),
    "location_event_counts": lambda conn: flowclient.location_event_counts(
        connection=conn, count_interval="day", **WEEK, **UNIT
    ),
    "unique_subscriber_counts": lambda conn: flowclient.unique_subscriber_counts(connection=conn, **WEEK, **UNIT),
    "location_introversion": lambda conn: flowclient.location_introversion(connection=conn, **WEEK, **UNIT),
    "total_network_objects": lambda conn: flowclient.total_network_objects(connection=conn, **WEEK, **UNIT),
    "aggregate_network_objects": lambda conn: flowclient.aggregate_network_objects(
        connection=conn,
        total_network_objects=flowclient.aggregates.total_network_objects_spec(total_by="hour", **WEEK, **UNIT),
        statistic="avg",
        aggregate_by="day",
    ),
    "active_at_reference_location_counts": lambda conn: flowclient.active_at_reference_location_counts(
        connection=conn, reference_locations=modal("2016-01-04", "2016-01-11"), unique_locations=unique_locations()
    ),
    "unmoving_at_reference_location_counts": lambda conn: flowclient.unmoving_at_reference_location_counts(
        connection=conn, reference_locations=modal("2016-01-04", "2016-01-11"), unique_locations=unique_locations()
    ),
    "unmoving_counts": lambda conn: flowclient.unmoving_counts(connection=conn, unique_locations=unique_locations()),
    "trips_od_matrix": lambda conn: flowclient.trips_od_matrix(connection=conn, **WEEK, **UNIT),
    "consecutive_trips_od_matrix": lambda conn: flowclient.consecutive_trips_od_matrix(connection=conn, **WEEK, **UNIT),
    "labelled_spatial_aggregate": lambda conn: flowclient.labelled_spatial_aggregate(
        connection=conn, locations=coalesced("2016-01-11", "2016-01-18"), labels=mobility_labels()
    ),
    "labelled_flows": lambda conn: flowclient.labelled_flows(
        connection=conn,
        from_location=coalesced("2016-01-04", "2016-01-11"),
        to_location=coalesced("2016-01-11", "2016-01-18"),
        labels=mobility_labels(),
    ),
    "calendar_activity": lambda conn: flowclient.calendar_activity(
        connection=conn, start_date="2016-01-04", total_periods=7
    ),
    "localised_calendar_activity": lambda conn: flowclient.localised_calendar_activity(
        connection=conn, start_date="2016-01-04", total_periods=7, locations=modal("2016-01-04", "2016-01-11")
    ),
    "meaningful_locations_aggregate": lambda conn: flowclient.meaningful_locations_aggregate(
        connection=conn, label="evening", **WEEK, **MEANINGFUL
    ),
    "meaningful_locations_between_label_od_matrix": lambda conn: (
        flowclient.meaningful_locations_between_label_od_matrix(
            connection=conn, label_a="day", label_b="evening", **WEEK, **MEANINGFUL
        )
    ),
    "meaningful_locations_between_dates_od_matrix": lambda conn: (
        flowclient.meaningful_locations_between_dates_od_matrix(
            connection=conn,
            start_date_a="2016-01-04",
            end_date_a="2016-01-08",
            start_date_b="2016-01-11",
            end_date_b="2016-01-15",
            label="evening",
            **MEANINGFUL,
        )
    ),
}


@pytest.fixture(scope="module")
def connection(tmp_path_factory):
    db = FlowDB()
    generate(
        db,
        SyntheticConfig(
            seed=11,
            subscribers=1500,
            start_date=date(2016, 1, 1),
            end_date=date(2016, 1, 20),
            crisis_date=date(2016, 1, 15),
        ),
    )
    private_key, public_key = ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)
    machine = Machine(db)
    token = mint_token(
        private_key, user="nb", audience="srv", roles={"all": scope_universe()}, lifetime=timedelta(hours=1)
    )
    with serving(create_app(machine, public_key=public_key, server_name="srv")) as url:
        yield flowclient.connect(url=url, token=token)
    machine.close()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_flowclient_query_runs(connection, name):
    query = QUERIES[name](connection)
    result = query.get_result(poll_interval=0.1, disable_progress=True)
    assert query.status == "completed"
    assert list(result.columns) or result.empty  # a DataFrame flowclient could build from the JSON
    if not result.empty and "value" in result.columns and name not in ("histogram_aggregate",):
        assert result["value"].notna().any()


def test_every_flowclient_aggregate_is_exercised():
    """flowclient 1.34's aggregate constructors (flowkit-interfaces.md §3.1), all covered above."""
    constructors = {
        "location_event_counts", "meaningful_locations_aggregate", "meaningful_locations_between_label_od_matrix",
        "meaningful_locations_between_dates_od_matrix", "flows", "inflows", "outflows", "unique_subscriber_counts",
        "location_introversion", "total_network_objects", "aggregate_network_objects", "spatial_aggregate",
        "joined_spatial_aggregate", "histogram_aggregate", "active_at_reference_location_counts",
        "unmoving_at_reference_location_counts", "unmoving_counts", "consecutive_trips_od_matrix", "trips_od_matrix",
        "labelled_spatial_aggregate", "labelled_flows", "calendar_activity", "localised_calendar_activity",
    }  # fmt: skip
    assert all(hasattr(flowclient, name) for name in constructors)
    assert constructors <= set(QUERIES)
