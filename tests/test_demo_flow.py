"""The seed's demo notebook, end to end over HTTP: the real flowclient 1.34, then our own client.

A synthetic country with a crisis on 2016-02-10 is served by a live FlowAPI; the flow is the
talk's: available dates, modal locations two weeks before and after the crisis, percent
change, the district map, a GeoJSON result, flows, hourly event counts. Results are checked
against plain SQL written independently in this file.
"""

import json
from datetime import date, timedelta
from pathlib import Path

import flowclient
import pytest
from tests.live_server import serving

import flowkit.client
from flowkit.api.app import create_app
from flowkit.auth.tokens import ensure_key_pair, mint_token
from flowkit.db import FlowDB
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.machine.catalogue import scope_universe
from flowkit.machine.queries import Machine

pytestmark = pytest.mark.slow

SERVER = "demo-test"
FIRST_DAY, LAST_DAY, CRISIS = date(2016, 1, 20), date(2016, 2, 24), date(2016, 2, 10)
BEFORE = ("2016-01-27", "2016-02-10")
AFTER = ("2016-02-10", "2016-02-24")


@pytest.fixture(scope="module")
def country():
    db = FlowDB()
    config = SyntheticConfig(seed=7, subscribers=3000, start_date=FIRST_DAY, end_date=LAST_DAY, crisis_date=CRISIS)
    summary = generate(db, config)
    return db, summary


@pytest.fixture(scope="module")
def api(country, tmp_path_factory):
    db, _ = country
    private_key, public_key = ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)
    machine = Machine(db)
    token = mint_token(
        private_key, user="analyst", audience=SERVER, roles={"demo": scope_universe()}, lifetime=timedelta(hours=1)
    )
    with serving(create_app(machine, public_key=public_key, server_name=SERVER)) as url:
        yield url, token
    machine.close()


def expected_modal_counts(db: FlowDB, start: str, stop: str) -> dict[str, int]:
    """Subscribers per admin3 of their modal most-common daily location, redacted: plain SQL."""
    rows = db.execute(
        """
        WITH events AS (
            SELECT msisdn, datetime, location_id FROM events.calls
            UNION ALL SELECT msisdn, datetime, location_id FROM events.sms
        ), located AS (
            SELECT e.msisdn AS subscriber, e.datetime, m.admin3pcod AS pcod
            FROM events e JOIN geography.cell_admin_units m ON e.location_id = m.location_id
             AND coalesce(m.date_of_first_service <= e.datetime::DATE, true)
             AND coalesce(m.date_of_last_service >= e.datetime::DATE, true)
            WHERE e.datetime >= ?::TIMESTAMP AND e.datetime < ?::TIMESTAMP AND m.admin3pcod IS NOT NULL
        ), daily AS (
            SELECT subscriber, datetime::DATE AS day, pcod FROM located
            GROUP BY subscriber, day, pcod
            QUALIFY row_number() OVER (PARTITION BY subscriber, day ORDER BY count(*) DESC, max(datetime) DESC, pcod) = 1
        ), modal AS (
            SELECT subscriber, pcod FROM daily GROUP BY subscriber, pcod
            QUALIFY row_number() OVER (PARTITION BY subscriber ORDER BY count(*) DESC, max(day) DESC, pcod) = 1
        )
        SELECT pcod, count(*) FROM modal GROUP BY pcod HAVING count(*) > 15
        """,
        [start, stop],
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize("client", [flowclient, flowkit.client], ids=["flowclient-1.34", "flowkit.client"])
def test_demo_flow(client, api, country):
    db, summary = country
    url, token = api
    conn = client.connect(url=url, token=token)

    dates = client.get_available_dates(connection=conn)
    days = [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    assert dates["calls"] == days and dates["sms"] == days

    def modal(window):
        return client.modal_location_from_dates_spec(
            start_date=window[0], end_date=window[1], method="most-common", aggregation_unit="admin3"
        )

    before_query = client.spatial_aggregate(connection=conn, locations=modal(BEFORE))
    before = before_query.get_result(disable_progress=True)
    after = client.spatial_aggregate(connection=conn, locations=modal(AFTER)).get_result(disable_progress=True)
    assert dict(zip(before.pcod, before.value)) == expected_modal_counts(db, *BEFORE)
    assert dict(zip(after.pcod, after.value)) == expected_modal_counts(db, *AFTER)

    joined = before.merge(after, on="pcod", how="outer", suffixes=("_before", "_after")).fillna(0)
    joined["percent_change"] = 100 * (joined["value_after"] / joined["value_before"] - 1)
    change = dict(zip(joined.pcod, joined.percent_change))
    for pcod in summary["crisis_pcods"]:
        assert change[pcod] <= -75  # most residents left

    geography = client.get_geography(connection=conn, aggregation_unit="admin3")
    admin3 = {row[0] for row in db.execute("SELECT admin3pcod FROM geography.admin3").fetchall()}
    assert {f["properties"]["pcod"] for f in geography["features"]} == admin3

    geojson = before_query.get_result(format="geojson", disable_progress=True)
    assert {f["properties"]["pcod"]: f["properties"]["value"] for f in geojson["features"]} == dict(
        zip(before.pcod, before.value)
    )

    flows = client.flows(connection=conn, from_location=modal(BEFORE), to_location=modal(AFTER)).get_result(
        disable_progress=True
    )
    assert list(flows.columns) == ["pcod_from", "pcod_to", "value"] and (flows.value > 15).all()
    for pcod in summary["crisis_pcods"]:
        stayed = flows[(flows.pcod_from == pcod) & (flows.pcod_to == pcod)].value.sum()
        left = flows[(flows.pcod_from == pcod) & (flows.pcod_to != pcod)].value.sum()
        assert left > stayed

    hourly = client.location_event_counts(
        connection=conn,
        start_date="2016-02-10",
        end_date="2016-02-11",
        aggregation_unit="admin3",
        count_interval="hour",
    ).get_result(disable_progress=True)
    assert list(hourly.columns) == ["pcod", "date", "hour", "value"]
    assert set(hourly.date) == {"2016-02-10"} and set(hourly.hour) <= set(range(24)) and (hourly.value > 0).all()


def test_demo_notebook_runs(api, country, monkeypatch):
    """docs/demo.ipynb, cell by cell, as a reader would run it against `make demo`."""
    url, token = api
    monkeypatch.setenv("FLOWKIT_URL", url)
    monkeypatch.setenv("FLOWKIT_TOKEN", token)
    notebook = json.loads((Path(__file__).parents[1] / "docs" / "demo.ipynb").read_text())
    namespace = {"display": print}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec("".join(cell["source"]), namespace)
    change = dict(zip(namespace["joined_results"].pcod, namespace["joined_results"].percent_change))
    assert all(change[pcod] <= -75 for pcod in country[1]["crisis_pcods"])
    coloured = [f["properties"]["percent_change"] for f in namespace["admin3_geojson"]["features"]]
    assert sum(value is not None for value in coloured) == len(namespace["joined_results"])
