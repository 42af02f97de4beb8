"""Both drivers against a live FlowAPI: the same calls, the same answers, sync and awaited."""

import asyncio
import inspect
from datetime import timedelta

import pytest
from tests.conftest import sixteen_and_fifteen
from tests.live_server import serving

import flowkit.client as fk
from flowkit.api.app import create_app
from flowkit.auth.tokens import ensure_key_pair, mint_token
from flowkit.machine.catalogue import scope_universe
from flowkit.machine.queries import Machine

SERVER = "client-test"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """Area A holds 16 subscribers on 2016-01-01 (served), area B 15 (redacted)."""
    db = sixteen_and_fifteen()
    private_key, public_key = ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)
    machine = Machine(db)

    def token(scopes):
        return mint_token(private_key, user="alice", audience=SERVER, roles={"r": scopes}, lifetime=timedelta(hours=1))

    with serving(create_app(machine, public_key=public_key, server_name=SERVER)) as url:
        yield url, token
    machine.close()


async def settle(value):
    """A driver's answer as a value: awaited when it is awaitable."""
    return await value if inspect.isawaitable(value) else value


async def session(conn):
    """The flowclient notebook flow; every call is the same for both drivers."""
    day = fk.daily_location_spec(date="2016-01-01", aggregation_unit="admin3", method="last")
    query = fk.spatial_aggregate(connection=conn, locations=day)
    seen = {"before_run": await settle(query.status)}
    frame = await settle(query.get_result(poll_interval=0.05, disable_progress=True))
    seen["rows"] = frame.to_dict("records")
    seen["status"] = await settle(query.status)
    await settle(query.wait_until_ready(poll_interval=0.05, disable_progress=True))
    seen["csv"] = (await settle(query.get_result(format="csv", disable_progress=True))).splitlines()
    geojson = await settle(query.get_result(format="geojson", disable_progress=True))
    seen["geojson"] = sorted(f["properties"]["pcod"] for f in geojson["features"])
    seen["same_id"] = await settle(fk.run_query(connection=conn, query_spec=query.parameters)) == query.query_id
    by_id = await settle(fk.get_result_by_query_id(connection=conn, query_id=query.query_id))
    seen["by_id"] = by_id.to_dict("records")
    seen["ready"] = (await settle(fk.query_is_ready(connection=conn, query_id=query.query_id)))[0]
    seen["unknown"] = await settle(fk.get_status(connection=conn, query_id="0" * 32))
    seen["dates"] = await settle(fk.get_available_dates(connection=conn, event_types=["calls", "mds"]))
    geography = await settle(fk.get_geography(connection=conn, aggregation_unit="admin3"))
    seen["geography"] = sorted(f["properties"]["pcod"] for f in geography["features"])
    return seen


EXPECTED = {
    "before_run": "not_running",
    "rows": [{"pcod": "A", "value": 16}],
    "status": "completed",
    "csv": ["pcod,value", "A,16"],
    "geojson": ["A"],
    "same_id": True,
    "by_id": [{"pcod": "A", "value": 16}],
    "ready": True,
    "unknown": "not_running",
    "dates": {"calls": ["2016-01-01"]},
    "geography": ["A", "B"],
}


def test_sync_driver(api):
    url, token = api
    with pytest.warns(UserWarning, match="NOT SECURE"), fk.connect(url=url, token=token(scope_universe())) as conn:
        assert asyncio.run(session(conn)) == EXPECTED


async def test_async_driver(api):
    url, token = api
    with pytest.warns(UserWarning, match="NOT SECURE"):
        conn = fk.connect_async(url=url, token=token(scope_universe()))
    async with conn:
        assert await session(conn) == EXPECTED


@pytest.mark.parametrize("connect", [fk.connect, fk.connect_async])
async def test_errors_are_the_same_for_both_drivers(api, connect):
    url, token = api
    with pytest.warns(UserWarning):
        conn = connect(url=url, token=token(["get_available_dates"]))
    spec = fk.unique_subscriber_counts_spec(start_date="2016-01-01", end_date="2016-01-02", aggregation_unit="admin3")
    with pytest.raises(fk.AuthorizationError, match="claims"):
        await settle(fk.run_query(connection=conn, query_spec=spec))
    with pytest.raises(fk.APIError) as raised:
        await settle(fk.run_query(connection=conn, query_spec={"query_kind": "no_such_kind"}))
    assert raised.value.status == 400
    with pytest.raises(fk.QueryNotFound):
        await settle(conn.make_api_query(spec).wait_until_ready())
