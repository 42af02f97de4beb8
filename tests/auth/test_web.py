"""FlowAuth's web service over HTTP: every page and action, sessions, CSRF, sign-in, 2FA, and the
tokens it issues working against a real FlowAPI.

The app is `create_auth_app` on the store fixtures of tests/auth/conftest.py (SQLite and
PostgreSQL), with the fixture clock as the service's clock; a `Browser` is a TestClient with its
own cookie jar, that reads each form's CSRF token from the page the way a browser would.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from importlib.metadata import version
from types import SimpleNamespace
from urllib.parse import quote

import jwt
import pyotp
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from tests.auth.conftest import ADMIN, ADMIN_PASSWORD, ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, START
from tests.conftest import sixteen_and_fifteen
from tests.live_server import serving

from flowkit.api.app import create_app
from flowkit.api.openapi import openapi_document
from flowkit.auth.deployment import open_deployment
from flowkit.auth.models import BackupCode, Base, Role, Scope, Server, Token, User
from flowkit.auth.service import SIGN_IN_REFUSED
from flowkit.auth.tokens import decompress_roles
from flowkit.auth.web import SESSION_COOKIE, admin_pages, create_auth_app, framework, user_pages
from flowkit.data_dir import DataDir
from flowkit.machine.catalogue import parse_spec, required_scopes, scope_universe, top_level_kinds
from flowkit.machine.queries import Machine

SERVER = "test-server"
SESSION_SECRET = "a session secret for the tests"
CAROL, CAROL_PASSWORD = "carol", "Quokka-Saffron-Lattice-58"
NEW_PASSWORD = "copper Kettle whistles 7 times"
WEAK_PASSWORD = "password1"

DAY = {"query_kind": "daily_location", "date": "2016-01-01", "aggregation_unit": "admin3", "method": "last"}
SPATIAL = {"query_kind": "spatial_aggregate", "locations": DAY}
SPATIAL_ADMIN2 = {"query_kind": "spatial_aggregate", "locations": DAY | {"aggregation_unit": "admin2"}}
ANALYST_SCOPES = sorted(["get_available_dates", "run", *required_scopes(parse_spec(SPATIAL))])

CSRF_REFUSED = "The form had expired or did not come from this site. Reload and try again."
ADMINS_ONLY = "Only administrators can do that."
LOCKED = "Too many failed sign-ins for this account. Try again in 15 minutes."
TIMED_OUT = "Your session timed out. Please sign in again."


# --- reading pages ---------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def find(self, tag: str | None = None, *, class_: str | None = None, **attrs: str) -> list[Element]:
        """Descendants with this tag, class and attribute values, in document order."""
        found = []
        for child in self.children:
            if (
                (tag is None or child.tag == tag)
                and (class_ is None or class_ in child.classes)
                and all(child.attrs.get(name) == value for name, value in attrs.items())
            ):
                found.append(child)
            found.extend(child.find(tag, class_=class_, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements"
        return found[0]

    @property
    def words(self) -> str:
        return " ".join(self.text.split())


class _Parser(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.open = [self.root]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.open[-1].children.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.open[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        for element in self.open:
            element.text += data


def page(response) -> Element:
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    return _Parser(response.text).root


def csrf_of(response) -> str:
    """The CSRF token in a page's forms (every form on a page carries the same one)."""
    tokens = {field.attrs["value"] for field in page(response).find("input", name="csrf_token")}
    assert len(tokens) == 1, f"CSRF tokens on the page: {tokens}"
    return tokens.pop()


def errors(response) -> list[str]:
    return [element.words for element in page(response).find("p", class_="error")]


def notices(response) -> list[str]:
    return [element.words for element in page(response).find("p", class_="info")]


def heading(response) -> str:
    return page(response).find("h1")[0].words


def table_rows(response, css_class: str) -> list[list[str]]:
    table = page(response).one("table", class_=css_class)
    return [[cell.words for cell in row.find("td")] for row in table.one("tbody").find("tr")]


# --- browsing --------------------------------------------------------------------------------


class Browser:
    """One person's browser: its own session cookie; forms are posted with the token their page gave."""

    def __init__(self, app):
        self.client = TestClient(app, follow_redirects=False)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, *, form_page: str | None = None, **kwargs):
        """POST `data` to `path` with the CSRF token read from `form_page` (default: `path` itself)."""
        token = csrf_of(self.get(form_page or path))
        return self.client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)

    def sign_in(self, username: str, password: str, next: str | None = None):
        data = {"do": "login", "username": username, "password": password}
        return self.post("/login", data | ({"next": next} if next is not None else {}))

    def sign_out(self):
        return self.post("/logout", {"do": "logout"}, form_page="/account")

    @property
    def session_cookie(self) -> str:
        return self.client.cookies[SESSION_COOKIE]


def follow(browser: Browser, response, status: int = 303):
    assert response.status_code == status, (response.status_code, response.text)
    return browser.get(response.headers["location"])


