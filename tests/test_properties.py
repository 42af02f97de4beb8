"""Properties that hold for any data: aggregates add up to what they aggregate.

A small synthetic country; Hypothesis picks days, windows and units, and each property is
checked on the unredacted stored results (Machine.dataframe) against plain SQL counts.
"""

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowkit.db import FlowDB
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.machine.catalogue import kinds, parse_spec
from flowkit.machine.queries import Machine

FIRST, DAYS = date(2016, 1, 1), 14
UNITS = st.sampled_from(["admin0", "admin1", "admin2", "admin3", "lon-lat"])
DAY = st.integers(0, DAYS - 1).map(lambda n: FIRST + timedelta(days=n))
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def machine():
    db = FlowDB()
    last = FIRST + timedelta(days=DAYS - 1)
    generate(
        db,
        SyntheticConfig(
            seed=5, subscribers=400, start_date=FIRST, end_date=last, crisis_date=FIRST + timedelta(days=7)
        ),
    )
    machine = Machine(db)
    yield machine
    machine.close()


def scalar(machine, sql, *parameters):
    return machine.db.execute(sql, list(parameters)).fetchone()[0]


def daily(day, unit, method="last"):
    return {"query_kind": "daily_location", "date": day.isoformat(), "aggregation_unit": unit, "method": method}


def nested(spec):
    return kinds()[spec["query_kind"]].model_validate(spec)


@SETTINGS
@given(day=DAY, unit=UNITS, method=st.sampled_from(["last", "most-common"]))
def test_spatial_aggregate_counts_every_located_subscriber_once(machine, day, unit, method):
    located = machine.dataframe(nested(daily(day, unit, method)))
    counts = machine.dataframe(parse_spec({"query_kind": "spatial_aggregate", "locations": daily(day, unit, method)}))
    assert counts.value.sum() == located.subscriber.nunique() == len(located)


@SETTINGS
@given(first=DAY, second=DAY, unit=UNITS)
def test_inner_flows_sum_to_subscribers_located_on_both_days(machine, first, second, unit):
    spec = {"query_kind": "flows", "from_location": daily(first, unit), "to_location": daily(second, unit)}
    flows = machine.dataframe(parse_spec(spec))
    both = set(machine.dataframe(nested(daily(first, unit))).subscriber) & set(
        machine.dataframe(nested(daily(second, unit))).subscriber
    )
    assert flows.value.sum() == len(both)
    inflows = machine.dataframe(parse_spec({**spec, "query_kind": "inflows"}))
    outflows = machine.dataframe(parse_spec({**spec, "query_kind": "outflows"}))
    assert inflows.value.sum() == outflows.value.sum() == len(both)


@SETTINGS
@given(start=DAY, length=st.integers(1, 5), bins=st.integers(1, 12))
def test_histogram_counts_sum_to_the_metric_rows(machine, start, length, bins):
    window = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=length)).isoformat()}
    metric = {"query_kind": "event_count", **window}
    histogram = machine.dataframe(
        parse_spec({"query_kind": "histogram_aggregate", "metric": metric, "bins": {"n_bins": bins}})
    )
    assert len(histogram) == bins
    assert histogram.value.sum() == len(machine.dataframe(nested(metric)))


@SETTINGS
@given(start=DAY, length=st.integers(1, 4))
def test_event_counts_add_up_to_the_located_events(machine, start, length):
    stop = start + timedelta(days=length)
    spec = {
        "query_kind": "location_event_counts",
        "start_date": start.isoformat(),
        "end_date": stop.isoformat(),
        "aggregation_unit": "admin0",
        "interval": "day",
    }
    counts = machine.dataframe(parse_spec(spec))
    events = scalar(
        machine,
        "SELECT count(*) FROM (SELECT datetime FROM events.calls UNION ALL SELECT datetime FROM events.sms) "
        "WHERE datetime >= ?::TIMESTAMP AND datetime < ?::TIMESTAMP",
        start.isoformat(),
        stop.isoformat(),
    )
    assert counts.value.sum() == events  # every synthetic cell lies inside the country


@SETTINGS
@given(start=DAY, length=st.integers(1, 4), unit=UNITS)
def test_unique_subscribers_at_admin0_are_all_active_subscribers(machine, start, length, unit):
    window = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=length)).isoformat()}
    everyone = machine.dataframe(
        parse_spec({"query_kind": "unique_subscriber_counts", "aggregation_unit": "admin0", **window})
    )
    per_unit = machine.dataframe(
        parse_spec({"query_kind": "unique_subscriber_counts", "aggregation_unit": unit, **window})
    )
    active = scalar(
        machine,
        "SELECT count(DISTINCT msisdn) FROM (SELECT msisdn, datetime FROM events.calls UNION ALL "
        "SELECT msisdn, datetime FROM events.sms) WHERE datetime >= ?::TIMESTAMP AND datetime < ?::TIMESTAMP",
        window["start_date"],
        window["end_date"],
    )
    assert everyone.value.sum() == active
    assert per_unit.value.sum() >= active  # a subscriber seen in two places counts in both


@SETTINGS
@given(start=DAY, periods=st.integers(1, 5))
def test_calendar_patterns_partition_the_active_subscribers(machine, start, periods):
    spec = {"query_kind": "calendar_activity", "start_date": start.isoformat(), "total_periods": periods}
    patterns = machine.dataframe(parse_spec(spec))
    active = scalar(
        machine,
        "SELECT count(DISTINCT msisdn) FROM (SELECT msisdn, datetime FROM events.calls UNION ALL "
        "SELECT msisdn, datetime FROM events.sms) WHERE datetime >= ?::TIMESTAMP AND datetime < ?::TIMESTAMP",
        start.isoformat(),
        (start + timedelta(days=periods)).isoformat(),
    )
    assert patterns.value.sum() == active


@SETTINGS
@given(day=DAY, unit=UNITS)
def test_joined_count_equals_subscribers_with_both_location_and_metric(machine, day, unit):
    metric = {
        "query_kind": "radius_of_gyration",
        "start_date": day.isoformat(),
        "end_date": (day + timedelta(days=1)).isoformat(),
    }
    spec = {
        "query_kind": "joined_spatial_aggregate",
        "locations": daily(day, unit),
        "metric": metric,
        "method": "count",
    }
    joined = machine.dataframe(parse_spec(spec))
    both = set(machine.dataframe(nested(daily(day, unit))).subscriber) & set(
        machine.dataframe(nested(metric)).subscriber
    )
    assert joined.value.sum() == len(both)
