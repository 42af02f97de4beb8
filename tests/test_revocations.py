"""FlowAPI refuses the tokens FlowAuth revokes: its key and revocation list come from FlowAuth's URL.

FlowAuth is played here by a small real HTTP server with FlowAuth's two routes over a list the
test changes (the real FlowAuth is tested against the API on its own).
"""

import signal
import socket
import time
from contextlib import ExitStack
from datetime import timedelta

import flowclient
import httpx
import jwt
import pytest
from click.testing import CliRunner
from flowclient.errors import FlowclientConnectionError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from structlog.testing import capture_logs
from tests.conftest import sixteen_and_fifteen
from tests.live_server import flowkit_serve, serving

from flowkit.api.app import create_app
from flowkit.api.flowauth import FlowAuthError, RevocationList, fetch_public_key
from flowkit.auth.tokens import compress_roles, ensure_key_pair, mint_token
from flowkit.cli import main
from flowkit.machine.queries import Machine

SERVER = "test-server"
REFRESH = 0.2
DATES = "/api/0/available_dates"
REVOKED = {"msg": "Token has been revoked"}


class FakeFlowAuth:
    """FlowAuth's `/public_key` and `/revocations` routes; `answer`, when set, replaces the list's."""

    def __init__(self, public_key: str):
        self.url = ""  # set once served
        self.public_key = public_key
        self.revoked: list[str] = []
        self.answer: Response | None = None
        self.asked = 0

    def app(self) -> Starlette:
        async def public_key(request: Request) -> Response:
            return PlainTextResponse(self.public_key)

        async def revocations(request: Request) -> Response:
            self.asked += 1
            if self.answer is not None:
                return self.answer
            return JSONResponse({"server": request.query_params["server"], "revoked": list(self.revoked)})

        return Starlette(routes=[Route("/public_key", public_key), Route("/revocations", revocations)])


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return ensure_key_pair(tmp_path_factory.mktemp("flowauth-keys"), key_size=2048)


@pytest.fixture
def flowauth(keys):
    fake = FakeFlowAuth(keys[1])
    with serving(fake.app()) as url:
        fake.url = url
        yield fake


def token(keys, **claims) -> str:
    return mint_token(keys[0], user="alice", audience=SERVER, roles={"r": ["get_available_dates"]}, **claims)


def jti(encoded: str) -> str:
    return jwt.decode(encoded, options={"verify_signature": False})["jti"]


def bearer(encoded: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {encoded}"}


@pytest.fixture
def api(keys, flowauth):
    """A started FlowAPI (lifespan run) checking revocations at the fake FlowAuth every 0.2 s."""
    machine = Machine(sixteen_and_fifteen())
    revocations = RevocationList(flowauth.url, SERVER, refresh_seconds=REFRESH)
    with TestClient(create_app(machine, public_key=keys[1], server_name=SERVER, revocations=revocations)) as client:
        yield client
    machine.close()


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.02)


def not_refreshed(logs: list[dict]) -> list[dict]:
    """The API's warnings that it kept its last list, among captured log entries."""
    return [entry for entry in logs if entry["event"] == "revocation list not refreshed"]


def refreshes(flowauth: FakeFlowAuth, count: int) -> None:
    """Wait until the API has asked FlowAuth for its list `count` more times."""
    target = flowauth.asked + count
    wait_for(lambda: flowauth.asked >= target)


def test_revoked_token_is_refused_after_the_next_refresh(api, flowauth, keys):
    alice, bob = token(keys, lifetime=timedelta(minutes=5)), token(keys, lifetime=timedelta(minutes=5))
    assert api.get(DATES, headers=bearer(alice)).json() == {"available_dates": {"calls": ["2016-01-01"]}}
    flowauth.revoked.append(jti(alice))
    wait_for(lambda: api.get(DATES, headers=bearer(alice)).status_code == 401, seconds=3)
    response = api.get(DATES, headers=bearer(alice))
    assert (response.status_code, response.json()) == (401, REVOKED)
    assert api.get(DATES, headers=bearer(bob)).status_code == 200


def test_the_list_is_replaced_not_merged(api, flowauth, keys):
    """FlowAuth drops a revoked token from its list once it has expired; so does the API."""
    alice = token(keys, lifetime=timedelta(minutes=5))
    flowauth.revoked.append(jti(alice))
    wait_for(lambda: api.get(DATES, headers=bearer(alice)).status_code == 401)
    flowauth.revoked.clear()
    wait_for(lambda: api.get(DATES, headers=bearer(alice)).status_code == 200)