def snapshot(sessions) -> dict[str, list[tuple]]:
    """Every row of every FlowAuth table, to show a refused request changed nothing."""
    with sessions() as db:
        return {
            table.name: sorted((tuple(row) for row in db.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def one_value(sessions, query):
    with sessions() as db:
        return db.scalars(query).one()


def values(sessions, query) -> list:
    with sessions() as db:
        return list(db.scalars(query))


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def app(settings, sessions, key_pair):
    return create_auth_app(
        settings, sessions, session_secret=SESSION_SECRET, public_key=key_pair[1], secure_cookies=False
    )


@pytest.fixture
def browser(app):
    """`browser()`: a new browser on the app, signed in as nobody."""
    return lambda: Browser(app)


@pytest.fixture
def signed_in(browser):
    """`signed_in(username, password)`: a new browser with that user signed in."""

    def sign_in(username: str, password: str) -> Browser:
        new = browser()
        response = new.sign_in(username, password)
        assert (response.status_code, response.headers["location"]) == (303, "/"), response.text
        return new

    return sign_in


@dataclass
class World:
    """root (admin); alice holds `analyst` on `test-server` and has a token; bob holds nothing."""

    admin: User
    alice: User
    bob: User
    server: Server
    analyst: Role
    token: Token

    def scope_ids(self, sessions, names: list[str]) -> list[int]:
        query = select(Scope.id).where(Scope.server_id == self.server.id, Scope.name.in_(names)).order_by(Scope.id)
        return values(sessions, query)


@pytest.fixture
def world(call, admin, alice, bob, sessions) -> World:
    server = call(admin, "create_server", SERVER, 1440, None, scope_universe())
    ids = values(sessions, select(Scope.id).where(Scope.name.in_(ANALYST_SCOPES)))
    analyst = call(admin, "create_role", server.id, "analyst", scope_ids=ids, member_ids=[alice.id])
    call(alice, "issue_token", server.id, [analyst.id], "notebook", None)
    token = one_value(sessions, select(Token))
    return World(admin, alice, bob, server, analyst, token)


@pytest.fixture(scope="module")
def api_machine():
    machine = Machine(sixteen_and_fifteen())
    yield machine
    machine.close()


def openapi_bytes() -> bytes:
    return json.dumps(openapi_document(SERVER, version("flowkit"))).encode()


# --- every page, as nobody, as a user, as an administrator -----------------------------------

ROUTES = [
    (page_.path, action)
    for page_ in user_pages.PAGES + admin_pages.PAGES
    if page_.signed_in
    for action in ([None] if page_.view else []) + list(page_.actions)
]
ADMIN_ROUTES = [(path, action) for path, action in ROUTES if path.startswith("/admin")]
USER_VIEWS = [path for path, action in ROUTES if action is None and not path.startswith("/admin")]


def concrete(path: str, world: World) -> str:
    """A route's path with its id filled in from the world."""
    ids = {"/admin/users/": world.bob.id, "/admin/servers/": world.server.id, "/admin/roles/": world.analyst.id}
    for prefix, id_ in ids.items():
        path = path.replace(prefix + "{id:int}", f"{prefix}{id_}")
    return f"{path}?server={world.server.id}" if path == "/admin/roles/new" else path


def admin_form(path: str, action: str, world: World, sessions) -> dict:
    """A valid form for each administrator action: what an administrator would send."""
    available = world.scope_ids(sessions, ["get_available_dates"])
    forms = {
        ("/admin/users", "create"): {"username": CAROL, "password": CAROL_PASSWORD, "role": [world.analyst.id]},
        ("/admin/users/{id:int}", "update"): {"require_two_factor": "on", "role": [world.analyst.id]},
        ("/admin/servers", "create"): {"name": "second", "longest_token_life_minutes": "60"},
        ("/admin/servers/{id:int}", "update"): {"longest_token_life_minutes": "120"},
        ("/admin/roles/new", "create"): {"name": "viewer", "scope": available, "member": [world.bob.id]},
        ("/admin/roles/{id:int}", "update"): {"name": "analysts", "scope": available, "member": [world.alice.id]},
        ("/admin/roles/{id:int}", "delete"): {},
        ("/admin/tokens", "revoke"): {"token": world.token.id, "back": "/admin/tokens"},
    }
    return {"do": action, **forms[(path, action)]}


def admin_files(path: str, action: str) -> dict | None:
    return (
        {"spec": ("openapi.json", openapi_bytes(), "application/json")}
        if action == "create" and "servers" in path
        else None
    )


@pytest.mark.parametrize(("path", "action"), ROUTES)
def test_nobody_is_sent_to_sign_in_from_every_page_and_action(browser, world, sessions, path, action):
    nobody = browser()
    url = concrete(path, world)
    before = snapshot(sessions)
    if action is None:
        response = nobody.get(url)
    else:
        response = nobody.post(url, {"do": action}, form_page="/login")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={quote(url, safe='/')}"
    assert snapshot(sessions) == before


@pytest.mark.parametrize(("path", "action"), ADMIN_ROUTES)
def test_a_user_who_is_not_an_administrator_is_refused_every_admin_page_and_action(
    signed_in, world, sessions, path, action
):
    alice = signed_in(ALICE, ALICE_PASSWORD)  # alice owns the token /admin/tokens would revoke
    url = concrete(path, world)
    before = snapshot(sessions)
    if action is None:
        response = alice.get(url)
    else:
        response = alice.post(
            url, admin_form(path, action, world, sessions), form_page="/", files=admin_files(path, action)
        )
    assert response.status_code == 403
    assert (heading(response), errors(response)) == ("Not allowed", [ADMINS_ONLY])
    assert snapshot(sessions) == before


@pytest.mark.parametrize(("path", "action"), ADMIN_ROUTES)
def test_an_administrator_can_use_every_admin_page_and_action(signed_in, world, sessions, path, action):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    url = concrete(path, world)
    if action is None:
        response = root.get(url)
        assert response.status_code == 200, response.text
        assert errors(response) == []
        return
    response = root.post(url, admin_form(path, action, world, sessions), files=admin_files(path, action))
    assert response.status_code == 303, errors(response) if response.status_code != 303 else ""
    made = {
        ("/admin/users", "create"): lambda: (
            f"/admin/users/{one_value(sessions, select(User.id).where(User.username == CAROL))}"
        ),
        ("/admin/servers", "create"): lambda: (
            f"/admin/servers/{one_value(sessions, select(Server.id).where(Server.name == 'second'))}"
        ),
        ("/admin/roles/new", "create"): lambda: (
            f"/admin/roles/{one_value(sessions, select(Role.id).where(Role.name == 'viewer'))}"
        ),
        ("/admin/roles/{id:int}", "delete"): lambda: "/admin/roles",
    }
    assert response.headers["location"] == made.get((path, action), lambda: url)()
    shown = follow(root, response)
    assert shown.status_code == 200 and errors(shown) == [] and len(notices(shown)) == 1


@pytest.mark.parametrize("path", USER_VIEWS)
@pytest.mark.parametrize("who", [(ALICE, ALICE_PASSWORD), (ADMIN, ADMIN_PASSWORD)])
def test_every_user_page_shows_to_users_and_administrators(signed_in, world, path, who):
    response = signed_in(*who).get(path)
    assert response.status_code == 200
    assert errors(response) == []
    nav = page(response).one("header").find("a")
    assert ("/admin/users" in [link.attrs["href"] for link in nav]) == (who[0] == ADMIN)


def test_the_admin_pages_show_what_the_store_holds(signed_in, world):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    users = [
        [cell.words for cell in row.find("td")] for row in page(root.get("/admin/users")).find("tbody")[0].find("tr")
    ]
    assert users == [
        [ALICE, "", "off", f"{SERVER}/analyst", "active"],
        [BOB, "", "off", "", "active"],
        [ADMIN, "yes", "off", "", "active"],
    ]
    servers = page(root.get("/admin/servers")).find("tbody")[0].find("tr")
    assert [[cell.words for cell in row.find("td")] for row in servers] == [
        [SERVER, str(len(scope_universe())), "1", "1440 min", "—"]
    ]
    tokens = table_rows(root.get("/admin/tokens"), "tokens")
    assert tokens == [
        ["notebook", ALICE, SERVER, "analyst", "2026-03-02 09:00", "2026-03-03 09:00", "active", "Revoke"]
    ]


# --- unknown things --------------------------------------------------------------------------


def test_unknown_ids_are_404_pages_for_views_and_actions(signed_in, world, sessions):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    before = snapshot(sessions)
    views = {
        "/admin/users/999": "No such user.",
        "/admin/servers/999": "No such server.",
        "/admin/roles/999": "No such role.",
        "/admin/roles/new?server=999": "No such server.",
    }
    for url, message in views.items():
        response = root.get(url)
        assert (response.status_code, errors(response)) == (404, [message]), url
    posts = [
        ("/admin/users/999", {"do": "update"}, "No such user."),
        ("/admin/servers/999", {"do": "update", "longest_token_life_minutes": "60"}, "No such server."),
        ("/admin/roles/999", {"do": "update", "name": "x"}, "No such role."),
        ("/admin/roles/999", {"do": "delete"}, "No such role."),
        ("/admin/roles/new?server=999", {"do": "create", "name": "x"}, "No such server."),
        ("/admin/tokens", {"do": "revoke", "token": "999"}, "No such token."),
        ("/", {"do": "revoke", "token": "999"}, "No such token."),
    ]
    for url, data, message in posts:
        response = root.post(url, data, form_page="/")
        assert (response.status_code, errors(response)) == (404, [message]), url
    response = root.post("/", {"do": "nonsense"})
    assert (response.status_code, errors(response)) == (400, ["Unknown form action."])
    assert snapshot(sessions) == before


def test_a_user_cannot_revoke_another_users_token(signed_in, world, sessions):
    bob = signed_in(BOB, BOB_PASSWORD)
    response = bob.post("/", {"do": "revoke", "token": world.token.id, "back": "/"})
    assert (response.status_code, errors(response)) == (404, ["No such token."])
    assert one_value(sessions, select(Token.revoked)) is None


# --- CSRF ------------------------------------------------------------------------------------


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(signed_in, world, sessions):
    root, other = signed_in(ADMIN, ADMIN_PASSWORD), signed_in(ADMIN, ADMIN_PASSWORD)
    form = {"do": "create", "username": CAROL, "password": CAROL_PASSWORD}
    before = snapshot(sessions)
    theirs = csrf_of(other.get("/admin/users"))
    mine = csrf_of(root.get("/admin/users"))
    assert theirs != mine
    for token in [None, "", "not-the-token", theirs, mine[:-1]]:
        data = form if token is None else form | {"csrf_token": token}
        response = root.client.post("/admin/users", data=data)
        assert response.status_code == 403, token
        assert errors(response) == [CSRF_REFUSED]
    assert root.client.post("/admin/users", data=form, headers={"x-csrf-token": theirs}).status_code == 403
    assert snapshot(sessions) == before
    # The same form with this session's token goes through.
    assert root.client.post("/admin/users", data=form | {"csrf_token": mine}).status_code == 303


def test_signing_in_needs_the_csrf_token_of_the_login_page(browser, admin):
    nobody = browser()
    response = nobody.client.post("/login", data={"do": "login", "username": ADMIN, "password": ADMIN_PASSWORD})
    assert (response.status_code, errors(response)) == (403, [CSRF_REFUSED])
    assert nobody.get("/").status_code == 303


def test_signing_in_starts_a_new_session_with_a_new_csrf_token(browser, admin):
    root = browser()
    before = csrf_of(root.get("/login"))
    root.sign_in(ADMIN, ADMIN_PASSWORD)
    after = csrf_of(root.get("/"))
    assert after != before
    assert root.client.post("/logout", data={"do": "logout", "csrf_token": before}).status_code == 403


# --- session cookie --------------------------------------------------------------------------


def _cookie_attributes(response) -> tuple[str, dict[str, str]]:
    header = response.headers["set-cookie"]
    name_value, *attributes = [part.strip() for part in header.split(";")]
    parsed = {}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value.lower()
    return name_value, parsed


@pytest.mark.parametrize("secure", [False, True])
def test_the_session_cookie_is_httponly_samesite_strict_and_secure_when_asked(
    settings, sessions, key_pair, admin, secure
):
    app = create_auth_app(
        settings, sessions, session_secret=SESSION_SECRET, public_key=key_pair[1], secure_cookies=secure
    )
    response = TestClient(app, base_url="https://testserver").get("/login")
    name_value, attributes = _cookie_attributes(response)
    assert name_value.startswith(f"{SESSION_COOKIE}=")
    expected = {"path": "/", "max-age": str(12 * 60 * 60), "httponly": "", "samesite": "strict"}
    assert attributes == expected | ({"secure": ""} if secure else {})


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def _session_cookie(secret: str, session: dict) -> str:
    return TimestampSigner(secret).sign(base64.b64encode(json.dumps(session).encode())).decode()


def test_a_tampered_or_foreign_session_cookie_is_treated_as_signed_out(app, signed_in, admin):
    cookie = signed_in(ADMIN, ADMIN_PASSWORD).session_cookie
    payload, stamp, signature = cookie.split(".")
    session = json.loads(base64.b64decode(payload))
    assert session["user_id"] == admin.id
    forged = {**session, "seen": int(framework.time.time())}
    tampered = [
        _flip(cookie, 5),  # the session data
        _flip(cookie, len(payload) + 2),  # the timestamp
        _flip(cookie, len(cookie) - 3),  # the signature
        payload,
        "garbage",
        _session_cookie("another secret", forged),
    ]
    for value in tampered:
        stranger = TestClient(app, follow_redirects=False)
        response = stranger.get("/admin/users", headers={"cookie": f"{SESSION_COOKIE}={value}"})
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=/admin/users"), value
    # The control: the same session signed with the app's secret is signed in.
    genuine = TestClient(app, follow_redirects=False)
    response = genuine.get(
        "/admin/users", headers={"cookie": f"{SESSION_COOKIE}={_session_cookie(SESSION_SECRET, forged)}"}
    )
    assert response.status_code == 200


def _later(monkeypatch, seconds: float) -> None:
    """Make the web layer's clock (session idling) run `seconds` ahead of real time."""
    monkeypatch.setattr(framework, "time", SimpleNamespace(time=lambda: time.time() + seconds))


def test_an_idle_session_times_out_after_twenty_minutes(signed_in, monkeypatch, world):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    _later(monkeypatch, 19 * 60)
    assert alice.get("/").status_code == 200  # still signed in; the idle time restarts
    _later(monkeypatch, 19 * 60 + 19 * 60)
    assert alice.get("/account").status_code == 200
    _later(monkeypatch, 38 * 60 + 20 * 60 + 5)
    response = alice.get("/tokens/new")
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/tokens/new")
    login = follow(alice, response)
    assert (login.status_code, notices(login)) == (200, [TIMED_OUT])
    assert alice.get("/").status_code == 303


def test_changing_the_password_ends_other_sessions_but_not_this_one(signed_in, browser, world, sessions):
    here, there = signed_in(ALICE, ALICE_PASSWORD), signed_in(ALICE, ALICE_PASSWORD)
    data = {"do": "password", "password": ALICE_PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    response = here.post("/account", data)
    assert response.headers["location"] == "/account"
    account = follow(here, response)
    assert (account.status_code, notices(account)) == (200, ["Your password is changed."])
    assert here.get("/").status_code == 200
    assert there.get("/").headers["location"] == "/login?next=/"
    assert one_value(sessions, select(User.session_generation).where(User.username == ALICE)) == 1
    assert browser().sign_in(ALICE, ALICE_PASSWORD).status_code == 401
    assert browser().sign_in(ALICE, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        (
            {"password": ALICE_PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD + "x"},
            400,
            "The new passwords differ.",
        ),
        (
            {"password": BOB_PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
            400,
            "The current password is wrong.",
        ),
    ],
)
def test_a_refused_password_change_shows_why_and_changes_nothing(signed_in, world, sessions, form, status, message):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    before = snapshot(sessions)
    response = alice.post("/account", {"do": "password", **form})
    assert (response.status_code, errors(response), heading(response)) == (status, [message], f"Account: {ALICE}")
    assert snapshot(sessions)["users"] == before["users"]
    assert alice.get("/").status_code == 200


def test_a_weak_new_password_is_a_400_with_advice_not_an_error(signed_in, world, sessions):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    before = snapshot(sessions)
    data = {
        "do": "password",
        "password": ALICE_PASSWORD,
        "new_password": WEAK_PASSWORD,
        "repeat_password": WEAK_PASSWORD,
    }
    response = alice.post("/account", data)
    assert response.status_code == 400
    assert [message.startswith("Password too weak.") for message in errors(response)] == [True]
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    response = root.post("/admin/users", {"do": "create", "username": CAROL, "password": WEAK_PASSWORD})
    assert response.status_code == 400
    assert [message.startswith("Password too weak.") for message in errors(response)] == [True]
    assert snapshot(sessions)["users"] == before["users"]


def test_disabling_a_user_ends_their_sessions_and_sign_ins(signed_in, browser, world, sessions):
    alice, root = signed_in(ALICE, ALICE_PASSWORD), signed_in(ADMIN, ADMIN_PASSWORD)
    response = root.post(
        f"/admin/users/{world.alice.id}", {"do": "update", "disabled": "on", "role": [world.analyst.id]}
    )
    assert response.headers["location"] == f"/admin/users/{world.alice.id}"
    assert alice.get("/").headers["location"] == "/login?next=/"
    refused = browser().sign_in(ALICE, ALICE_PASSWORD)
    assert (refused.status_code, errors(refused)) == (401, [SIGN_IN_REFUSED])
    assert one_value(sessions, select(User.disabled).where(User.username == ALICE)) is True


def test_signing_out_ends_the_session(signed_in, admin):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    response = root.sign_out()
    assert response.headers["location"] == "/login"
    assert notices(follow(root, response)) == ["You are signed out."]
    assert root.get("/").headers["location"] == "/login?next=/"


# --- signing in ------------------------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_same_401_page(browser, world):
    pages = []
    for username, password in [("nobody", ALICE_PASSWORD), (ALICE, BOB_PASSWORD), (ALICE, "")]:
        someone = browser()
        response = someone.sign_in(username, password)
        assert (response.status_code, errors(response), heading(response)) == (401, [SIGN_IN_REFUSED], "Sign in")
        pages.append(response.text.replace(csrf_of(response), "TOKEN"))
    assert pages[0] == pages[1] == pages[2]
    assert "nobody" not in pages[0] and ALICE not in pages[0]


def test_five_failures_lock_the_account_even_against_the_right_password(browser, world, clock):
    for _ in range(5):
        assert browser().sign_in(ALICE, BOB_PASSWORD).status_code == 401
    locked = browser().sign_in(ALICE, ALICE_PASSWORD)
    assert (locked.status_code, errors(locked)) == (401, [LOCKED])
    assert browser().sign_in(BOB, BOB_PASSWORD).status_code == 303  # other accounts are not locked
    clock.advance(minutes=15, seconds=1)
    assert browser().sign_in(ALICE, ALICE_PASSWORD).headers["location"] == "/"


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/tokens/new", "/tokens/new"),
        ("/admin/audit?actor=alice", "/admin/audit?actor=alice"),
        ("//evil.com", "/"),
        ("http://evil.com", "/"),
        ("https://evil.com/login", "/"),
        ("evil.com", "/"),
        ("", "/"),
    ],
)
def test_after_signing_in_next_only_leads_to_a_page_of_this_site(browser, admin, asked, went):
    root = browser()
    login = root.get(f"/login?next={quote(asked, safe='')}")
    assert page(login).one("input", name="next").attrs["value"] == went
    response = root.sign_in(ADMIN, ADMIN_PASSWORD, next=asked)
    assert (response.status_code, response.headers["location"]) == (303, went)


def test_a_backslash_next_never_becomes_a_protocol_relative_url(browser, admin):
    response = browser().sign_in(ADMIN, ADMIN_PASSWORD, next="/\\evil.com")
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


def test_the_page_asked_for_is_shown_after_signing_in(browser, world):
    root = browser()
    asked = f"/admin/roles/new?server={world.server.id}"
    response = root.get(asked)
    assert response.headers["location"] == f"/login?next=/admin/roles/new%3Fserver%3D{world.server.id}"
    login = follow(root, response)
    assert page(login).one("input", name="next").attrs["value"] == asked
    signed = root.post(
        "/login",
        {"do": "login", "username": ADMIN, "password": ADMIN_PASSWORD, "next": asked},
        form_page=response.headers["location"],
    )
    assert signed.headers["location"] == asked
    assert follow(root, signed).status_code == 200
    assert root.get("/login?next=/account").headers["location"] == "/account"  # already signed in


# --- two-factor sign-in ----------------------------------------------------------------------


def _enrol(person: Browser, clock) -> tuple[str, list[str]]:
    """Set up 2FA through the pages; returns (secret, backup codes)."""
    setup = person.get("/account/two-factor")
    assert setup.status_code == 200
    secret = page(setup).one(id="totp-secret").words
    assert person.get("/account/two-factor").text.count(secret) >= 1  # the same secret until confirmed
    response = person.post("/account/two-factor", {"do": "confirm", "code": pyotp.TOTP(secret).at(clock.now)})
    assert (response.status_code, heading(response)) == (200, "Backup codes"), errors(response)
    codes = [item.words for item in page(response).one("ul", id="backup-codes").find("li")]
    return secret, codes


def test_two_factor_enrolment_and_sign_in_with_codes(signed_in, browser, world, clock, sessions):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    wrong = alice.post("/account/two-factor", {"do": "confirm", "code": "000000"})
    assert wrong.status_code == 400 and heading(wrong) == "Set up two-factor sign-in"
    secret, codes = _enrol(alice, clock)
    assert len(codes) == len(set(codes)) == 10 and all(re.fullmatch(r"[a-z0-9]{10}", code) for code in codes)
    assert alice.get("/account/two-factor").headers["location"] == "/account"
    assert "On. 10 backup codes left." in page(alice.get("/account")).words
    assert alice.sign_out().status_code == 303

    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now)
    first = browser()
    response = first.sign_in(ALICE, ALICE_PASSWORD, next="/account")
    assert response.headers["location"] == "/login/code"
    assert first.get("/").headers["location"] == "/login?next=/"  # not signed in yet
    wrong = first.post("/login/code", {"do": "code", "code": "123456" if code != "123456" else "654321"})
    assert (wrong.status_code, errors(wrong)) == (401, [SIGN_IN_REFUSED])
    right = first.post("/login/code", {"do": "code", "code": code})
    assert (right.status_code, right.headers["location"]) == (303, "/account")
    assert first.get("/").status_code == 200

    replay = browser()
    assert replay.sign_in(ALICE, ALICE_PASSWORD).headers["location"] == "/login/code"
    response = replay.post("/login/code", {"do": "code", "code": code})
    assert (response.status_code, errors(response)) == (401, [SIGN_IN_REFUSED])

    backup = browser()
    backup.sign_in(ALICE, ALICE_PASSWORD)
    assert backup.post("/login/code", {"do": "code", "code": codes[3].upper()}).headers["location"] == "/"
    again = browser()
    again.sign_in(ALICE, ALICE_PASSWORD)
    assert again.post("/login/code", {"do": "code", "code": codes[3]}).status_code == 401
    assert len(values(sessions, select(BackupCode).where(BackupCode.user_id == world.alice.id))) == 9


def test_the_code_page_without_a_password_first_sends_to_sign_in(browser, world):
    nobody = browser()
    assert nobody.get("/login/code").headers["location"] == "/login"
    response = nobody.post("/login/code", {"do": "code", "code": "123456"}, form_page="/login")
    assert response.headers["location"] == "/login"
    login = follow(nobody, response)
    assert (login.status_code, errors(login)) == (200, ["Your sign-in took too long. Please start again."])


def test_backup_codes_can_be_renewed_and_two_factor_turned_off(signed_in, world, clock, sessions):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    _, codes = _enrol(alice, clock)
    renewed = alice.post("/account", {"do": "backup_codes", "password": ALICE_PASSWORD})
    new_codes = [item.words for item in page(renewed).one("ul", id="backup-codes").find("li")]
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    off = alice.post("/account", {"do": "disable_two_factor", "password": ALICE_PASSWORD})
    assert notices(follow(alice, off)) == ["Two-factor sign-in is off."]
    assert one_value(sessions, select(User.totp_secret).where(User.username == ALICE)) is None
    refused = alice.post("/account", {"do": "backup_codes", "password": ALICE_PASSWORD})
    assert (refused.status_code, errors(refused)) == (400, ["Two-factor sign-in is not enabled."])


def test_a_user_required_to_use_two_factor_must_enrol_before_anything_else(
    call, admin, browser, clock, world, sessions
):
    call(admin, "update_user", world.alice.id, require_two_factor=True, is_admin=True)
    alice = browser()
    assert alice.sign_in(ALICE, ALICE_PASSWORD).headers["location"] == "/"
    for path in [concrete(path, world) for path, action in ROUTES if action is None]:
        response = alice.get(path)
        if path.startswith("/account"):
            assert response.status_code == 200, path
        else:
            assert (response.status_code, response.headers["location"]) == (303, "/account/two-factor"), path
    assert "Your administrator requires it" in page(alice.get("/account")).words
    revoke = alice.post("/", {"do": "revoke", "token": world.token.id}, form_page="/account")
    assert revoke.headers["location"] == "/account/two-factor"
    assert one_value(sessions, select(Token.revoked)) is None
    assert alice.sign_out().headers["location"] == "/login"  # signing out is always possible
    assert alice.get("/account").headers["location"] == "/login?next=/account"

    alice.sign_in(ALICE, ALICE_PASSWORD)
    _enrol(alice, clock)
    assert alice.get("/").status_code == 200
    refused = alice.post("/account", {"do": "disable_two_factor", "password": ALICE_PASSWORD})
    assert (refused.status_code, errors(refused)) == (
        400,
        ["Your administrator requires two-factor sign-in for this account."],
    )


# --- servers ---------------------------------------------------------------------------------


def _create_server(root: Browser, name: str, *, spec: bytes | None = None, url: str = "", minutes: str = "1440"):
    files = {"spec": ("openapi.json", spec, "application/json")} if spec is not None else None
    data = {"do": "create", "name": name, "longest_token_life_minutes": minutes, "spec_url": url}
    return root.post("/admin/servers", data, files=files)


def _server_scopes(sessions, name: str) -> list[str]:
    return values(sessions, select(Scope.name).join(Server).where(Server.name == name).order_by(Scope.name))


def test_a_server_made_from_the_apis_openapi_document_offers_every_scope(signed_in, admin, sessions):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    response = _create_server(root, SERVER, spec=openapi_bytes())
    server_id = one_value(sessions, select(Server.id))
    assert response.headers["location"] == f"/admin/servers/{server_id}"
    shown = follow(root, response)
    assert notices(shown) == [f"Server {SERVER!r} is created with {len(scope_universe())} scopes."]
    assert _server_scopes(sessions, SERVER) == scope_universe()
    assert len(page(shown).one("ul", class_="scopes").find("li")) == len(scope_universe())


def test_a_server_made_from_the_running_apis_url(signed_in, admin, sessions, api_machine, key_pair):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    api = create_app(api_machine, public_key=key_pair[1], server_name=SERVER)
    with serving(api) as url:
        response = _create_server(root, SERVER, url=f"{url}/api/0/spec/openapi.json")
    assert response.status_code == 303, errors(response)
    assert _server_scopes(sessions, SERVER) == scope_universe()


def test_a_user_who_is_not_an_administrator_cannot_make_flowauth_fetch_a_url(signed_in, world, sessions):
    asked = []

    async def spec(request):
        asked.append(request.url.path)
        return JSONResponse(openapi_document(SERVER, version("flowkit")))

    alice, root = signed_in(ALICE, ALICE_PASSWORD), signed_in(ADMIN, ADMIN_PASSWORD)
    with serving(Starlette(routes=[Route("/alice.json", spec), Route("/root.json", spec)])) as url:
        for who, path, action in [
            (alice, "/admin/servers", "create"),
            (alice, f"/admin/servers/{world.server.id}", "update"),
        ]:
            data = {"do": action, "name": "other", "longest_token_life_minutes": "60", "spec_url": f"{url}/alice.json"}
            assert who.post(path, data, form_page="/").status_code == 403
        data = {"do": "create", "name": "other", "longest_token_life_minutes": "60", "spec_url": f"{url}/root.json"}
        assert root.post("/admin/servers", data).status_code == 303
    assert asked == ["/root.json"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("spec", "url", "message"),
    [
        (b"{not json", "", "openapi.json is not a JSON document."),
        (b"\xff\xfe\x00", "", "openapi.json is not a JSON document."),
        (
            b'{"openapi": "3.0.1"}',
            "",
            "This document lists no x-security-scopes: is it a FlowAPI /api/0/spec/openapi.json?",
        ),
        (b"[1, 2]", "", "This document lists no x-security-scopes: is it a FlowAPI /api/0/spec/openapi.json?"),
        (
            b'{"components": []}',
            "",
            "This document lists no x-security-scopes: is it a FlowAPI /api/0/spec/openapi.json?",
        ),
        (
            b'{"components": {"securitySchemes": {"token": {"x-security-scopes": "run"}}}}',
            "",
            "This document's x-security-scopes is not a list of scope names.",
        ),
        (
            b'{"components": {"securitySchemes": {"token": {"x-security-scopes": ["run", 7]}}}}',
            "",
            "This document's x-security-scopes is not a list of scope names.",
        ),
        (None, "", "Give the server's OpenAPI document (…/api/0/spec/openapi.json) as a file or a URL."),
        (None, "UNREACHABLE", "Could not load UNREACHABLE: "),
        (None, "http://[::1", "Could not load http://[::1: "),
        (None, "ftp://example.org/openapi.json", "Could not load ftp://example.org/openapi.json: "),
    ],
)
def test_a_server_without_a_usable_openapi_document_is_refused(signed_in, admin, sessions, spec, url, message):
    if url == "UNREACHABLE":
        url = f"http://127.0.0.1:{_free_port()}/api/0/spec/openapi.json"
        message = message.replace("UNREACHABLE", url)
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    before = snapshot(sessions)
    response = _create_server(root, SERVER, spec=spec, url=url)
    assert (response.status_code, heading(response)) == (400, "Servers")
    shown = errors(response)
    assert len(shown) == 1 and (shown[0] == message or (message.endswith(": ") and shown[0].startswith(message)))
    assert snapshot(sessions) == before


def test_server_names_are_unique_and_caps_are_whole_minutes(signed_in, world, sessions):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    before = snapshot(sessions)
    response = _create_server(root, SERVER, spec=openapi_bytes())
    assert (response.status_code, errors(response)) == (400, [f"A server named {SERVER!r} already exists."])
    for minutes in ["", "ten", "-5", "0"]:
        response = _create_server(root, "other", spec=openapi_bytes(), minutes=minutes)
        assert response.status_code == 400, minutes
    assert snapshot(sessions) == before


def test_updating_a_server_can_replace_its_scopes_and_tighten_its_roles(signed_in, world, sessions):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    document = {"components": {"securitySchemes": {"token": {"x-security-scopes": ["get_available_dates", "run"]}}}}
    files = {"spec": ("small.json", json.dumps(document).encode(), "application/json")}
    data = {"do": "update", "longest_token_life_minutes": "30", "latest_token_expiry": "2026-03-10"}
    response = root.post(f"/admin/servers/{world.server.id}", data, files=files)
    shown = follow(root, response)
    assert notices(shown) == [f"Server {SERVER!r} is saved (2 scopes)."]
    assert _server_scopes(sessions, SERVER) == ["get_available_dates", "run"]
    with sessions() as db:
        analyst = db.get(Role, world.analyst.id)
        assert [scope.name for scope in analyst.scopes] == ["get_available_dates", "run"]
        assert analyst.longest_token_life_minutes == 30
        assert analyst.latest_token_expiry.isoformat() == "2026-03-10T23:59:59+00:00"
    assert page(shown).one("input", name="latest_token_expiry").attrs["value"] == "2026-03-10"


# --- roles -----------------------------------------------------------------------------------


def test_the_scope_picker_has_one_group_per_top_level_kind_and_one_for_actions(signed_in, world):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    editor = page(root.get(f"/admin/roles/new?server={world.server.id}"))
    groups = editor.find("details", class_="scope-group")
    assert [group.attrs["data-group"] for group in groups] == ["actions", *sorted(top_level_kinds())]
    boxes = editor.find("input", name="scope")
    assert sorted(box.attrs["aria-label"] for box in boxes) == scope_universe()
    assert [box.attrs["aria-label"] for box in groups[0].find("input", name="scope")] == [
        "get_available_dates",
        "get_qa_checks",
        "get_result",
        "run",
    ]
    boxes = page(root.get(f"/admin/roles/{world.analyst.id}")).find("input", name="scope")
    assert sorted(box.attrs["aria-label"] for box in boxes if "checked" in box.attrs) == ANALYST_SCOPES


def test_roles_are_created_edited_and_deleted(signed_in, world, sessions):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    wanted = ["get_available_dates", "get_result"]
    data = {
        "do": "create",
        "name": "viewer",
        "scope": world.scope_ids(sessions, wanted),
        "member": [world.alice.id, world.bob.id],
        "longest_token_life_minutes": "60",
        "latest_token_expiry": "2026-04-01",
    }
    response = root.post(f"/admin/roles/new?server={world.server.id}", data)
    role_id = one_value(sessions, select(Role.id).where(Role.name == "viewer"))
    assert response.headers["location"] == f"/admin/roles/{role_id}"
    assert notices(follow(root, response)) == ["Role 'viewer' is created."]
    with sessions() as db:
        role = db.get(Role, role_id)
        assert [scope.name for scope in role.scopes] == wanted
        assert sorted(user.username for user in role.members) == [ALICE, BOB]
        assert (role.longest_token_life_minutes, role.latest_token_expiry.isoformat()) == (
            60,
            "2026-04-01T23:59:59+00:00",
        )

    data = {"do": "update", "name": "viewers", "scope": world.scope_ids(sessions, ["run"]), "member": [world.bob.id]}
    response = root.post(f"/admin/roles/{role_id}", data)
    assert notices(follow(root, response)) == ["Role 'viewers' is saved."]
    with sessions() as db:
        role = db.get(Role, role_id)
        assert (role.name, [scope.name for scope in role.scopes], [user.username for user in role.members]) == (
            "viewers",
            ["run"],
            [BOB],
        )
        assert role.longest_token_life_minutes == 1440  # left empty: the server's cap
    listing = page(root.get("/admin/roles"))
    assert [[cell.words for cell in row.find("td")] for row in listing.find("tbody")[0].find("tr")] == [
        ["analyst", str(len(ANALYST_SCOPES)), ALICE, "1440 min"],
        ["viewers", "1", BOB, "1440 min"],
    ]

    response = root.post(f"/admin/roles/{role_id}", {"do": "delete"})
    assert response.headers["location"] == "/admin/roles"
    assert notices(follow(root, response)) == ["The role is deleted."]
    assert values(sessions, select(Role.name)) == ["analyst"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"longest_token_life_minutes": "1441"},
            "A role's longest token life cannot exceed its server's (1440 minutes).",
        ),
        ({"longest_token_life_minutes": "0"}, "The longest token life must be at least one minute."),
        ({"name": ""}, "A role name has 1 to 75 characters."),
        ({"name": "analyst"}, f"Server {SERVER!r} already has a role named 'analyst'."),
        ({"scope": ["999999"]}, "A role can only hold scopes its server offers."),
        ({"scope": ["x"]}, "scope must be numbers."),
        ({"latest_token_expiry": "2026-02-30"}, "'2026-02-30' is not a date (YYYY-MM-DD)."),
    ],
)
def test_a_role_beyond_its_server_or_malformed_is_refused(signed_in, world, sessions, fields, message):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    before = snapshot(sessions)
    response = root.post(f"/admin/roles/new?server={world.server.id}", {"do": "create", "name": "viewer", **fields})
    assert (response.status_code, errors(response)) == (400, [message])
    assert heading(response) == f"New role on {SERVER}"
    assert snapshot(sessions) == before
    if fields.get("name") == "analyst":
        return  # (a role may keep its own name)
    response = root.post(f"/admin/roles/{world.analyst.id}", {"do": "update", "name": "analyst", **fields})
    assert (response.status_code, errors(response)) == (400, [message])
    assert heading(response) == f"Role analyst on {SERVER}"
    assert snapshot(sessions) == before


