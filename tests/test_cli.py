"""The `flowkit` command as an operator uses it: synth, token, serve."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from datetime import date

import httpx
import jwt
import pytest
from click.testing import CliRunner

from flowkit.auth.tokens import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, decompress_roles
from flowkit.cli import main
from flowkit.machine.catalogue import scope_universe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    result = CliRunner().invoke(
        main,
        [
            "synth",
            "--data-dir",
            str(path),
            "--subscribers",
            "400",
            "--start-date",
            "2016-01-01",
            "--end-date",
            "2016-01-05",
            "--crisis-date",
            "2016-01-03",
        ],
    )
    assert result.exit_code == 0, result.output
    return path


def test_synth_refuses_to_overwrite(data_dir):
    result = CliRunner().invoke(main, ["synth", "--data-dir", str(data_dir)])
    assert result.exit_code != 0 and "already exists" in result.output


def test_synth_sizes(monkeypatch, tmp_path):
    made = []
    monkeypatch.setattr("flowkit.cli.data.synthesise", lambda data, config, target=None: made.append(config))
    result = CliRunner().invoke(main, ["synth", "--data-dir", str(tmp_path), "--size", "M"])
    assert result.exit_code == 0, result.output
    (config,) = made
    assert config.subscribers == 100_000 and config.seed == 2016
    assert (config.start_date, config.end_date, config.crisis_date) == (
        date(2016, 1, 1),
        date(2016, 1, 30),
        date(2016, 1, 16),
    )
    result = CliRunner().invoke(main, ["synth", "--data-dir", str(tmp_path), "--size", "S", "--subscribers", "5"])
    assert result.exit_code == 2 and "--subscribers" in result.output


def test_token_with_roles(data_dir):
    result = CliRunner().invoke(
        main,
        [
            "token",
            "--data-dir",
            str(data_dir),
            "--user",
            "alice",
            "--role",
            "a=run,get_result",
            "--role",
            "b=get_available_dates",
            "--lifetime-minutes",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    public_key = (data_dir / "keys" / PUBLIC_KEY_FILE).read_text()
    claims = jwt.decode(result.output.strip(), public_key, algorithms=["RS256"], audience="flowkit-demo")
    assert claims["sub"] == "alice" and claims["exp"] - claims["iat"] == 300
    assert decompress_roles(claims["user_claims"]) == {"a": ["run", "get_result"], "b": ["get_available_dates"]}
    assert stat.S_IMODE(os.stat(data_dir / "keys" / PRIVATE_KEY_FILE).st_mode) == 0o600


def test_token_all_scopes(data_dir):
    result = CliRunner().invoke(main, ["token", "--data-dir", str(data_dir), "--user", "bob", "--all-scopes"])
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert decompress_roles(claims["user_claims"]) == {"all_scopes": scope_universe()}


@pytest.mark.parametrize("arguments", [[], ["--all-scopes", "--role", "a=run"], ["--role", "nothing"]])
def test_token_needs_exactly_one_kind_of_role(data_dir, arguments):
    result = CliRunner().invoke(main, ["token", "--data-dir", str(data_dir), "--user", "x", *arguments])
    assert result.exit_code == 2


def test_serve_answers_with_the_data_dirs_key(data_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = (
        CliRunner()
        .invoke(main, ["token", "--data-dir", str(data_dir), "--user", "carol", "--all-scopes"])
        .output.strip()
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "flowkit.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/0/available_dates"
        for _ in range(200):
            try:
                response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["available_dates"]["calls"] == [f"2016-01-0{d}" for d in range(1, 6)]
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=20)
    access = [line for line in out.decode().splitlines() if '"request"' in line]
    assert '"user": "carol"' in access[0] and '"status_code": 200' in access[0]
