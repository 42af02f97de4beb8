"""Pages every user has: sign in (with a second factor), tokens, own account and two-factor enrolment."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.responses import Response

from flowkit.auth import two_factor
from flowkit.auth.models import Server, User
from flowkit.auth.service import Refused, SignInRefused
from flowkit.auth.web.framework import Call, Page, start_session

PENDING_SECOND_FACTOR_SECONDS = 5 * 60


def login_view(call: Call) -> Response:
    if call.user is not None:
        return call.redirect(_next(call))
    return call.render("login.html", next=_next(call))


def login(call: Call) -> Response:
    user = call.authority.check_password(call.text("username"), str(call.form.get("password", "")))
    if user.has_two_factor:
        call.session.clear()
        call.session["pending"] = {"user_id": user.id, "at": int(time.time()), "next": _next(call)}
        return call.redirect("/login/code")
    return _signed_in(call, user)


def code_view(call: Call) -> Response:
    if _pending_user(call) is None:
        return call.redirect("/login")
    return call.render("login_code.html")


def check_code(call: Call) -> Response:
    user = _pending_user(call)
    if user is None:
        raise SignInRefused("Your sign-in took too long. Please start again.")
    call.authority.check_second_factor(user, call.text("code"))
    return _signed_in(call, user)


def _pending_user(call: Call) -> User | None:
    pending = call.session.get("pending")
    if not pending or time.time() - pending["at"] > PENDING_SECOND_FACTOR_SECONDS:
        return None
    user = call.authority.db.get(User, pending["user_id"])
    return None if user is None or user.disabled else user


def _signed_in(call: Call, user: User) -> Response:
    destination = call.session.get("pending", {}).get("next") or _next(call)
    call.authority.signed_in(user)
    start_session(call.request, user)
    return call.redirect(destination)


def _next(call: Call) -> str:
    """Where to go after signing in: only a path on this site."""
    return _site_path(call.text("next") or call.request.query_params.get("next", "/"))


def _site_path(target: str) -> str:
    """`target` if it is a path on this site, else "/" (never another site, `//host` or `/\\host`)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def logout(call: Call) -> Response:
    call.authority.audit("sign_out", call.user.username)
    call.session.clear()
    return call.redirect("/login", "You are signed out.")


def home(call: Call) -> Response:
    return call.render("tokens.html", tokens=call.authority.my_tokens(), now=call.authority.now)


def revoke(call: Call) -> Response:
    token = call.authority.revoke_token(_single_id(call, "token"))
    return call.redirect(_site_path(call.text("back") or "/"), f"Token {token.name!r} is revoked.")


def new_token_view(call: Call) -> Response:
    servers = call.authority.servers_for_me()
    chosen = _chosen_server(call, servers)
    roles = [role for role in call.user.roles if chosen and role.server_id == chosen.id]
    limit = call.authority.token_limit(chosen, roles) if chosen and roles else None
    return call.render("token_new.html", servers=servers, server=chosen, roles=roles, limit=limit)


def issue(call: Call) -> Response:
    server_id = _single_id(call, "server")
    expires = _expiry(call.text("expires"))
    token = call.authority.issue_token(server_id, call.ids("role"), call.text("name"), expires)
    return call.render("token_issued.html", token=token, name=call.text("name"))


def _chosen_server(call: Call, servers: list[Server]) -> Server | None:
    wanted = call.text("server") or call.request.query_params.get("server")
    return next((server for server in servers if str(server.id) == wanted), servers[0] if servers else None)


def _expiry(text: str) -> datetime | None:
    """A `datetime-local` value, read as UTC (the form says so)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise Refused(f"Expiry {text!r} is not a date and time.") from None


def _single_id(call: Call, name: str) -> int:
    ids = call.ids(name)
    if len(ids) != 1:
        raise Refused(f"Choose one {name}.")
    return ids[0]


def account_view(call: Call) -> Response:
    return call.render("account.html", backup_codes_left=len(call.user.backup_codes))


def change_password(call: Call) -> Response:
    if call.text("new_password") != call.text("repeat_password"):
        raise Refused("The new passwords differ.")
    call.authority.change_password(str(call.form.get("password", "")), str(call.form.get("new_password", "")))
    start_session(call.request, call.user)  # other sessions end; this one goes on
    return call.redirect("/account", "Your password is changed.")


def disable_two_factor(call: Call) -> Response:
    call.authority.disable_two_factor(str(call.form.get("password", "")))
    return call.redirect("/account", "Two-factor sign-in is off.")


def regenerate_backup_codes(call: Call) -> Response:
    return call.render(
        "backup_codes.html", codes=call.authority.regenerate_backup_codes(str(call.form.get("password", "")))
    )


def two_factor_view(call: Call) -> Response:
    """Enrolment: a new secret for this session, shown as a QR code and as text."""
    if call.user.has_two_factor:
        return call.redirect("/account")
    secret = call.session.setdefault("totp_setup", two_factor.new_secret())
    uri = two_factor.provisioning_uri(secret, call.user.username, call.authority.settings.issuer)
    return call.render("two_factor.html", secret=secret, qr=two_factor.qr_svg(uri), uri=uri)


def confirm_two_factor(call: Call) -> Response:
    secret = call.session.get("totp_setup")
    if secret is None:
        raise Refused("Start the set-up again: the page had expired.")
    codes = call.authority.confirm_two_factor(secret, call.text("code"))
    del call.session["totp_setup"]
    return call.render("backup_codes.html", codes=codes)


PAGES = [
    Page("/login", login_view, {"login": login}, signed_in=False),
    Page("/login/code", code_view, {"code": check_code}, signed_in=False),
    Page("/logout", None, {"logout": logout}),
    Page("/", home, {"revoke": revoke}),
    Page("/tokens/new", new_token_view, {"issue": issue}),
    Page(
        "/account",
        account_view,
        {
            "password": change_password,
            "disable_two_factor": disable_two_factor,
            "backup_codes": regenerate_backup_codes,
        },
    ),
    Page("/account/two-factor", two_factor_view, {"confirm": confirm_two_factor}),
]