def test_a_role_is_capped_by_a_server_with_a_latest_expiry(signed_in, world, sessions):
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    root.post(
        f"/admin/servers/{world.server.id}",
        {"do": "update", "longest_token_life_minutes": "1440", "latest_token_expiry": "2026-03-10"},
    )
    before = snapshot(sessions)
    data = {"do": "create", "name": "late", "latest_token_expiry": "2026-03-11"}
    response = root.post(f"/admin/roles/new?server={world.server.id}", data)
    assert (response.status_code, errors(response)) == (
        400,
        ["A role's latest expiry cannot be after its server's (2026-03-10 23:59 UTC)."],
    )
    assert snapshot(sessions) == before


# --- tokens ----------------------------------------------------------------------------------


def _issue(person: Browser, world: World, **fields):
    form = page(person.get(f"/tokens/new?server={world.server.id}"))
    expires = form.one("input", name="expires").attrs["value"]
    data = {"do": "issue", "server": world.server.id, "role": [world.analyst.id], "name": "laptop", "expires": expires}
    return person.post("/tokens/new", data | fields)


def test_an_issued_token_is_shown_once_and_carries_the_roles_scopes(
    signed_in, browser, world, sessions, key_pair, clock
):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    clock.advance(minutes=1)
    expires = page(alice.get("/tokens/new")).one("input", name="expires").attrs
    assert (expires["value"], expires["max"]) == ("2026-03-03T09:01", "2026-03-03T09:01")
    response = _issue(alice, world)
    assert (response.status_code, heading(response)) == (200, "Token “laptop”")
    encoded = page(response).one("textarea", id="token").text.strip()
    public_key = browser().get("/public_key").text
    assert public_key == key_pair[1]
    # The token is stamped with the service's clock, which stands in March: check its times by hand.
    claims = jwt.decode(encoded, public_key, algorithms=["RS256"], audience=SERVER, options={"verify_exp": False})
    record = one_value(sessions, select(Token).where(Token.name == "laptop"))
    assert (claims["sub"], claims["aud"], claims["jti"]) == (ALICE, SERVER, record.jti)
    assert decompress_roles(claims["user_claims"]) == {"analyst": ANALYST_SCOPES}
    issued = START + timedelta(minutes=1)
    assert (record.role_names, record.issued, record.expires) == (["analyst"], issued, issued + timedelta(days=1))
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        issued.timestamp(),
        issued.timestamp(),
        (issued + timedelta(days=1)).timestamp(),
    )
    assert encoded not in json.dumps(snapshot(sessions), default=str)
    mine = table_rows(alice.get("/"), "tokens")
    assert mine == [
        ["laptop", SERVER, "analyst", "2026-03-02 09:01", "2026-03-03 09:01", "active", "Revoke"],
        ["notebook", SERVER, "analyst", "2026-03-02 09:00", "2026-03-03 09:00", "active", "Revoke"],
    ]


