"""A server killed with SIGKILL mid-query: nothing half-written is ever served as completed."""

import signal
import time
from datetime import date

import duckdb
import httpx
import pytest
from click.testing import CliRunner
from tests.live_server import flowkit_serve

from flowkit.cli import main

pytestmark = pytest.mark.slow

# A modal location over 27 days: 28 parts, each its own stored table, long enough to be caught.
SPEC = {
    "query_kind": "spatial_aggregate",
    "locations": {
        "query_kind": "modal_location",
        "locations": [
            {
                "query_kind": "daily_location",
                "date": f"2016-01-{day:02}",
                "aggregation_unit": "admin3",
                "method": "most-common",
            }
            for day in range(1, 28)
        ],
    },
}


def stored_tables_and_records(path):
    with duckdb.connect(str(path), read_only=True) as db:
        tables = {
            t
            for (t,) in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cache' AND table_name LIKE 'x%'"
            ).fetchall()
        }
        records = {f"x{q}" for (q,) in db.execute("SELECT query_id FROM cache.stored_results").fetchall()}
    return tables, records


def test_sigkill_mid_query_then_restart(tmp_path):
    runner = CliRunner()
    synth = ["synth", "--data-dir", str(tmp_path), "--subscribers", "3000", "--start-date", "2016-01-01"]
    assert runner.invoke(main, [*synth, "--end-date", "2016-01-28", "--crisis-date", "2016-01-20"]).exit_code == 0
    token = runner.invoke(main, ["token", "--data-dir", str(tmp_path), "--user", "ops", "--all-scopes"]).output.strip()
    headers = {"Authorization": f"Bearer {token}"}

    server, url = flowkit_serve("--data-dir", str(tmp_path))
    try:
        query_id = httpx.post(f"{url}/run", json=SPEC, headers=headers).json()["query_id"]
        while True:  # wait until some parts are stored and the rest are still being computed
            poll = httpx.get(f"{url}/poll/{query_id}", headers=headers)
            assert poll.status_code == 202, poll.text  # completing before the kill would void the test
            if poll.json()["progress"]["eligible"] < 25:
                break
            time.sleep(0.005)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    tables, records = stored_tables_and_records(tmp_path / "flowdb.duckdb")
    assert tables == records  # no table without its record: no orphan, nothing half-written
    assert f"x{query_id}" not in tables

    server, url = flowkit_serve("--data-dir", str(tmp_path))
    try:
        poll = httpx.get(f"{url}/poll/{query_id}", headers=headers)
        assert (poll.status_code, poll.json()["status"]) == (404, "known")  # not completed: must be run again
        assert httpx.get(f"{url}/get/{query_id}", headers=headers).status_code == 404
        assert httpx.post(f"{url}/run", json=SPEC, headers=headers).json()["query_id"] == query_id
        for _ in range(600):
            poll = httpx.get(f"{url}/poll/{query_id}", headers=headers)
            if poll.status_code == 303:
                break
            time.sleep(0.05)
        assert poll.status_code == 303
        assert httpx.get(f"{url}/get/{query_id}", headers=headers).json()["query_result"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    tables, records = stored_tables_and_records(tmp_path / "flowdb.duckdb")
    assert tables == records and f"x{query_id}" in tables


def test_cancel_while_executing_leaves_nothing_half_written(tmp_path):
    from flowkit.db import FlowDB
    from flowkit.db.synthetic import SyntheticConfig, generate
    from flowkit.machine.catalogue import parse_spec
    from flowkit.machine.queries import Machine, QueryState

    db = FlowDB(tmp_path / "flowdb.duckdb")
    generate(
        db,
        SyntheticConfig(
            seed=4, subscribers=3000, start_date=date(2016, 1, 1), end_date=date(2016, 1, 28), crisis_date=None
        ),
    )
    machine = Machine(db, workers=1)
    spec = parse_spec(SPEC)
    query_id = machine.run(spec)
    while machine.progress(query_id).eligible > 25:  # some parts stored, the query still running
        assert machine.state(query_id) in (QueryState.QUEUED, QueryState.EXECUTING)
        time.sleep(0.005)
    assert machine.cancel(query_id) == QueryState.CANCELLED
    assert machine.wait(query_id, timeout=30) == QueryState.CANCELLED
    machine.close()  # waits for the worker to leave the cancelled job
    assert machine.cache.orphan_tables() == []
    stored = machine.cache.stored_ids()
    assert query_id not in stored and 0 < len(stored) < 28
    machine = Machine(db, workers=1)
    assert machine.run(spec) == query_id and machine.wait(query_id, timeout=120) == QueryState.COMPLETED
    machine.close()