def test_a_token_revoked_before_start_is_refused_on_the_first_request(keys, flowauth):
    alice = token(keys, lifetime=timedelta(minutes=5))
    flowauth.revoked.append(jti(alice))
    revocations = RevocationList(flowauth.url, SERVER, refresh_seconds=60)  # no refresh during the test
    app = create_app(Machine(sixteen_and_fifteen()), public_key=keys[1], server_name=SERVER, revocations=revocations)
    with TestClient(app) as client:
        response = client.get(DATES, headers=bearer(alice))
    assert (response.status_code, response.json()) == (401, REVOKED)
    assert flowauth.asked == 1


def test_the_api_asks_for_its_own_servers_list():
    asked_for = []

    async def revocations(request: Request) -> Response:
        asked_for.append(dict(request.query_params))
        return JSONResponse({"server": SERVER, "revoked": ["j1", "j2"]})

    with serving(Starlette(routes=[Route("/revocations", revocations)])) as url:
        listed = RevocationList(f"{url}/", SERVER)  # a trailing slash is fine
        assert listed.fetch() == {"j1", "j2"}
        assert listed.refresh() is True
    assert asked_for == [{"server": SERVER}, {"server": SERVER}]
    assert ("j1" in listed, "j3" in listed) == (True, False)


def test_token_without_jti_is_accepted(api, flowauth, keys):
    claims = {
        "sub": "alice",
        "aud": SERVER,
        "exp": int(time.time()) + 300,
        "user_claims": compress_roles({"r": ["get_available_dates"]}),
    }
    flowauth.revoked.append("anything")
    refreshes(flowauth, 2)
    assert api.get(DATES, headers=bearer(jwt.encode(claims, keys[0], algorithm="RS256"))).status_code == 200


def test_flowauth_down_keeps_the_last_good_list(keys):
    alice, bob = token(keys, lifetime=timedelta(minutes=5)), token(keys, lifetime=timedelta(minutes=5))
    fake = FakeFlowAuth(keys[1])
    fake.revoked.append(jti(alice))
    with ExitStack() as flowauth_running:
        url = flowauth_running.enter_context(serving(fake.app()))
        revocations = RevocationList(url, SERVER, refresh_seconds=REFRESH)
        app = create_app(
            Machine(sixteen_and_fifteen()), public_key=keys[1], server_name=SERVER, revocations=revocations
        )
        with TestClient(app) as client:
            assert client.get(DATES, headers=bearer(alice)).json() == REVOKED
            flowauth_running.close()  # FlowAuth goes down; the API keeps running
            with capture_logs() as logs:
                wait_for(lambda: len(not_refreshed(logs)) >= 2)
            assert client.get(DATES, headers=bearer(alice)).json() == REVOKED
            assert client.get(DATES, headers=bearer(bob)).status_code == 200
    warning = not_refreshed(logs)[0]
    assert (warning["log_level"], warning["kept"]) == ("warning", 1)
    assert warning["error"].startswith(f"{url}/revocations: ")


BAD_ANSWERS = {
    "500": Response("boom", status_code=500),
    "not JSON": PlainTextResponse("revoked: none"),
    "another server's list": JSONResponse({"server": "other-server", "revoked": []}),
    "no list": JSONResponse({"server": SERVER}),
    "not a list of strings": JSONResponse({"server": SERVER, "revoked": [1, 2]}),
}