def test_the_issued_token_works_on_the_api_for_what_its_role_allows(signed_in, browser, world, api_machine, clock):
    clock.now = datetime.now(UTC)  # the API checks the token's times against the real clock
    encoded = page(_issue(signed_in(ALICE, ALICE_PASSWORD), world)).one("textarea", id="token").text.strip()
    public_key = browser().get("/public_key").text
    api = TestClient(create_app(api_machine, public_key=public_key, server_name=SERVER), follow_redirects=False)
    bearer = {"Authorization": f"Bearer {encoded}"}
    dates = api.get("/api/0/available_dates", headers=bearer)
    assert (dates.status_code, dates.json()) == (200, {"available_dates": {"calls": ["2016-01-01"]}})
    assert api.post("/api/0/run", json=SPATIAL, headers=bearer).status_code == 202
    refused = api.post("/api/0/run", json=SPATIAL_ADMIN2, headers=bearer)
    assert (refused.status_code, refused.json()) == (403, {"msg": "User claims verification failed"})
    other = TestClient(create_app(api_machine, public_key=public_key, server_name="another-server"))
    assert other.get("/api/0/available_dates", headers=bearer).status_code != 200


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"expires": "2026-03-03T09:01"}, 400, "The latest expiry allowed for these roles is 2026-03-03 09:00 UTC."),
        ({"expires": "2026-03-02T08:59"}, 400, "The expiry must be in the future."),
        ({"expires": "soon"}, 400, "Expiry 'soon' is not a date and time."),
        ({"name": ""}, 400, "Give the token a name of 1 to 75 characters."),
        ({"role": []}, 400, "Choose at least one role."),
        ({"server": "999"}, 404, "No such server."),
        ({"server": ""}, 400, "server must be numbers."),
        ({"server": ["1", "1"]}, 400, "Choose one server."),
    ],
)
def test_a_token_beyond_its_caps_or_malformed_is_refused(signed_in, world, sessions, fields, status, message):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    before = snapshot(sessions)
    response = _issue(alice, world, **fields)
    assert (response.status_code, errors(response), heading(response)) == (status, [message], "New token")
    assert snapshot(sessions) == before


