"""FlowAPI's HTTP contract: routes, status codes, error bodies, scopes, redaction at the boundary."""

import json
import time
from datetime import timedelta

import jwt
import pytest
from starlette.testclient import TestClient
from tests.conftest import sixteen_and_fifteen

from flowkit.api.access_log import configure_logging
from flowkit.api.app import create_app
from flowkit.auth.tokens import compress_roles, ensure_key_pair, mint_token
from flowkit.machine.catalogue import scope_universe
from flowkit.machine.queries import Machine

SERVER = "test-server"
DAY = {"query_kind": "daily_location", "date": "2016-01-01", "aggregation_unit": "admin3", "method": "last"}
SPATIAL = {"query_kind": "spatial_aggregate", "locations": DAY}
MODAL = {"query_kind": "spatial_aggregate", "locations": {"query_kind": "modal_location", "locations": [DAY]}}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)


@pytest.fixture(scope="module")
def client(keys):
    """Area A holds 16 subscribers and area B 15 on 2016-01-01: A is served, B is redacted."""
    db = sixteen_and_fifteen()
    machine = Machine(db)
    yield TestClient(create_app(machine, public_key=keys[1], server_name=SERVER), follow_redirects=False)
    machine.close()


def bearer(keys, roles, *, user="alice", audience=SERVER, lifetime=timedelta(minutes=5)):
    token = mint_token(keys[0], user=user, audience=audience, roles=roles, lifetime=lifetime)
    return {"Authorization": f"Bearer {token}"}


def run_to_completion(client, headers, spec):
    response = client.post("/api/0/run", json=spec, headers=headers)
    assert response.status_code == 202, response.text
    query_id = response.json()["query_id"]
    for _ in range(200):
        poll = client.get(f"/api/0/poll/{query_id}", headers=headers)
        if poll.status_code == 303:
            return query_id
        assert poll.status_code == 202, poll.text
        time.sleep(0.02)
    raise AssertionError("query did not complete")


@pytest.fixture
def everything(keys):
    return bearer(keys, {"all": scope_universe()})


def test_run_poll_get_round_trip_with_redaction(client, everything):
    response = client.post("/api/0/run", json=SPATIAL, headers=everything)
    query_id = response.json()["query_id"]
    assert response.headers["Location"] == f"/api/0/poll/{query_id}"
    assert set(response.json()["progress"]) == {"eligible", "queued", "running"}
    assert run_to_completion(client, everything, SPATIAL) == query_id
    poll = client.get(f"/api/0/poll/{query_id}", headers=everything)
    assert (poll.status_code, poll.headers["Location"]) == (303, f"/api/0/get/{query_id}")
    result = client.get(f"/api/0/get/{query_id}", headers=everything)
    # 16 subscribers in A pass; the 15 in B never leave the API.
    assert result.json() == {"query_id": query_id, "query_result": [{"pcod": "A", "value": 16}]}
    assert client.get(f"/api/0/get/{query_id}.csv", headers=everything).text == "pcod,value\r\nA,16\r\n"
    geojson = client.get(f"/api/0/get/{query_id}.geojson", headers=everything).json()
    assert [f["properties"]["pcod"] for f in geojson["features"]] == ["A"]
    assert geojson["features"][0]["properties"]["centroid"] == {"type": "Point", "coordinates": [0.5, 0.5]}


def test_same_spec_same_id_and_result_reused(client, everything):
    first = run_to_completion(client, everything, SPATIAL)
    stored = client.app.state.machine.db.execute("SELECT count(*) FROM cache.stored_results").fetchone()[0]
    second = client.post("/api/0/run", json=SPATIAL, headers=everything)
    assert second.json() == {"query_id": first, "progress": {"eligible": 0, "queued": 0, "running": 0}}
    assert client.app.state.machine.db.execute("SELECT count(*) FROM cache.stored_results").fetchone()[0] == stored


def test_missing_header_is_401(client):
    response = client.get("/api/0/available_dates")
    assert (response.status_code, response.json()) == (401, {"msg": "Missing Authorization Header"})


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer a b"])
def test_malformed_header_is_422(client, header):
    response = client.get("/api/0/available_dates", headers={"Authorization": header})
    assert response.status_code == 422
    assert response.json() == {"msg": "Bad Authorization header. Expected value 'Bearer <JWT>'"}


