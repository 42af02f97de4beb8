"""FlowAuth in a real browser (Debian's Chromium driven by Playwright), end to end with FlowAPI.

An administrator registers the API as a server from its live OpenAPI URL, makes a role with the
scope picker and a user holding it; the user signs in, enrols two-factor sign-in, signs in again
with a TOTP code, issues a token and uses it with the real flowclient 1.34; after the user revokes
it, the API refuses it. Screenshots of the main pages go to build/screenshots (docs/screenshots
with UPDATE_SCREENSHOTS=1, for the README).
"""

import os
import time
from pathlib import Path

import flowclient
import pyotp
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from tests.conftest import sixteen_and_fifteen
from tests.live_server import serving

from flowkit.api.app import create_app
from flowkit.api.flowauth import RevocationList
from flowkit.auth.deployment import open_deployment
from flowkit.auth.service import Authority
from flowkit.data_dir import DataDir
from flowkit.machine.queries import Machine

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
SERVER = "browser-test-server"
ADMIN_PASSWORD = "admin-keeps-the-keys-2026"
USER_PASSWORD = "amina-counts-the-flows-77"
SCREENSHOTS = Path("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else "build/screenshots")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    data = DataDir(tmp_path_factory.mktemp("flowauth"))
    deployment = open_deployment(data)
    with deployment.sessions() as db:
        Authority(deployment.settings, db).create_user("admin", ADMIN_PASSWORD, is_admin=True)
        db.commit()
    return deployment


@pytest.fixture(scope="module")
def flowauth_url(deployment):
    with serving(deployment.app()) as url:
        yield url


@pytest.fixture(scope="module")
def api_url(deployment, flowauth_url):
    machine = Machine(sixteen_and_fifteen())
    revocations = RevocationList(flowauth_url, SERVER, refresh_seconds=0.5)
    app = create_app(machine, public_key=deployment.public_key, server_name=SERVER, revocations=revocations)
    with serving(app) as url:
        yield url
    machine.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_admin_grants_user_enrols_two_factor_takes_token_and_loses_it(browser, flowauth_url, api_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())

    # The administrator registers the API from its OpenAPI document, by URL.
    sign_in(page, flowauth_url, "admin", ADMIN_PASSWORD)
    page.get_by_role("link", name="Servers").click()
    page.get_by_label("Name (the FlowAPI server's name, its tokens' audience)").fill(SERVER)
    page.get_by_label("Longest token life (minutes)").fill("60")
    page.get_by_label("or its URL").fill(f"{api_url}/api/0/spec/openapi.json")
    page.get_by_role("button", name="Create server").click()
    expect(page.get_by_text(f"Server '{SERVER}' is created with 628 scopes.")).to_be_visible()

    # A role: the three actions and all of spatial_aggregate at admin3, picked with the grid's toggles.
    page.get_by_role("link", name=f"New role on {SERVER}").click()
    page.get_by_label("Name").fill("district-analyst")
    actions = page.locator('details[data-group="actions"]')
    for scope in ("run", "get_result", "get_available_dates"):
        actions.locator(f'input[name=scope][title="{scope}"]').check()
    spatial = page.locator('details[data-group="spatial_aggregate"]')
    spatial.locator("summary").click()
    spatial.locator('input[data-toggle-column="admin3"]').check()
    expect(spatial.locator("[data-group-count]")).to_have_text("8 of 40")
    shoot(page, "role-editor")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_text("Role 'district-analyst' is created.")).to_be_visible()

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("amina")
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_label("district-analyst").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("User 'amina' is created.")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    shoot(page, "users")
    sign_out(page)

    # The user enrols two-factor sign-in, then signs in again with a TOTP code.
    sign_in(page, flowauth_url, "amina", USER_PASSWORD)
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    shoot(page, "two-factor")
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#backup-codes li")).to_have_count(10)
    page.get_by_role("link", name="Done").click()
    sign_out(page)

    sign_in(page, flowauth_url, "amina", USER_PASSWORD)
    expect(page).to_have_url(f"{flowauth_url}/login/code")
    page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))  # the enrolment's code cannot be replayed
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="My tokens")).to_be_visible()

    # A token for the API, used with flowclient.
    page.get_by_role("navigation").get_by_role("link", name="New token").click()
    page.get_by_label("Token name").fill("notebook")
    shoot(page, "new-token")
    page.get_by_role("button", name="Issue token").click()
    token = page.locator("#token").input_value()
    shoot(page, "token-issued")

    connection = flowclient.connect(url=api_url, token=token)
    assert connection.user == "amina"
    daily = flowclient.daily_location_spec(date="2016-01-01", aggregation_unit="admin3", method="last")
    result = flowclient.spatial_aggregate(connection=connection, locations=daily).get_result()
    assert result.to_dict("records") == [{"pcod": "A", "value": 16}]  # B holds 15: redacted
    with pytest.raises(flowclient.errors.FlowclientConnectionError, match="User claims verification failed"):
        flowclient.spatial_aggregate(
            connection=connection,
            locations=flowclient.daily_location_spec(date="2016-01-01", aggregation_unit="admin2", method="last"),
        ).run()

    # Revoked, the token is refused within the API's refresh interval.
    page.get_by_role("link", name="My tokens").click()
    shoot(page, "tokens")
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Token 'notebook' is revoked.")).to_be_visible()
    deadline = time.monotonic() + 10
    while True:
        try:
            flowclient.get_available_dates(connection=connection)
        except flowclient.errors.FlowclientConnectionError as error:
            assert "Token has been revoked" in str(error)
            break
        assert time.monotonic() < deadline, "the API still accepts the revoked token"
        time.sleep(0.2)
    sign_out(page)

    # The administrator sees it all in the audit log.
    sign_in(page, flowauth_url, "admin", ADMIN_PASSWORD)
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Who").fill("amina")
    page.get_by_role("button", name="Filter").click()
    actions_seen = page.locator("table.audit tbody tr td:nth-child(3)").all_inner_texts()
    assert actions_seen == [
        "sign_out",
        "revoke_token",
        "issue_token",
        "sign_in",
        "sign_out",
        "enable_two_factor",
        "sign_in",
    ]
    shoot(page, "audit-log")
    page.close()


def test_sign_in_page(browser, flowauth_url):
    page = browser.new_page(viewport={"width": 1280, "height": 600})
    sign_in(page, flowauth_url, "nobody", "wrong password")
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    shoot(page, "sign-in")
    page.close()