def test_a_role_the_user_does_not_hold_is_refused(signed_in, call, world, sessions):
    viewer = call(world.admin, "create_role", world.server.id, "viewer", member_ids=[world.bob.id])
    alice = signed_in(ALICE, ALICE_PASSWORD)
    before = snapshot(sessions)
    for roles in [[viewer.id], [world.analyst.id, viewer.id]]:
        response = _issue(alice, world, role=roles)
        assert (response.status_code, errors(response)) == (403, ["You can only choose roles you hold on this server."])
    bob = signed_in(BOB, BOB_PASSWORD)
    assert (_issue(bob, world).status_code, _issue(bob, world, role=[viewer.id]).status_code) == (403, 200)
    assert len(values(sessions, select(Token))) == len(before["tokens"]) + 1


def test_a_user_without_roles_is_told_to_ask_for_one(signed_in, world):
    response = signed_in(BOB, BOB_PASSWORD).get("/tokens/new")
    assert "You hold no roles yet. Ask an administrator to give you one." in page(response).words


def test_tokens_are_revoked_by_their_owner_or_an_administrator_and_listed(signed_in, browser, call, world, sessions):
    alice, root = signed_in(ALICE, ALICE_PASSWORD), signed_in(ADMIN, ADMIN_PASSWORD)
    call(world.alice, "issue_token", world.server.id, [world.analyst.id], "second", None)
    second = one_value(sessions, select(Token).where(Token.name == "second"))
    nobody = browser()
    assert nobody.get(f"/revocations?server={SERVER}").json() == {"server": SERVER, "revoked": []}

    response = alice.post("/", {"do": "revoke", "token": world.token.id, "back": "/"})
    assert response.headers["location"] == "/"
    assert notices(follow(alice, response)) == ["Token 'notebook' is revoked."]
    response = root.post("/admin/tokens", {"do": "revoke", "token": second.id, "back": "/admin/tokens"})
    assert response.headers["location"] == "/admin/tokens"
    assert notices(follow(root, response)) == ["Token 'second' is revoked."]

    with sessions() as db:
        rows = [(token.name, token.revoked, token.revoked_by) for token in db.scalars(select(Token).order_by(Token.id))]
    assert rows == [("notebook", START, ALICE), ("second", START, ADMIN)]
    listed = nobody.get(f"/revocations?server={SERVER}")
    assert (listed.status_code, listed.json()) == (
        200,
        {"server": SERVER, "revoked": sorted([world.token.jti, second.jti])},
    )
    assert nobody.get("/revocations?server=another").json() == {"server": "another", "revoked": []}
    statuses = [row[-2] for row in table_rows(root.get("/admin/tokens"), "tokens")]
    assert sorted(statuses) == [f"revoked by {ALICE}", f"revoked by {ADMIN}"]


