"""`flowkit demo` end to end: FlowAPI and FlowAuth start, the printed credentials work, and a token the
analyst takes from FlowAuth works with the real flowclient 1.34 (a small country stands in for the
demo's, which `demo` reuses when the data dir already holds one)."""

import re
import socket
import subprocess
import sys
import time

import flowclient
import httpx
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo")
    synth = [sys.executable, "-m", "flowkit.cli", "synth", "--data-dir", str(data_dir), "--subscribers", "300"]
    subprocess.run(
        [*synth, "--start-date", "2016-01-01", "--end-date", "2016-01-03", "--crisis-date", "2016-01-02"], check=True
    )
    port, auth_port = free_port(), free_port()
    command = [sys.executable, "-m", "flowkit.cli", "demo", "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--auth-port", str(auth_port)], stdout=subprocess.PIPE, text=True
    )
    output = ""
    deadline = time.monotonic() + 60
    while "Or the whole demo notebook" not in output:
        assert time.monotonic() < deadline and process.poll() is None, output
        output += process.stdout.readline()
    api = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{api}/api/0/spec/openapi.json")
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    yield output, api, f"http://127.0.0.1:{auth_port}", data_dir
    process.terminate()
    process.wait(timeout=10)


def test_prints_flowauth_and_both_credentials(demo):
    output, _, auth, data_dir = demo
    assert f"FlowAuth: {auth}/login" in output
    for user in ("admin", "analyst"):
        password = (data_dir / f"demo-{user}-password.txt").read_text().strip()
        assert f"  {user:<8} password {password}" in output


def test_the_analyst_takes_a_token_from_flowauth_and_flowclient_uses_it(demo):
    output, api, auth, data_dir = demo
    password = re.search(r"analyst\s+password (\S+)", output).group(1)
    with httpx.Client(base_url=auth, follow_redirects=True) as browser:
        page = browser.get("/login").text
        home = browser.post(
            "/login", data={"csrf_token": csrf(page), "username": "analyst", "password": password, "do": "login"}
        )
        assert home.url.path == "/"
        form = browser.get("/tokens/new").text
        role_ids = re.findall(r'name="role" value="(\d+)"', form)
        server_id = re.search(r'name="server" value="(\d+)"', form).group(1)
        issued = browser.post(
            "/tokens/new",
            data={"csrf_token": csrf(form), "server": server_id, "role": role_ids, "name": "notebook", "do": "issue"},
        )
        token = re.search(r'<textarea id="token" readonly rows="8">([^<]+)</textarea>', issued.text).group(1)
    connection = flowclient.connect(url=api, token=token)
    assert connection.user == "analyst"
    assert flowclient.get_available_dates(connection=connection) == {
        kind: ["2016-01-01", "2016-01-02", "2016-01-03"] for kind in ("calls", "sms", "mds", "topups")
    }


def test_the_printed_token_works(demo):
    output, api, _, _ = demo
    token = re.search(r'TOKEN = "([^"]+)"', output).group(1)
    connection = flowclient.connect(url=api, token=token)
    assert connection.user == "demo"
