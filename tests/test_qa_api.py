"""QA check outcomes through FlowAPI's routes (§1.8), the real flowclient 1.34, and `flowkit qa`."""

import json
from datetime import date, timedelta

import flowclient
import pandas as pd
import pytest
from click.testing import CliRunner
from flowclient.errors import FlowclientConnectionError
from starlette.testclient import TestClient
from tests.conftest import BACKENDS, build_tiny_db, emptied
from tests.live_server import serving
from tests.test_qa_checks import DAY_CALLS, EXPECTED_CALLS, OTHER_DAYS, QA_CELLS

import flowkit.client
from flowkit.api.access_log import configure_logging
from flowkit.api.app import create_app
from flowkit.auth.tokens import ensure_key_pair, mint_token
from flowkit.cli import main
from flowkit.db import FlowDB
from flowkit.ingest import qa
from flowkit.machine.queries import Machine

SERVER = "qa-server"
SMS = [("a", "2016-01-02 10:00", "cA1", True, {"msisdn_counterpart": "b"})]


def qa_flowdb(db=None):
    """Calls on 2016-01-01…03 (the hand-built day is the 2nd), one SMS on the 2nd; checks run."""
    db = build_tiny_db(cells=QA_CELLS, calls=DAY_CALLS + OTHER_DAYS, sms=SMS, db=db).db
    db.execute("INSERT INTO infrastructure.cells (id, version) VALUES ('cNoGeom', 1)")
    qa.run_all(db)
    return db


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)


def token(keys, scopes, user="qa-analyst"):
    return mint_token(keys[0], user=user, audience=SERVER, roles={"r": scopes}, lifetime=timedelta(minutes=10))


@pytest.fixture(scope="module")
def client(keys):
    machine = Machine(qa_flowdb())
    yield TestClient(create_app(machine, public_key=keys[1], server_name=SERVER))
    machine.close()


@pytest.fixture(scope="module")
def allowed(keys):
    return {"Authorization": f"Bearer {token(keys, ['get_qa_checks'])}"}


def test_list_checks(client, allowed):
    response = client.get("/api/0/qa/", headers=allowed)
    assert response.status_code == 200
    listed = response.json()
    assert len(listed) == 24 + 21
    assert listed[:2] == [
        {"cdr_type": "calls", "type_of_query_or_check": "count_added_rows"},
        {"cdr_type": "calls", "type_of_query_or_check": "count_added_rows_outgoing.calls"},
    ]
    assert {"cdr_type": "sms", "type_of_query_or_check": "count_null_counterparts.sms"} in listed


def test_outcomes_between_dates_end_inclusive(client, allowed):
    params = {"start_date": "2016-01-02", "end_date": "2016-01-03"}
    response = client.get("/api/0/qa/calls/count_added_rows", params=params, headers=allowed)
    assert response.status_code == 200
    assert response.json() == [
        {"outcome": "10", "cdr_date": "2016-01-02", "type_of_query_or_check": "count_added_rows"},
        {"outcome": "1", "cdr_date": "2016-01-03", "type_of_query_or_check": "count_added_rows"},
    ]
    median = client.get("/api/0/qa/calls/median_duration.calls", params=params, headers=allowed).json()
    assert [row["outcome"] for row in median] == ["13.5", "1000"]


def test_outcome_on_one_date_is_bare_text(client, allowed):
    for check, outcome in EXPECTED_CALLS.items():
        response = client.get(f"/api/0/qa/calls/{check}/2016-01-02", headers=allowed)
        assert (response.status_code, response.text) == (200, outcome)
        assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/qa/calls/count_added_rows?start_date=2016-01-01&end_date=yesterday",
        "/api/0/qa/calls/count_added_rows?start_date=01/01/2016&end_date=2016-01-02",
        "/api/0/qa/calls/count_added_rows?start_date=2016-01-01",
        "/api/0/qa/calls/count_added_rows/2016-13-01",
    ],
)
def test_bad_date_is_400(client, allowed, path):
    response = client.get(path, headers=allowed)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "bad request"
    assert body["msg"].startswith("Could not parse") and body["msg"].endswith("expected for format is YYYY-MM-DD")


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/qa/calls/count_added_rows?start_date=2016-02-01&end_date=2016-02-05",  # no date
        "/api/0/qa/calls/no_such_check?start_date=2016-01-01&end_date=2016-01-05",
        "/api/0/qa/calls/max_duration.sms?start_date=2016-01-01&end_date=2016-01-05",
        "/api/0/qa/forwards/count_added_rows/2016-01-02",
        "/api/0/qa/sms/count_added_rows/2016-01-01",
    ],
)
def test_nothing_found_is_404(client, allowed, path):
    response = client.get(path, headers=allowed)
    assert response.status_code == 404
    assert response.json()["status"] == "not found"
    assert response.json()["msg"].startswith("No qa checks found for ")


