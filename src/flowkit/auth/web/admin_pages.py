"""Administrators' pages: users, servers (with their scopes), roles, every token, the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import httpx
from starlette.datastructures import UploadFile
from starlette.responses import Response

from flowkit.auth.service import Refused, scopes_from_openapi
from flowkit.auth.web.framework import Call, Page
from flowkit.auth.web.scope_picker import scope_groups
from flowkit.auth.web.user_pages import revoke


def users_view(call: Call) -> Response:
    return call.render("admin/users.html", users=call.authority.users(), servers=call.authority.servers())


def create_user(call: Call) -> Response:
    user = call.authority.create_user(
        call.text("username"),
        str(call.form.get("password", "")),
        is_admin=call.flag("is_admin"),
        require_two_factor=call.flag("require_two_factor"),
        role_ids=call.ids("role"),
    )
    return call.redirect(f"/admin/users/{user.id}", f"User {user.username!r} is created.")


def user_view(call: Call) -> Response:
    user = call.authority.user(_path_id(call))
    return call.render("admin/user.html", subject=user, servers=call.authority.servers())


def update_user(call: Call) -> Response:
    user = call.authority.update_user(
        _path_id(call),
        is_admin=call.flag("is_admin"),
        disabled=call.flag("disabled"),
        require_two_factor=call.flag("require_two_factor"),
        reset_two_factor=call.flag("reset_two_factor"),
        password=str(call.form.get("password", "")) or None,
        role_ids=call.ids("role"),
    )
    return call.redirect(f"/admin/users/{user.id}", f"User {user.username!r} is saved.")


def servers_view(call: Call) -> Response:
    return call.render("admin/servers.html", servers=call.authority.servers())


def create_server(call: Call) -> Response:
    server = call.authority.create_server(
        call.text("name"), _minutes(call), _latest(call), _scopes_from_spec(call, required=True)
    )
    return call.redirect(
        f"/admin/servers/{server.id}", f"Server {server.name!r} is created with {len(server.scopes)} scopes."
    )


def server_view(call: Call) -> Response:
    return call.render("admin/server.html", server=call.authority.server(_path_id(call)))


def update_server(call: Call) -> Response:
    server = call.authority.update_server(
        _path_id(call),
        longest_token_life_minutes=_minutes(call),
        latest_token_expiry=_latest(call),
        scopes=_scopes_from_spec(call, required=False),
    )
    return call.redirect(
        f"/admin/servers/{server.id}", f"Server {server.name!r} is saved ({len(server.scopes)} scopes)."
    )


def _scopes_from_spec(call: Call, *, required: bool) -> list[str] | None:
    """Scopes from an uploaded /api/0/spec/openapi.json, or fetched from the server's URL."""
    upload, url = call.form.get("spec"), call.text("spec_url")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read()
        source = upload.filename
    elif url:
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise Refused(f"Could not load {url}: {error}") from None
        raw, source = response.content, url
    elif required:
        raise Refused("Give the server's OpenAPI document (…/api/0/spec/openapi.json) as a file or a URL.")
    else:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(f"{source} is not a JSON document.") from None
    return scopes_from_openapi(document)


def roles_view(call: Call) -> Response:
    return call.render("admin/roles.html", servers=call.authority.servers())


def new_role_view(call: Call) -> Response:
    server = call.authority.server(_query_id(call, "server"))
    return _role_editor(call, server, role=None)


def create_role(call: Call) -> Response:
    role = call.authority.create_role(_query_id(call, "server"), call.text("name"), **_role_fields(call))
    return call.redirect(f"/admin/roles/{role.id}", f"Role {role.name!r} is created.")


def role_view(call: Call) -> Response:
    role = call.authority.role(_path_id(call))
    return _role_editor(call, role.server, role)


def update_role(call: Call) -> Response:
    role = call.authority.update_role(_path_id(call), name=call.text("name"), **_role_fields(call))
    return call.redirect(f"/admin/roles/{role.id}", f"Role {role.name!r} is saved.")


def delete_role(call: Call) -> Response:
    call.authority.delete_role(_path_id(call))
    return call.redirect("/admin/roles", "The role is deleted.")


def _role_editor(call: Call, server, role) -> Response:
    held = {scope.id for scope in role.scopes} if role else set()
    return call.render(
        "admin/role.html",
        server=server,
        role=role,
        groups=scope_groups(server.scopes),
        held=held,
        users=call.authority.users(),
        members={user.id for user in role.members} if role else set(),
    )


def _role_fields(call: Call) -> dict:
    return {
        "scope_ids": call.ids("scope"),
        "member_ids": call.ids("member"),
        "longest_token_life_minutes": _minutes(call) if call.text("longest_token_life_minutes") else None,
        "latest_token_expiry": _latest(call),
    }


def tokens_view(call: Call) -> Response:
    return call.render("admin/tokens.html", tokens=call.authority.all_tokens(), now=call.authority.now)


def audit_view(call: Call) -> Response:
    query = call.request.query_params
    since, until = _day(query.get("since")), _day(query.get("until"))
    events = call.authority.audit_events(
        actor=query.get("actor") or None,
        action=query.get("action") or None,
        since=since,
        until=until + timedelta(days=1) if until else None,
    )
    return call.render("admin/audit.html", events=events, filters=query, actions=call.authority.audit_actions())


def _day(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(datetime.fromisoformat(text).date(), time(), UTC)
    except ValueError:
        raise Refused(f"{text!r} is not a date (YYYY-MM-DD).") from None


def _minutes(call: Call) -> int:
    text = call.text("longest_token_life_minutes")
    if not text.isdigit():
        raise Refused("The longest token life is a whole number of minutes.")
    return int(text)


def _latest(call: Call) -> datetime | None:
    text = call.text("latest_token_expiry")
    return _day(text) + timedelta(days=1) - timedelta(seconds=1) if text else None


def _path_id(call: Call) -> int:
    return int(call.request.path_params["id"])


def _query_id(call: Call, name: str) -> int:
    text = call.request.query_params.get(name) or call.text(name)
    if not text.isdigit():
        raise Refused(f"Choose a {name}.")
    return int(text)


PAGES = [
    Page("/admin/users", users_view, {"create": create_user}, admin=True),
    Page("/admin/users/{id:int}", user_view, {"update": update_user}, admin=True),
    Page("/admin/servers", servers_view, {"create": create_server}, admin=True),
    Page("/admin/servers/{id:int}", server_view, {"update": update_server}, admin=True),
    Page("/admin/roles", roles_view, admin=True),
    Page("/admin/roles/new", new_role_view, {"create": create_role}, admin=True),
    Page("/admin/roles/{id:int}", role_view, {"update": update_role, "delete": delete_role}, admin=True),
    Page("/admin/tokens", tokens_view, {"revoke": revoke}, admin=True),
    Page("/admin/audit", audit_view, admin=True),
]