def test_revoking_only_goes_back_to_a_page_of_this_site(signed_in, world):
    alice = signed_in(ALICE, ALICE_PASSWORD)
    response = alice.post("/", {"do": "revoke", "token": world.token.id, "back": "https://evil.com/"})
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("query", ["", "?server=", "?other=1"])
def test_revocations_need_a_server_name(browser, query):
    response = browser().get(f"/revocations{query}")
    assert (response.status_code, response.json()) == (400, {"msg": "Say which server: /revocations?server=NAME"})


# --- audit log -------------------------------------------------------------------------------


def _audit(root: Browser, query: str = "") -> list[list[str]]:
    response = root.get(f"/admin/audit{query}")
    assert response.status_code == 200, errors(response)
    return [row[:5] for row in table_rows(response, "audit")]


def test_the_audit_log_filters_by_who_what_and_when(signed_in, admin, alice, bob, clock):
    clock.advance(days=1)
    signed_in(ALICE, ALICE_PASSWORD)
    clock.advance(days=1, hours=3)
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    made = [
        ["2026-03-02 09:00:00", ADMIN, "create_user", BOB, "ok"],
        ["2026-03-02 09:00:00", ADMIN, "create_user", ALICE, "ok"],
        ["2026-03-02 09:00:00", "", "create_user", ADMIN, "ok"],
    ]
    alice_in = ["2026-03-03 09:00:00", ALICE, "sign_in", ALICE, "ok"]
    root_in = ["2026-03-04 12:00:00", ADMIN, "sign_in", ADMIN, "ok"]
    assert _audit(root) == [root_in, alice_in, *made]
    assert _audit(root, "?actor=alice") == [alice_in]
    assert _audit(root, "?action=create_user") == made
    assert _audit(root, "?actor=root&action=sign_in") == [root_in]
    assert _audit(root, "?since=2026-03-03&until=2026-03-03") == [alice_in]
    assert _audit(root, "?since=2026-03-03") == [root_in, alice_in]
    assert _audit(root, "?until=2026-03-02") == made
    assert _audit(root, "?since=2026-03-05") == [["Nothing matches."]]
    options = page(root.get("/admin/audit")).one("select", name="action").find("option")
    assert [option.words for option in options] == ["any", "create_user", "sign_in"]


