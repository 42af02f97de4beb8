"""Two API processes over one PostgreSQL FlowDB, sharing query states through Redis."""

import signal
import time

import httpx
import pytest
from click.testing import CliRunner
from tests.live_server import flowkit_serve

from flowkit.cli import main

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"
SPEC = {
    "query_kind": "spatial_aggregate",
    "locations": {
        "query_kind": "modal_location",
        "locations": [
            {"query_kind": "daily_location", "date": f"2016-01-0{day}", "aggregation_unit": "admin2", "method": "last"}
            for day in range(1, 5)
        ],
    },
}


def test_run_through_one_poll_and_get_through_the_other(postgres_url, tmp_path):
    runner = CliRunner()
    dates = ["--start-date", "2016-01-01", "--end-date", "2016-01-05", "--crisis-date", "2016-01-03"]
    assert runner.invoke(main, ["db", "init", "--db", postgres_url]).exit_code == 0
    synth = runner.invoke(
        main, ["synth", "--db", postgres_url, "--data-dir", str(tmp_path), "--subscribers", "400", *dates]
    )
    assert synth.exit_code == 0, synth.output
    token = runner.invoke(main, ["token", "--data-dir", str(tmp_path), "--user", "ana", "--all-scopes"]).output.strip()
    headers = {"Authorization": f"Bearer {token}"}
    serve = ("--db", postgres_url, "--data-dir", str(tmp_path), "--redis-url", REDIS_URL)
    first, first_url = flowkit_serve(*serve)
    second, second_url = flowkit_serve(*serve)
    try:
        run = httpx.post(f"{first_url}/run", json=SPEC, headers=headers)
        assert run.status_code == 202, run.text
        query_id = run.json()["query_id"]
        for _ in range(600):
            poll = httpx.get(f"{second_url}/poll/{query_id}", headers=headers)
            if poll.status_code == 303:
                break
            assert poll.status_code == 202, poll.text  # the second process knows the query and its progress
            assert set(poll.json()["progress"]) == {"eligible", "queued", "running"}
            time.sleep(0.05)
        assert poll.headers["Location"] == f"/api/0/get/{query_id}"
        from_second = httpx.get(f"{second_url}/get/{query_id}", headers=headers).json()
        from_first = httpx.get(f"{first_url}/get/{query_id}", headers=headers).json()
        assert from_second == from_first and from_second["query_result"]
        again = httpx.post(f"{second_url}/run", json=SPEC, headers=headers).json()
        assert again == {"query_id": query_id, "progress": {"eligible": 0, "queued": 0, "running": 0}}
    finally:
        for server in (first, second):
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
