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

# Builder kwargs per kind, for the kinds flowclient 1.34 also builds (both take the same names).
EXAMPLES = {
    "daily_location": dict(DAY, **FILTERS),
    "modal_location": dict(locations=[flowclient.daily_location_spec(**DAY), flowclient.daily_location_spec(**DAY)]),
    "spatial_aggregate": dict(locations=flowclient.daily_location_spec(**DAY, hours=(0, 12))),
    "flows": dict(
        from_location=flowclient.daily_location_spec(**DAY),
        to_location=flowclient.modal_location_spec(locations=[flowclient.daily_location_spec(**DAY)]),
        join_type="full outer",
    ),
    "unique_subscriber_counts": dict(WINDOW, **FILTERS),
    "location_event_counts": dict(WINDOW, count_interval="hour", direction="out", **FILTERS),
}


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


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if flowclient_builder(k)))
def test_builders_emit_what_flowclient_emits(kind):
    if kind not in EXAMPLES:
        pytest.skip(f"no example for {kind} yet: add one to EXAMPLES")
    ours = getattr(flowkit.client, f"{kind}_spec")(**EXAMPLES[kind])
    assert ours == flowclient_builder(kind)(**EXAMPLES[kind])  # dict equality ignores key order


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