@pytest.mark.parametrize("query", ["?since=2026-13-01", "?until=yesterday", "?since=03/03/2026"])
def test_a_bad_audit_date_is_a_400(signed_in, admin, query):
    response = signed_in(ADMIN, ADMIN_PASSWORD).get(f"/admin/audit{query}")
    text = query.split("=")[1]
    assert (response.status_code, errors(response)) == (400, [f"{text!r} is not a date (YYYY-MM-DD)."])


def test_failed_sign_ins_and_refusals_are_in_the_audit_log(signed_in, browser, world):
    browser().sign_in(ALICE, BOB_PASSWORD)
    browser().sign_in("mallory", BOB_PASSWORD)
    root = signed_in(ADMIN, ADMIN_PASSWORD)
    rows = _audit(root, "?action=sign_in")
    assert [row[1:] for row in rows] == [
        [ADMIN, "sign_in", ADMIN, "ok"],
        ["mallory", "sign_in", "mallory", "failed"],
        [ALICE, "sign_in", ALICE, "failed"],
    ]


# --- plain endpoints -------------------------------------------------------------------------


def test_version_is_the_packages(browser):
    response = browser().get("/version")
    assert (response.status_code, response.json()) == (200, {"version": version("flowkit")})


def test_a_deployment_serves_its_own_public_key(tmp_path, monkeypatch, key_pair):
    monkeypatch.setenv("PRIVATE_JWT_SIGNING_KEY", key_pair[0])
    for name in ["FLOWAUTH_FERNET_KEY", "SECRET_KEY"]:
        monkeypatch.delenv(name, raising=False)
    deployment = open_deployment(DataDir(tmp_path))
    try:
        client = TestClient(deployment.app())
        response = client.get("/public_key")
        assert (response.status_code, response.text) == (200, deployment.public_key)
        assert deployment.public_key == key_pair[1]
        assert client.get("/login").status_code == 200
    finally:
        deployment.sessions.kw["bind"].dispose()