def test_expired_token_is_401(client, keys):
    headers = bearer(keys, {"r": ["get_available_dates"]}, lifetime=timedelta(seconds=-1))
    response = client.get("/api/0/available_dates", headers=headers)
    assert (response.status_code, response.json()) == (401, {"msg": "Token has expired"})


def test_wrong_audience_is_422(client, keys):
    response = client.get(
        "/api/0/available_dates", headers=bearer(keys, {"r": ["get_available_dates"]}, audience="other")
    )
    assert (response.status_code, response.json()) == (422, {"msg": "Audience doesn't match"})


def test_foreign_signature_is_422(client, tmp_path):
    other_private, _ = ensure_key_pair(tmp_path, key_size=2048)
    headers = bearer((other_private, None), {"r": ["get_available_dates"]})
    response = client.get("/api/0/available_dates", headers=headers)
    assert (response.status_code, response.json()) == (422, {"msg": "Signature verification failed"})


def test_token_without_subject_is_422(client, keys):
    claims = {
        "aud": SERVER,
        "exp": int(time.time()) + 60,
        "user_claims": compress_roles({"r": ["get_available_dates"]}),
    }
    token = jwt.encode(claims, keys[0], algorithm="RS256")
    response = client.get("/api/0/available_dates", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()) == (422, {"msg": 'Token is missing the "sub" claim'})


def test_available_dates(client, keys):
    response = client.get("/api/0/available_dates", headers=bearer(keys, {"r": ["get_available_dates"]}))
    assert response.json() == {"available_dates": {"calls": ["2016-01-01"]}}
    assert client.get("/api/0/available_dates", headers=bearer(keys, {"r": ["run"]})).status_code == 403


def test_run_needs_one_role_holding_every_scope(client, keys):
    needed = ["run", "admin3:spatial_aggregate:spatial_aggregate", "admin3:spatial_aggregate:daily_location"]
    assert client.post("/api/0/run", json=SPATIAL, headers=bearer(keys, {"r": needed})).status_code == 202
    split = {"a": needed[:2], "b": needed[2:]}  # roles are never unioned
    response = client.post("/api/0/run", json=SPATIAL, headers=bearer(keys, split))
    assert (response.status_code, response.json()) == (403, {"msg": "User claims verification failed"})
    other_unit = [s.replace("admin3", "admin2") for s in needed]
    assert client.post("/api/0/run", json=SPATIAL, headers=bearer(keys, {"r": other_unit})).status_code == 403


def test_nested_kind_the_role_lacks_is_refused(client, keys):
    without_modal = ["run", "admin3:spatial_aggregate:spatial_aggregate", "admin3:spatial_aggregate:daily_location"]
    response = client.post("/api/0/run", json=MODAL, headers=bearer(keys, {"r": without_modal}))
    assert response.status_code == 403
    with_modal = [*without_modal, "admin3:spatial_aggregate:modal_location"]
    assert client.post("/api/0/run", json=MODAL, headers=bearer(keys, {"r": with_modal})).status_code == 202


def test_poll_needs_query_scopes_and_get_needs_get_result(client, everything, keys):
    query_id = run_to_completion(client, everything, SPATIAL)
    triplets = ["admin3:spatial_aggregate:spatial_aggregate", "admin3:spatial_aggregate:daily_location"]
    assert client.get(f"/api/0/poll/{query_id}", headers=bearer(keys, {"r": triplets})).status_code == 303
    assert client.get(f"/api/0/poll/{query_id}", headers=bearer(keys, {"r": ["get_result"]})).status_code == 403
    assert client.get(f"/api/0/get/{query_id}", headers=bearer(keys, {"r": triplets})).status_code == 403
    assert (
        client.get(f"/api/0/get/{query_id}", headers=bearer(keys, {"r": ["get_result", *triplets]})).status_code == 200
    )
    no_geography = bearer(keys, {"r": ["get_result", *triplets]})
    assert client.get(f"/api/0/get/{query_id}.geojson", headers=no_geography).status_code == 403


