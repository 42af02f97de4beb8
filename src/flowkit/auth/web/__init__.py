"""FlowAuth's web service: HTML pages for people, and three plain endpoints for FlowAPI servers."""

from __future__ import annotations

from importlib.metadata import version as package_version
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from flowkit.api.access_log import AccessLog
from flowkit.auth.service import Authority, Settings
from flowkit.auth.web import admin_pages, user_pages

SESSION_COOKIE = "flowauth_session"
SESSION_MAX_AGE_SECONDS = 12 * 60 * 60


def create_auth_app(
    settings: Settings, sessions: sessionmaker[Session], *, session_secret: str, public_key: str, secure_cookies: bool
) -> Starlette:
    """The FlowAuth ASGI app. `secure_cookies` marks the session cookie HTTPS-only (set it behind TLS)."""
    state = SimpleNamespace(settings=settings, sessions=sessions, public_key=public_key)

    async def public_key_endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(public_key)

    def revocations(request: Request) -> JSONResponse:
        server = request.query_params.get("server")
        if not server:
            return JSONResponse({"msg": "Say which server: /revocations?server=NAME"}, status_code=400)
        with sessions() as db:
            revoked = Authority(settings, db).revoked_jtis(server)
        return JSONResponse({"server": server, "revoked": revoked})

    async def version(request: Request) -> JSONResponse:
        return JSONResponse({"version": package_version("flowkit")})

    routes = [page.route(state) for page in user_pages.PAGES + admin_pages.PAGES] + [
        Route("/public_key", public_key_endpoint),
        Route("/revocations", revocations),
        Route("/version", version),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    middleware = [
        Middleware(AccessLog),
        Middleware(
            SessionMiddleware,
            secret_key=session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_SECONDS,
            same_site="strict",
            https_only=secure_cookies,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware)
