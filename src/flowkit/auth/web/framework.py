"""How every FlowAuth page runs: signed-in session, CSRF check, one store transaction, errors shown in place.

A `Page` is a path with a view (GET) and named form actions (POST with a `do` field). An action
that is refused re-renders the page's view with the message and the refusal's status (400, 403,
404), and nothing it changed is kept.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from flowkit.auth.models import User
from flowkit.auth.service import ADMINS_ONLY, Authority, NotAllowed, Refused

IDLE_TIMEOUT_SECONDS = 20 * 60  # FlowAuth's idle session lifetime
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass
class Call:
    """What a view or action gets: the request, its form, and the Authority acting for the signed-in user."""

    request: Request
    form: FormData
    authority: Authority
    messages: list[tuple[str, str]] = field(default_factory=list)

    @property
    def user(self) -> User | None:
        return self.authority.actor

    @property
    def session(self) -> dict:
        return self.request.session

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """The page, showing the messages flashed by earlier requests (which it uses up) and this call's."""
        messages = [tuple(message) for message in self.session.pop("flash", [])] + self.messages
        context |= {"user": self.user, "csrf_token": csrf_token(self.request), "messages": messages}
        return templates.TemplateResponse(self.request, template, context, status_code=status)

    def redirect(self, path: str, message: str | None = None) -> Response:
        if message:
            self.session.setdefault("flash", []).append(["info", message])
        return RedirectResponse(path, status_code=303)

    def texts(self, name: str) -> list[str]:
        return [str(value) for value in self.form.getlist(name)]

    def ids(self, name: str) -> list[int]:
        try:
            return [int(value) for value in self.texts(name)]
        except ValueError:
            raise Refused(f"{name} must be numbers.") from None

    def text(self, name: str, default: str = "") -> str:
        return str(self.form.get(name, default)).strip()

    def flag(self, name: str) -> bool:
        return name in self.form


View = Callable[[Call], Response]


@dataclass
class Page:
    path: str
    view: View | None = None
    actions: dict[str, View] = field(default_factory=dict)
    signed_in: bool = True
    admin: bool = False  # administrators only: anyone else gets the 403 page before any view or action runs

    def route(self, app_state) -> Route:
        async def endpoint(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else FormData()
            if request.method == "POST" and not _csrf_ok(request, form):
                return _error(
                    request, 403, "The form had expired or did not come from this site. Reload and try again."
                )
            return await run_in_threadpool(self._run, app_state, request, form)

        methods = (["GET"] if self.view else []) + (["POST"] if self.actions else [])
        return Route(self.path, endpoint, methods=methods)

    def _run(self, state, request: Request, form: FormData) -> Response:
        with state.sessions() as db:
            authority = Authority(state.settings, db, signed_in_user(request, db), _client(request))
            call = Call(request, form, authority)
            if self.signed_in and call.user is None:
                return RedirectResponse(f"/login?next={quote(_path_and_query(request), safe='/')}", status_code=303)
            if self.signed_in and _needs_two_factor_setup(call.user) and not _open_before_two_factor(request):
                return RedirectResponse("/account/two-factor", status_code=303)
            if self.admin and not call.user.is_admin:
                return _error(request, NotAllowed.status, ADMINS_ONLY, user=call.user)
            handler = self.view if request.method == "GET" else self.actions.get(call.text("do"))
            if handler is None:
                return _error(request, 400, "Unknown form action.")
            try:
                response = handler(call)
                db.commit()
                return response
            except Refused as refusal:
                db.rollback()
                if isinstance(refusal, NotAllowed) or request.method == "GET" or self.view is None:
                    return _error(request, refusal.status, str(refusal), user=call.user)
                return self._refused(call, refusal)

    def _refused(self, call: Call, refusal: Refused) -> Response:
        """The page again with the refusal's message and status; an error page if the page itself is gone."""
        call.authority.db.expire_all()
        call.messages.append(("error", str(refusal)))
        try:
            response = self.view(call)
        except Refused:
            return _error(call.request, refusal.status, str(refusal), user=call.user)
        if response.status_code in (301, 302, 303, 307, 308):  # the view sends elsewhere: take the message along
            call.session.setdefault("flash", []).extend([list(message) for message in call.messages])
            return response
        response.status_code = refusal.status
        return response


def signed_in_user(request: Request, db) -> User | None:
    """The session's user, unless the session idled out, the password changed or the account was disabled."""
    session = request.session
    user_id, seen = session.get("user_id"), session.get("seen", 0)
    if user_id is None:
        return None
    user = db.get(User, user_id)
    if user is None or user.disabled or session.get("generation") != user.session_generation:
        session.clear()
        return None
    if time.time() - seen > IDLE_TIMEOUT_SECONDS:
        session.clear()
        session["flash"] = [["info", "Your session timed out. Please sign in again."]]
        return None
    session["seen"] = int(time.time())
    return user


def start_session(request: Request, user: User) -> None:
    """A fresh session (new CSRF token, no pre-login state) for `user`."""
    request.session.clear()
    request.session.update(user_id=user.id, generation=user.session_generation, seen=int(time.time()))


def csrf_token(request: Request) -> str:
    return request.session.setdefault("csrf", secrets.token_urlsafe(32))


def _csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token") or request.headers.get("x-csrf-token")
    return bool(expected) and isinstance(given, str) and secrets.compare_digest(expected, given)


def _needs_two_factor_setup(user: User) -> bool:
    return user.require_two_factor and not user.has_two_factor


def _open_before_two_factor(request: Request) -> bool:
    """What a user who must set up two-factor sign-in may still do: their account pages, and signing out."""
    path = request.url.path
    return path == "/logout" or path == "/account" or path.startswith("/account/")


def _path_and_query(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _error(request: Request, status: int, message: str, user: User | None = None) -> Response:
    context = {"user": user, "status": status, "message": message, "csrf_token": csrf_token(request), "messages": []}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)
