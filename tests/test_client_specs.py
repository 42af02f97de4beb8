"""Spec builders derived from the catalogue: one per kind, shaped by the model, equal to flowclient's."""

import inspect
from typing import Literal

import flowclient
import jwt
import pytest
from pydantic import Field, ValidationError

import flowkit.client
from flowkit.client import specs
from flowkit.machine import catalogue
from flowkit.machine.spec import QuerySpec

KINDS = catalogue.kinds()
TOKEN = jwt.encode({"sub": "alice"}, "a test secret of at least 32 bytes", algorithm="HS256")

DAY = dict(date="2016-01-01", aggregation_unit="admin3", method="last")
WINDOW = dict(start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin2")
FILTERS = dict(event_types=["calls", "sms"], hours=(22, 4))


def flowclient_builder(kind):
    return getattr(flowclient, f"{kind}_spec", None) or getattr(flowclient.aggregates, f"{kind}_spec", None)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_a_spec_builder_and_top_level_kinds_a_query_constructor(kind):
    assert getattr(flowkit.client, f"{kind}_spec") is getattr(specs, f"{kind}_spec")
    assert f"{kind}_spec" in flowkit.client.__all__
    assert hasattr(flowkit.client, kind) == KINDS[kind].top_level == (kind in flowkit.client.__all__)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_signature_and_doc_come_from_the_model(kind):
    model = KINDS[kind]
    builder = getattr(specs, f"{kind}_spec")
    parameters = inspect.signature(builder).parameters
    fields = {name: field for name, field in model.model_fields.items() if name != "query_kind"}
    assert set(parameters) == set(fields)
    for name, parameter in parameters.items():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        if fields[name].is_required():
            assert parameter.default is inspect.Parameter.empty
        else:
            assert parameter.default == fields[name].default
        assert f"\n{name} : " in builder.__doc__
        assert (fields[name].description or "") in builder.__doc__
    assert inspect.cleandoc(model.__doc__) in builder.__doc__
    assert builder.__name__ == f"{kind}_spec"
    if model.top_level:
        constructor = getattr(specs, kind)
        assert list(inspect.signature(constructor).parameters) == ["connection", *parameters]


def _flowclient_specs() -> dict[str, dict]:
    """What flowclient 1.34's own builders send, for every kind it can build."""
    from tests.test_flowclient_catalogue import LABELS, QUERIES, coalesced, daily, mobility_labels, unique_locations

    week = dict(start_date="2016-01-04", end_date="2016-01-11")

    class Capture:  # stands where flowclient expects a connection: keeps the spec it is given
        def make_api_query(self, parameters):
            return parameters

    sent = {name: query(Capture()) for name, query in QUERIES.items() if name in KINDS}
    nested = {
        "daily_location": daily("2016-01-05", method="most-common"),
        "modal_location": flowclient.modal_location_spec(locations=[daily("2016-01-05"), daily("2016-01-06")]),
        "unique_locations": unique_locations(),
        "most_frequent_location": flowclient.most_frequent_location_spec(
            **week, aggregation_unit="admin2", hours=(8, 18)
        ),
        "coalesced_location": coalesced("2016-01-04", "2016-01-11"),
        "mobility_classification": mobility_labels(),
        "radius_of_gyration": flowclient.radius_of_gyration_spec(**week, hours=(22, 4)),
        "unique_location_counts": flowclient.unique_location_counts_spec(**week, aggregation_unit="admin1"),
        "topup_balance": flowclient.topup_balance_spec(**week, statistic="median"),
        "topup_amount": flowclient.topup_amount_spec(**week, statistic="max"),
        "subscriber_degree": flowclient.subscriber_degree_spec(**week, direction="in"),
        "event_count": flowclient.event_count_spec(**week, event_types=["calls", "mds"]),
        "handset": flowclient.handset_spec(**week, characteristic="brand", method="most-common"),
        "pareto_interactions": flowclient.pareto_interactions_spec(**week, proportion=0.8),
        "nocturnal_events": flowclient.nocturnal_events_spec(**week, hours=(20, 4)),
        "displacement": flowclient.displacement_spec(
            **week,
            statistic="avg",
            reference_location=flowclient.daily_location_spec(
                date="2016-01-04", aggregation_unit="lon-lat", method="last"
            ),
        ),
        "total_active_periods": flowclient.total_active_periods_spec(start_date="2016-01-04", total_periods=3),
        "location_visits": flowclient.location_visits_spec(locations=[daily("2016-01-05"), daily("2016-01-06")]),
        "majority_location": flowclient.majority_location_spec(
            subscriber_location_weights=flowclient.location_visits_spec(locations=[daily("2016-01-05")])
        ),
    }
    assert LABELS
    return {**sent, **nested}


FLOWCLIENT_SPECS = _flowclient_specs()


def _without_added_nulls(ours, theirs):
    """`ours` less the keys flowclient leaves out that we fill with null (e.g. `sampling`)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return {
            key: _without_added_nulls(value, theirs.get(key))
            for key, value in ours.items()
            if key in theirs or value is not None
        }
    if isinstance(ours, list) and isinstance(theirs, list):
        return [_without_added_nulls(a, b) for a, b in zip(ours, theirs)]
    return ours


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if flowclient_builder(k)))
def test_builders_emit_what_flowclient_emits(kind):
    """Our builder, given the parameters flowclient sends, sends the same JSON (plus explicit nulls)."""
    theirs = FLOWCLIENT_SPECS[kind]
    ours = getattr(flowkit.client, f"{kind}_spec")(**{k: v for k, v in theirs.items() if k != "query_kind"})
    if kind == "histogram_aggregate":  # flowclient sends range as a list; the schema's form is an object
        theirs = KINDS[kind].model_validate(theirs).model_dump(mode="json")
    assert _without_added_nulls(ours, theirs) == theirs


def test_modal_location_from_dates_matches_flowclient():
    params = dict(
        start_date="2016-01-30", end_date="2016-02-02", aggregation_unit="admin1", method="last", hours=(3, 9)
    )
    ours = flowkit.client.modal_location_from_dates_spec(**params)
    assert ours == flowclient.modal_location_from_dates_spec(**params)
    assert [day["date"] for day in ours["locations"]] == ["2016-01-30", "2016-01-31", "2016-02-01"]
    assert set(inspect.signature(flowkit.client.modal_location_from_dates_spec).parameters) == {
        "start_date",
        "end_date",
        *(set(KINDS["daily_location"].model_fields) - {"query_kind", "date"}),
    }


def test_output_is_the_json_the_server_parses():
    locations = flowkit.client.modal_location_from_dates_spec(
        start_date="2016-01-01", end_date="2016-01-03", aggregation_unit="admin3", method="last"
    )
    spec = flowkit.client.spatial_aggregate_spec(locations=locations)
    assert catalogue.parse_spec(spec).model_dump(mode="json") == spec


def test_flowclient_conveniences_are_accepted():
    counts = flowkit.client.location_event_counts_spec(**WINDOW, count_interval="minute", hours=[22, 4])
    assert counts["interval"] == "min" and counts["hours"] == {"start_hour": 22, "end_hour": 4}
    assert "count_interval" not in counts


@pytest.mark.parametrize(
    "builder, params, field",
    [
        ("daily_location_spec", dict(DAY, aggregation_unit="admin9"), "aggregation_unit"),
        ("daily_location_spec", dict(DAY, hours=(3, 25)), "end_hour"),
        ("daily_location_spec", dict(DAY, colour="red"), "colour"),
        ("unique_subscriber_counts_spec", dict(start_date="2016-01-01", aggregation_unit="admin3"), "end_date"),
        ("spatial_aggregate_spec", dict(locations=dict(DAY, query_kind="daily_location", method="first")), "method"),
    ],
)
def test_validation_errors_name_the_field(builder, params, field):
    with pytest.raises(ValidationError, match=field):
        getattr(flowkit.client, builder)(**params)


def test_builders_are_derived_for_kinds_registered_later():
    class Dummy(QuerySpec):
        """A kind nobody wrote a builder for."""

        query_kind: Literal["dummy_query"] = "dummy_query"
        dummy_param: str = Field(description="Anything at all.")
        dummy_delay: int = 0
        top_level = True

    builders = specs.make_builders({"dummy_query": Dummy})
    assert set(builders) == {"dummy_query_spec", "dummy_query"}
    expected = {"query_kind": "dummy_query", "dummy_param": "x", "dummy_delay": 0}
    assert builders["dummy_query_spec"](dummy_param="x") == expected
    assert "Anything at all." in builders["dummy_query"].__doc__

    with pytest.warns(UserWarning, match="NOT SECURE"):
        sync = flowkit.client.connect(url="http://x", token=TOKEN)
        not_sync = flowkit.client.connect_async(url="http://x", token=TOKEN)
    query = builders["dummy_query"](connection=sync, dummy_param="y")
    assert type(query) is flowkit.client.APIQuery and query.parameters["dummy_param"] == "y" and query.query_id is None
    assert type(builders["dummy_query"](connection=not_sync, dummy_param="y")) is flowkit.client.ASyncAPIQuery
