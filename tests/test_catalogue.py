"""The whole catalogue, kind by kind: examples, validation errors, scopes, result columns over HTTP."""

import copy
import typing
from datetime import date, timedelta

import pytest
from pydantic.fields import FieldInfo

from flowkit.machine import catalogue
from flowkit.machine.catalogue import SpecError, parse_spec, scope_universe
from flowkit.machine.fields import AGGREGATION_UNITS

TOP_LEVEL = sorted(catalogue.top_level_kinds())

# Result columns per kind at an admin unit, as FlowAPI serves them (flowkit-interfaces.md §1.5).
COLUMNS = {
    **dict.fromkeys(
        [
            "spatial_aggregate",
            "unique_subscriber_counts",
            "location_introversion",
            "unique_visitor_counts",
            "unmoving_counts",
            "unmoving_at_reference_location_counts",
            "active_at_reference_location_counts",
            "inflows",
            "outflows",
            "joined_spatial_aggregate",
        ],
        ["pcod", "value"],
    ),
    **dict.fromkeys(["flows", "trips_od_matrix", "consecutive_trips_od_matrix"], ["pcod_from", "pcod_to", "value"]),
    **dict.fromkeys(["total_network_objects", "aggregate_network_objects"], ["pcod", "value", "datetime"]),
    "meaningful_locations_aggregate": ["label", "pcod", "value"],
    **dict.fromkeys(
        ["meaningful_locations_between_label_od_matrix", "meaningful_locations_between_dates_od_matrix"],
        ["label_from", "label_to", "pcod_from", "pcod_to", "value"],
    ),
    **dict.fromkeys(["labelled_spatial_aggregate", "localised_calendar_activity"], ["pcod", "value_label", "value"]),
    "labelled_flows": ["pcod_from", "pcod_to", "value_label", "value"],
    "histogram_aggregate": ["value", "lower_edge", "upper_edge"],
    "calendar_activity": ["grp", "value"],
    "dfs_metric_total_amount": ["date", "pcod", "value"],
}


def example(kind: str) -> dict:
    return copy.deepcopy(catalogue.top_level_kinds()[kind].example)


def test_the_catalogue_is_flowkits():
    """The 27 top-level kinds of FlowKit 1.34 (flowmachine-semantics.md §4.1)."""
    assert set(TOP_LEVEL) == {
        *COLUMNS,
        "location_event_counts",
        "geography",
        "dummy_query",
    }


@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_example_is_a_valid_spec(kind):
    spec = example(kind)
    assert spec["query_kind"] == kind
    assert parse_spec(spec).query_kind == kind


def _required_fields(kind: str) -> list[str]:
    model = catalogue.top_level_kinds()[kind]
    return [name for name, field in model.model_fields.items() if field.is_required() and name != "query_kind"]


def _enum_fields(kind: str) -> list[str]:
    model = catalogue.top_level_kinds()[kind]
    return [name for name, field in model.model_fields.items() if name != "query_kind" and _is_enum(field)]


def _is_enum(field: FieldInfo) -> bool:
    annotation = field.annotation
    options = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Union else (annotation,)
    return any(typing.get_origin(option) is typing.Literal for option in options)


