"""The API checks a token's signature once, then remembers it: expiry and revocation still apply to every request."""

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from starlette.testclient import TestClient
from tests.conftest import sixteen_and_fifteen

from flowkit.api import security
from flowkit.api.app import create_app
from flowkit.auth.tokens import ensure_key_pair, mint_token
from flowkit.machine.queries import Machine

SERVER = "test-server"
DATES = "/api/0/available_dates"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)


@pytest.fixture
def revoked():
    return set()


@pytest.fixture
def client(keys, revoked):
    machine = Machine(sixteen_and_fifteen())
    app = create_app(machine, public_key=keys[1], server_name=SERVER)
    app.state.authenticator.revoked = revoked  # a list that changes while the API runs, as FlowAuth's does
    yield TestClient(app)
    machine.close()


@pytest.fixture
def decodes(monkeypatch):
    """Count signature checks."""
    calls = []
    decode = jwt.decode

    def counting(*args, **kwargs):
        calls.append(args[0])
        return decode(*args, **kwargs)

    monkeypatch.setattr(security.jwt, "decode", counting)
    return calls


def token(keys, *, jti="t1", roles=None, **when):
    when = when or {"lifetime": timedelta(minutes=5)}
    return mint_token(
        keys[0], user="alice", audience=SERVER, roles=roles or {"r": ["get_available_dates"]}, jti=jti, **when
    )


def get(client, token):
    return client.get(DATES, headers={"Authorization": f"Bearer {token}"})


def test_a_token_is_verified_once(client, keys, decodes):
    alice = token(keys)
    assert [get(client, alice).status_code for _ in range(5)] == [200] * 5
    assert decodes == [alice]


def test_expiry_is_checked_on_every_request(client, keys, decodes, monkeypatch):
    expires = datetime.now(UTC) + timedelta(minutes=1)
    alice = token(keys, issued=expires - timedelta(minutes=2), expires=expires)
    assert get(client, alice).status_code == 200
    monkeypatch.setattr(security.time, "time", lambda: expires.timestamp())  # expired at `exp`, as PyJWT says
    response = get(client, alice)
    assert (response.status_code, response.json()) == (401, {"msg": "Token has expired"})
    assert decodes == [alice]


def test_revocation_is_checked_on_every_request(client, keys, revoked):
    alice = token(keys, jti="alice-1")
    assert get(client, alice).status_code == 200
    revoked.add("alice-1")
    response = get(client, alice)
    assert (response.status_code, response.json()) == (401, {"msg": "Token has been revoked"})
    revoked.clear()
    assert get(client, alice).status_code == 200


def test_refused_tokens_are_not_remembered(client, keys, decodes, tmp_path):
    expired = token(keys, lifetime=timedelta(seconds=-1))
    foreign = mint_token(
        ensure_key_pair(tmp_path, key_size=2048)[0], user="eve", audience=SERVER, roles={}, lifetime=timedelta(1)
    )
    for refused in (expired, foreign):
        assert [get(client, refused).status_code for _ in range(2)] in ([401, 401], [422, 422])
    assert decodes == [expired, expired, foreign, foreign]


def test_scopes_are_checked_per_request_for_a_remembered_token(client, keys):
    alice = token(keys, roles={"dates": ["get_available_dates"]})
    assert get(client, alice).status_code == 200
    assert client.get("/api/0/geography/admin3", headers={"Authorization": f"Bearer {alice}"}).status_code == 403
    assert get(client, alice).status_code == 200


def test_the_cache_is_bounded(keys):
    authenticator = security.Authenticator(keys[1], SERVER, cache_size=2)
    for n in range(4):
        authenticator._verified(token(keys, jti=f"t{n}"))
    assert authenticator._verified.cache_info().currsize == 2


def test_remembered_answers_match_a_fresh_check(keys):
    """The same roles and user come back whether the token was checked just now or remembered."""
    roles = {"a": ["get_available_dates"], "b": ["run", "get_result"]}
    alice = token(keys, roles=roles)
    first = security.Authenticator(keys[1], SERVER)._verify(alice)
    remembered = security.Authenticator(keys[1], SERVER)
    remembered._verified(alice)
    again = remembered._verified(alice)
    assert (again.user.name, again.user.roles, again.jti) == (first.user.name, first.user.roles, first.jti)
    assert again.expires == pytest.approx(time.time() + 300, abs=10)
    assert again.user.role_granting(["run"]) == "b" and again.user.role_granting(["run", "get_available_dates"]) is None
