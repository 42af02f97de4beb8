"""`flowkit db init | synth | serve --db postgresql://...`: the operator's path to a PostgreSQL FlowDB."""

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from flowkit.cli import main

pytestmark = pytest.mark.slow


def invoke(*arguments: str):
    return CliRunner().invoke(main, list(arguments))


@pytest.fixture(scope="module")
def country(postgres_url, tmp_path_factory):
    """A PostgreSQL FlowDB made by the CLI, and a data dir holding only the token keys."""
    data_dir = str(tmp_path_factory.mktemp("keys"))
    result = invoke("db", "init", "--db", postgres_url)
    assert result.exit_code == 0, result.output
    dates = ["--start-date", "2016-01-01", "--end-date", "2016-01-05", "--crisis-date", "2016-01-03"]
    result = invoke("synth", "--db", postgres_url, "--data-dir", data_dir, "--subscribers", "300", *dates)
    assert result.exit_code == 0, result.output
    return postgres_url, data_dir


def test_db_init_is_idempotent_and_synth_refuses_a_full_flowdb(country):
    url, data_dir = country
    assert invoke("db", "init", "--db", url).exit_code == 0
    result = invoke("synth", "--db", url, "--data-dir", data_dir, "--subscribers", "300")
    assert result.exit_code != 0 and "is not empty" in result.output


def test_serve_over_postgres(country):
    url, data_dir = country
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = invoke("token", "--data-dir", data_dir, "--user", "dana", "--all-scopes").output.strip()
    headers = {"Authorization": f"Bearer {token}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "flowkit.cli", "serve", "--db", url, "--data-dir", data_dir, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/0"
        for _ in range(400):
            try:
                response = httpx.get(f"{api}/available_dates", headers=headers)
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["available_dates"]["calls"] == [f"2016-01-0{d}" for d in range(1, 6)]
        spec = {
            "query_kind": "spatial_aggregate",
            "locations": {
                "query_kind": "daily_location",
                "date": "2016-01-02",
                "aggregation_unit": "admin1",
                "method": "last",
            },
        }
        run = httpx.post(f"{api}/run", json=spec, headers=headers)
        assert run.status_code == 202, run.text
        query_id = run.json()["query_id"]
        for _ in range(600):
            if httpx.get(f"{api}/poll/{query_id}", headers=headers, follow_redirects=False).status_code == 303:
                break
            time.sleep(0.05)
        result = httpx.get(f"{api}/get/{query_id}", headers=headers)
        assert result.status_code == 200, result.text
        rows = result.json()["query_result"]
        assert rows and sum(row["value"] for row in rows) > 100  # most of the 300 subscribers, unredacted units
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=20)