def _rejects(spec: dict, *, naming: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(spec)
    assert naming in raised.value.msg


@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_missing_required_field_is_named(kind):
    for field in _required_fields(kind):
        spec = example(kind)
        spec.pop(field, None)
        _rejects(spec, naming=field)


@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_unknown_field_is_named(kind):
    _rejects({**example(kind), "colour_of_the_sky": "blue"}, naming="colour_of_the_sky")


@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_wrong_enum_is_named(kind):
    for field in _enum_fields(kind):
        _rejects({**example(kind), field: "not-an-option"}, naming=field)


@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_bad_dates_are_named(kind):
    spec = example(kind)
    dated = [key for key, value in spec.items() if "date" in key and isinstance(value, str)]
    for key in dated:
        _rejects({**spec, key: "2016-02-30"}, naming=key)


def _unit_paths(spec, path=()):
    """Paths to every aggregation_unit inside nested specs."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "aggregation_unit" and path:
                yield path
            yield from _unit_paths(value, (*path, key))
    elif isinstance(spec, list):
        for i, value in enumerate(spec):
            yield from _unit_paths(value, (*path, i))


def _set_unit(spec, path, unit):
    for key in path:
        spec = spec[key]
    spec["aggregation_unit"] = unit


@pytest.mark.parametrize("kind", TOP_LEVEL)
def test_mixed_aggregation_units_are_refused(kind):
    paths = list(_unit_paths(example(kind)))
    if len(paths) < 2:
        return
    spec = example(kind)
    _set_unit(spec, paths[-1], "admin1" if "admin1" not in str(spec) else "admin2")
    _rejects(spec, naming="aggregation_unit")


def test_scope_universe_is_flowkits_size():
    """About 624 query scopes + 4 action scopes in FlowKit 1.34 (flowkit-interfaces.md §2.2)."""
    scopes = scope_universe()
    actions = [s for s in scopes if ":" not in s]
    assert actions == ["get_available_dates", "get_qa_checks", "get_result", "run"]
    assert len(scopes) - len(actions) == 624
    assert {s.split(":")[0] for s in scopes if ":" in s} == {*AGGREGATION_UNITS, "nonspatial"}


def test_nested_kinds_in_scopes_match_flowkits_table():
    """Spot checks of §2.2's table of nested kinds per top-level kind."""
    scopes = set(scope_universe())
    assert "admin3:joined_spatial_aggregate:displacement" in scopes
    assert "nonspatial:histogram_aggregate:radius_of_gyration" in scopes
    assert "nonspatial:histogram_aggregate:handset" not in scopes
    assert "admin0:labelled_flows:mobility_classification" in scopes
    assert "lon-lat:unique_visitor_counts:unique_subscriber_counts" in scopes
    assert "admin2:aggregate_network_objects:total_network_objects" in scopes
    assert "nonspatial:calendar_activity:calendar_activity" in scopes
    assert "admin3:geography:geography" in scopes


@pytest.mark.slow
def test_every_example_runs_over_http(synthetic_api):
    client, headers = synthetic_api
    for kind in TOP_LEVEL:
        response = client.post("/api/0/run", json=example(kind), headers=headers)
        assert response.status_code == 202, (kind, response.text)
        query_id = response.json()["query_id"]
        state = client.app.state.machine.wait(query_id, timeout=300)
        assert state == "completed", (kind, client.app.state.machine.error(query_id))
        result = client.get(f"/api/0/get/{query_id}", headers=headers)
        assert result.status_code == 200, (kind, result.text)
        rows = result.json()["query_result"]
        if kind in COLUMNS and rows:
            expected = COLUMNS[kind]
            if kind == "joined_spatial_aggregate" and example(kind)["method"] == "distr":
                expected = ["pcod", "metric", "key", "value"]
            assert list(rows[0]) == expected, kind


@pytest.fixture(scope="module")
def synthetic_api(tmp_path_factory):
    from starlette.testclient import TestClient

    from flowkit.api.app import create_app
    from flowkit.auth.tokens import ensure_key_pair, mint_token
    from flowkit.db import FlowDB
    from flowkit.db.synthetic import SyntheticConfig, generate
    from flowkit.machine.queries import Machine

    db = FlowDB()
    generate(db, SyntheticConfig(seed=3, subscribers=600, start_date=date(2016, 1, 1), end_date=date(2016, 2, 29)))
    private_key, public_key = ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)
    machine = Machine(db)
    token = mint_token(private_key, user="u", audience="s", roles={"r": scope_universe()}, lifetime=timedelta(hours=1))
    yield TestClient(create_app(machine, public_key=public_key, server_name="s")), {"Authorization": f"Bearer {token}"}
    machine.close()