def test_invalid_spec_is_400_naming_the_field(client, everything):
    bad = {"query_kind": "spatial_aggregate", "locations": {**DAY, "method": "first"}}
    response = client.post("/api/0/run", json=bad, headers=everything)
    assert response.status_code == 400
    assert response.json()["msg"].startswith("Parameter validation failed. locations.method: Input should be")
    no_kind = client.post("/api/0/run", json={"locations": DAY}, headers=everything)
    assert (no_kind.status_code, no_kind.json()["msg"]) == (400, "Query kind must be specified when running a query.")
    garbage = client.post("/api/0/run", content=b"{not json", headers=everything)
    assert (garbage.status_code, garbage.json()["msg"]) == (400, "Could not parse query spec.")


def test_unknown_query_id_is_404(client, everything):
    assert client.get("/api/0/poll/0123", headers=everything).status_code == 404
    assert client.get("/api/0/get/0123", headers=everything).status_code == 404


def test_bad_filetype_is_400(client, everything):
    query_id = run_to_completion(client, everything, SPATIAL)
    response = client.get(f"/api/0/get/{query_id}.xlsx", headers=everything)
    assert (response.status_code, response.json()["msg"]) == (400, "Invalid file format")


def test_geography_needs_geography_scope(client, keys):
    allowed = bearer(keys, {"r": ["get_result", "admin3:geography:geography"]})
    features = client.get("/api/0/geography/admin3", headers=allowed).json()["features"]
    assert [f["properties"]["pcod"] for f in features] == ["A", "B"]
    assert client.get("/api/0/geography/admin2", headers=allowed).status_code == 403
    assert client.get("/api/0/geography/admin9", headers=allowed).status_code == 403


def test_openapi_publishes_scopes_and_audience_without_a_token(client):
    document = client.get("/api/0/spec/openapi.json").json()
    security = document["components"]["securitySchemes"]["token"]
    assert security["x-audience"] == SERVER
    assert {"run", "get_result", "get_available_dates", "admin3:spatial_aggregate:modal_location"} <= set(
        security["x-security-scopes"]
    )
    assert "SpatialAggregate" in document["components"]["schemas"]


def test_access_log_is_one_json_line_per_request(client, everything, capsys):
    configure_logging()
    capsys.readouterr()
    client.post("/api/0/run", json=SPATIAL, headers=everything)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"request"' in line]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["user"] == "alice" and entry["route"] == "/api/0/run" and entry["status_code"] == 202
    assert entry["spec"] == SPATIAL and len(entry["query_id"]) == 32 and entry["duration_ms"] >= 0


def test_nonspatial_results_have_no_geojson(client, everything):
    spec = {"query_kind": "calendar_activity", "start_date": "2016-01-01", "total_periods": 1}
    query_id = run_to_completion(client, everything, spec)
    response = client.get(f"/api/0/get/{query_id}.geojson", headers=everything)
    assert response.status_code == 400 and "no GeoJSON" in response.json()["msg"]
    # 31 subscribers share the one pattern "active on 2016-01-01": more than 15, so it is served.
    assert client.get(f"/api/0/get/{query_id}", headers=everything).json()["query_result"][0]["value"] == 31


def test_labelled_flows_geojson_keeps_every_label():
    from flowkit.api.results import _flow_features

    records = [
        {"pcod_from": "A", "pcod_to": "B", "value_label": "stable", "value": 20},
        {"pcod_from": "A", "pcod_to": "B", "value_label": "mobile", "value": 17},
    ]
    (a, b) = _flow_features(records, ("pcod",), {})
    assert a["properties"]["outflows"] == {"B": {"stable": 20, "mobile": 17}}
    assert b["properties"]["inflows"] == {"A": {"stable": 20, "mobile": 17}}


def test_cancel_through_delete(client, everything, keys):
    spec = {"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "cancel me", "dummy_delay": 5}
    query_id = client.post("/api/0/run", json=spec, headers=everything).json()["query_id"]
    read_only = bearer(keys, {"r": ["admin3:dummy_query:dummy_query"]})
    assert client.delete(f"/api/0/poll/{query_id}", headers=read_only).status_code == 403  # cancelling needs `run`
    response = client.delete(f"/api/0/poll/{query_id}", headers=everything)
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    poll = client.get(f"/api/0/poll/{query_id}", headers=everything)
    assert (poll.status_code, poll.json()["status"]) == (500, "cancelled")
    again = client.delete(f"/api/0/poll/{query_id}", headers=everything)
    assert (again.status_code, again.json()["status"]) == (409, "cancelled")
    assert client.delete("/api/0/poll/unknown", headers=everything).status_code == 404