def test_routes_need_get_qa_checks(client, keys):
    others = {"Authorization": f"Bearer {token(keys, ['get_available_dates', 'get_result', 'run'])}"}
    for path in (
        "/api/0/qa/",
        "/api/0/qa/calls/count_added_rows?start_date=2016-01-01&end_date=2016-01-02",
        "/api/0/qa/calls/count_added_rows/2016-01-02",
        "/api/0/qa/calls/count_added_rows?start_date=bad&end_date=bad",  # refused before the dates are read
    ):
        response = client.get(path, headers=others)
        assert (response.status_code, response.json()) == (403, {"msg": "User claims verification failed"})
        assert client.get(path).status_code == 401


def test_qa_requests_are_logged(client, allowed, capsys):
    configure_logging()
    capsys.readouterr()
    client.get(
        "/api/0/qa/calls/count_added_rows",
        params={"start_date": "2016-01-01", "end_date": "2016-01-02"},
        headers=allowed,
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"request"' in line]
    assert len(lines) == 1
    entry = lines[0]
    assert (entry["user"], entry["route"], entry["status_code"]) == (
        "qa-analyst",
        "/api/0/qa/calls/count_added_rows",
        200,
    )
    assert entry["spec"] == {
        "cdr_type": "calls",
        "check_id": "count_added_rows",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
    }


def test_openapi_lists_the_qa_routes(client):
    paths = client.get("/api/0/spec/openapi.json").json()["paths"]
    assert {"/qa/", "/qa/{cdr_type}/{check_id}", "/qa/{cdr_type}/{check_id}/{check_date}"} <= set(paths)


@pytest.fixture(params=BACKENDS)
def live(request, keys):
    """flowclient 1.34 connected to a live server over a QA'd FlowDB on each backend."""
    if request.param == "postgres":
        db = qa_flowdb(emptied(request.getfixturevalue("postgres_flowdb")))
    else:
        db = qa_flowdb(FlowDB())
    machine = Machine(db)
    with serving(create_app(machine, public_key=keys[1], server_name=SERVER)) as url:
        yield flowclient.connect(url=url, token=token(keys, ["get_qa_checks"]))
    machine.close()
    if request.param != "postgres":
        db.close()


def test_flowclient_reads_the_stored_outcomes(live):
    checks = flowclient.get_available_qa_checks(connection=live)
    assert len(checks) == 45
    assert flowclient.get_available_qa_checks(connection=live, event_types=["sms"]) == [
        c for c in checks if c["cdr_type"] == "sms"
    ]
    assert len(flowclient.get_available_qa_checks_df(connection=live, event_types=["calls"])) == 24
    outcomes = flowclient.get_qa_check_outcomes(
        connection=live,
        event_type="calls",
        check_type="max_msisdns_per_imsi",
        start_date="2016-01-01",
        end_date="2016-01-02",
    )
    assert outcomes == [
        {"outcome": "1", "cdr_date": "2016-01-01", "type_of_query_or_check": "max_msisdns_per_imsi"},
        {"outcome": "3", "cdr_date": "2016-01-02", "type_of_query_or_check": "max_msisdns_per_imsi"},
    ]
    frame = flowclient.get_qa_check_outcomes_df(
        connection=live,
        event_type="calls",
        check_type="latest_timestamp",
        start_date=date(2016, 1, 2),
        end_date=date(2016, 1, 2),
    )
    assert frame.to_dict("records") == [
        {"outcome": "2016-01-02 23:59:59.5+00", "cdr_date": "2016-01-02", "type_of_query_or_check": "latest_timestamp"}
    ]
    for check, outcome in EXPECTED_CALLS.items():
        assert (
            flowclient.get_qa_check_outcome(
                connection=live, event_type="calls", check_type=check, event_date="2016-01-02"
            )
            == outcome
        )
    with pytest.raises(FileNotFoundError):
        flowclient.get_qa_check_outcome(connection=live, event_type="calls", check_type="x", event_date="2016-01-02")
    with pytest.raises(FlowclientConnectionError, match="400"):
        flowclient.get_qa_check_outcomes(
            connection=live, event_type="calls", check_type="count_added_rows", start_date="2016/01/01", end_date="x"
        )


def test_our_client_reads_what_flowclient_reads(live):
    ours = flowkit.client.connect(url=live.url, token=live.token)
    for event_types in (None, ["sms"]):
        assert flowkit.client.get_available_qa_checks(
            connection=ours, event_types=event_types
        ) == flowclient.get_available_qa_checks(connection=live, event_types=event_types)
    pd.testing.assert_frame_equal(
        flowkit.client.get_available_qa_checks_df(connection=ours, event_types=["calls"]),
        flowclient.get_available_qa_checks_df(connection=live, event_types=["calls"]),
    )
    window = dict(event_type="calls", check_type="max_msisdns_per_imsi", start_date="2016-01-01", end_date="2016-01-02")
    assert flowkit.client.get_qa_check_outcomes(connection=ours, **window) == [
        {"outcome": "1", "cdr_date": "2016-01-01", "type_of_query_or_check": "max_msisdns_per_imsi"},
        {"outcome": "3", "cdr_date": "2016-01-02", "type_of_query_or_check": "max_msisdns_per_imsi"},
    ]
    pd.testing.assert_frame_equal(
        flowkit.client.get_qa_check_outcomes_df(connection=ours, **window),
        flowclient.get_qa_check_outcomes_df(connection=live, **window),
    )
    for check, outcome in EXPECTED_CALLS.items():
        day = dict(event_type="calls", check_type=check, event_date=date(2016, 1, 2))
        assert flowkit.client.get_qa_check_outcome(connection=ours, **day) == outcome


def test_flowclient_without_the_scope_is_refused(keys):
    machine = Machine(qa_flowdb())
    with serving(create_app(machine, public_key=keys[1], server_name=SERVER)) as url:
        connection = flowclient.connect(url=url, token=token(keys, ["get_available_dates"]))
        with pytest.raises(FlowclientConnectionError, match="User claims verification failed"):
            flowclient.get_available_qa_checks(connection=connection)
    machine.close()


def test_cli_runs_and_prints_the_checks(tmp_path):
    path = tmp_path / "flowdb.duckdb"
    db = build_tiny_db(cells=QA_CELLS, calls=DAY_CALLS + OTHER_DAYS, sms=SMS, db=FlowDB(path)).db
    db.close()
    runner = CliRunner()
    empty = runner.invoke(main, ["qa", "--db", str(path)])
    assert empty.exit_code == 0 and "flowkit qa --run" in empty.output
    ran = runner.invoke(main, ["qa", "--db", str(path), "--run", "--type", "calls", "--date", "2016-01-02"])
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    assert lines[0].startswith("computed 24 outcomes in ")
    assert lines[1].split() == ["cdr_date", "cdr_type", "type_of_query_or_check", "outcome"]
    table = {line.split()[2]: line.split(maxsplit=3)[3] for line in lines[2:]}
    assert table == EXPECTED_CALLS
    shown = runner.invoke(main, ["qa", "--db", str(path), "--start", "2016-01-01", "--end", "2016-01-03"])
    assert len(shown.output.splitlines()) == 1 + 24  # only the 2nd of calls was computed
    everything = runner.invoke(main, ["qa", "--db", str(path), "--run"])
    assert everything.output.startswith("computed 93 outcomes")  # 3 days of calls, 1 of sms
    both = runner.invoke(main, ["qa", "--db", str(path), "--date", "2016-01-01", "--start", "2016-01-01"])
    assert both.exit_code == 2 and "not both" in both.output