@pytest.mark.parametrize("answer", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_a_nonsense_answer_keeps_the_last_good_list(api, flowauth, keys, answer):
    alice = token(keys, lifetime=timedelta(minutes=5))
    flowauth.revoked.append(jti(alice))
    wait_for(lambda: api.get(DATES, headers=bearer(alice)).status_code == 401)
    flowauth.answer = answer  # before the list changes, so no refresh can see the cleared list
    flowauth.revoked.clear()
    with capture_logs() as logs:
        wait_for(lambda: len(not_refreshed(logs)) >= 3)
    assert api.get(DATES, headers=bearer(alice)).json() == REVOKED
    assert {(e["log_level"], e["kept"]) for e in not_refreshed(logs)} == {("warning", 1)}
    flowauth.answer = None  # FlowAuth is sane again: its (now empty) list is taken
    wait_for(lambda: api.get(DATES, headers=bearer(alice)).status_code == 200)


def test_flowauth_unreachable_at_start_the_api_starts_with_an_empty_list(keys):
    revocations = RevocationList(f"http://127.0.0.1:{free_port()}", SERVER, refresh_seconds=60)
    app = create_app(Machine(sixteen_and_fifteen()), public_key=keys[1], server_name=SERVER, revocations=revocations)
    with capture_logs() as logs, TestClient(app) as client:
        assert client.get(DATES, headers=bearer(token(keys, lifetime=timedelta(minutes=5)))).status_code == 200
    assert [(e["log_level"], e["kept"]) for e in not_refreshed(logs)] == [("warning", 0)]


def test_create_app_refuses_another_servers_revocations(keys):
    revocations = RevocationList("http://127.0.0.1:1", "other-server")
    with pytest.raises(ValueError, match="^revocations are for server 'other-server', not 'test-server'$"):
        create_app(Machine(sixteen_and_fifteen()), public_key=keys[1], server_name=SERVER, revocations=revocations)


def test_fetch_public_key(flowauth, keys):
    assert fetch_public_key(flowauth.url) == keys[1]
    flowauth.public_key = "not a key"
    with pytest.raises(FlowAuthError, match=f"^{flowauth.url}/public_key is not a PEM public key: "):
        fetch_public_key(flowauth.url)


def test_serve_refuses_to_start_when_flowauth_is_unreachable(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path), "--auth-url", url])
    assert result.exit_code == 1
    assert f"Error: cannot get the token key from FlowAuth: {url}/public_key: " in result.output
    assert not (tmp_path / "keys").exists()  # the data dir's keys are not used, so not made


def test_refresh_seconds_need_an_auth_url(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path), "--revocation-refresh-seconds", "1"])
    assert result.exit_code == 2
    assert "Error: --revocation-refresh-seconds needs --auth-url" in result.output


@pytest.mark.parametrize("content", ["not a key", "private key"])
def test_serve_refuses_a_public_key_file_that_is_not_one(tmp_path, keys, content):
    key_file = tmp_path / "key.pem"
    key_file.write_text(keys[0] if content == "private key" else content)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path), "--public-key", str(key_file)])
    assert result.exit_code == 1
    assert f"Error: {key_file} is not a PEM public key: " in result.output


@pytest.fixture
def empty_flowdb(tmp_path):
    """A data dir holding an empty FlowDB."""
    result = CliRunner().invoke(main, ["db", "init", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path


def data_dir_token(data_dir) -> str:
    """A token signed with the data dir's own key (made on first use), which FlowAuth's API must refuse."""
    arguments = ["--data-dir", str(data_dir), "--server-name", SERVER, "--user", "x", "--role", "r=get_available_dates"]
    result = CliRunner().invoke(main, ["token", *arguments])
    assert result.exit_code == 0, result.output
    return result.output.strip()


@pytest.mark.slow
def test_serve_with_auth_url_and_flowclient(empty_flowdb, flowauth, keys):
    """`flowkit serve --auth-url`: FlowAuth's key, not the data dir's; a revoked token stops working in flowclient."""
    own_token = data_dir_token(empty_flowdb)
    server, url = flowkit_serve(
        *("--data-dir", str(empty_flowdb), "--server-name", SERVER),
        *("--auth-url", flowauth.url, "--revocation-refresh-seconds", str(REFRESH)),
    )
    try:
        alice = token(keys, lifetime=timedelta(minutes=5))
        with pytest.warns(UserWarning, match="NOT SECURE"):
            connection = flowclient.connect(url=url.removesuffix("/api/0"), token=alice)
        assert flowclient.get_available_dates(connection=connection) == {}
        response = httpx.get(f"{url}/available_dates", headers=bearer(own_token))
        assert (response.status_code, response.json()) == (422, {"msg": "Signature verification failed"})
        flowauth.revoked.append(jti(alice))
        wait_for(lambda: httpx.get(f"{url}/available_dates", headers=bearer(alice)).status_code == 401, seconds=5)
        with pytest.raises(FlowclientConnectionError, match="^Token has been revoked$"):
            flowclient.get_available_dates(connection=connection)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)


@pytest.mark.slow
def test_serve_with_a_public_key_file(empty_flowdb, keys):
    key_file = empty_flowdb / "flowauth-public-key.pem"
    key_file.write_text(keys[1])
    own_token = data_dir_token(empty_flowdb)
    server, url = flowkit_serve("--data-dir", str(empty_flowdb), "--server-name", SERVER, "--public-key", str(key_file))
    try:
        alice = token(keys, lifetime=timedelta(minutes=5))
        response = httpx.get(f"{url}/available_dates", headers=bearer(alice))
        assert (response.status_code, response.json()) == (200, {"available_dates": {}})
        response = httpx.get(f"{url}/available_dates", headers=bearer(own_token))
        assert (response.status_code, response.json()) == (422, {"msg": "Signature verification failed"})
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
