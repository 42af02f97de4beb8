"""Fixtures for FlowAuth's service layer: a real, migrated store on SQLite and on PostgreSQL, a real
RSA key pair, and a clock the test moves by hand.

Every test that asks for `db` runs twice: on a SQLite file in its tmp_path and on a PostgreSQL
database made for this test session (emptied for each test, dropped at the end). That database's
default time zone is Asia/Kolkata (UTC+05:30) on purpose, so that a timestamp read back in the
connection's zone instead of UTC shows.

Each call is made the way the web layer makes it (flowkit.auth.web.framework): the act, then
`commit()`; on `Refused`, `rollback()`. `call(actor, ...)` does that.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowkit.auth import passwords
from flowkit.auth.models import AuditEvent, User
from flowkit.auth.service import Authority, Refused, Settings
from flowkit.auth.store import open_store
from flowkit.auth.tokens import ensure_key_pair
from flowkit.auth.two_factor import SecretBox

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_ZONE = "Asia/Kolkata"
# A whole minute and a whole 30-second TOTP step, so that expiries and TOTP steps are round numbers.
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLIENT = "203.0.113.7"

ADMIN, ADMIN_PASSWORD = "root", "Gl4cier-Tundra-Orbit-91"
ALICE, ALICE_PASSWORD = "alice", "marble quilt sparrow 83"
BOB, BOB_PASSWORD = "bob", "Tr0mbone!Lantern*Fjord"


class Clock:
    """`Settings.clock`: stands still until the test moves it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory) -> tuple[str, str]:
    """(private, public) PEM; 2048 bits, made once per session."""
    return ensure_key_pair(tmp_path_factory.mktemp("keys"), key_size=2048)


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A throwaway PostgreSQL database for this session (default zone POSTGRES_ZONE), dropped afterwards."""
    name = f"flowauth_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        admin.execute(f"ALTER DATABASE {name} SET timezone TO '{POSTGRES_ZONE}'")
    yield name
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store's URL: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/auth.db"
    name = request.getfixturevalue("postgres_database")
    with psycopg.connect(f"{POSTGRES_SERVER}/{name}", autocommit=True) as con:
        con.execute("DROP SCHEMA public CASCADE")
        con.execute("CREATE SCHEMA public")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def sessions(store_url):
    """`open_store` on the empty store (which migrates it); the engine is disposed afterwards."""
    sessions = open_store(store_url)
    yield sessions
    sessions.kw["bind"].dispose()


@pytest.fixture
def db(sessions) -> Session:
    with sessions() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def settings(key_pair, clock) -> Settings:
    return Settings(private_key=key_pair[0], secret_box=SecretBox(Fernet.generate_key()), clock=clock)


@pytest.fixture
def call(settings, db) -> Callable:
    """`call(actor, "method", *args, **kwargs)`: one request's worth — the act, then commit (rollback if refused)."""

    def run(actor: User | None, method: str, /, *args, **kwargs):
        authority = Authority(settings, db, actor, CLIENT)
        try:
            result = getattr(authority, method)(*args, **kwargs)
        except Refused:
            db.rollback()
            raise
        db.commit()
        return result

    return run


@pytest.fixture
def admin(call) -> User:
    """The bootstrap administrator (made with no actor, as the first user may be)."""
    return call(None, "create_user", ADMIN, ADMIN_PASSWORD, is_admin=True)


@pytest.fixture
def alice(call, admin) -> User:
    return call(admin, "create_user", ALICE, ALICE_PASSWORD)


@pytest.fixture
def bob(call, admin) -> User:
    return call(admin, "create_user", BOB, BOB_PASSWORD)


def audit_rows(db: Session, *, since_id: int = 0) -> list[tuple]:
    """(action, actor, target, outcome) of every audit event after `since_id`, oldest first."""
    events = db.scalars(select(AuditEvent).where(AuditEvent.id > since_id).order_by(AuditEvent.id))
    return [(event.action, event.actor, event.target, event.outcome) for event in events]


def last_audit_id(db: Session) -> int:
    return db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """Argon2 at its cheapest: these tests hash and check many passwords and backup codes."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
