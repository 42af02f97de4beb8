"""The demo's FlowAuth: an administrator, an analyst holding a role that covers the demo, and the demo server."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from flowkit.auth.deployment import FlowAuthDeployment
from flowkit.auth.models import User
from flowkit.auth.service import Authority
from flowkit.data_dir import DataDir

ADMIN, ANALYST, ROLE = "admin", "analyst", "demo-analyst"
WEEK_MINUTES = 7 * 24 * 60


def seed_demo(deployment: FlowAuthDeployment, data: DataDir, server_name: str, scopes: list[str]) -> dict[str, str]:
    """Seed once (later runs keep what is there); returns {username: password}, kept 0600 in the data dir."""
    passwords = {name: data.secret(f"demo-{name}-password.txt", _passphrase) for name in (ADMIN, ANALYST)}
    with deployment.sessions() as db:
        if db.scalar(select(User).where(User.username == ADMIN)) is None:
            admin = Authority(deployment.settings, db).create_user(ADMIN, passwords[ADMIN], is_admin=True)
            authority = Authority(deployment.settings, db, actor=admin)
            server = authority.create_server(server_name, WEEK_MINUTES, None, scopes)
            role = authority.create_role(server.id, ROLE, scope_ids=[scope.id for scope in server.scopes])
            authority.create_user(ANALYST, passwords[ANALYST], role_ids=[role.id])
            db.commit()
    return passwords


def _passphrase() -> str:
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))
