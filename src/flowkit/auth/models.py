"""FlowAuth's store: who may ask which server for what, and what was handed out.

The shape follows FlowAuth's roles-era model (flowkit-interfaces.md §5.1): users hold roles, a
role is a set of one server's scopes with token-lifetime caps, and every issued token is
recorded. Beyond FlowKit: tokens can be revoked, users disabled, failed logins throttle, and
every administrative act lands in the audit log. Changes to these tables go through Alembic
(flowkit/auth/migrations).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Column, DateTime, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)  # SQLite keeps the wall time and drops the offset

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # PostgreSQL answers in the connection's time zone, SQLite in none.
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


role_members = Table(
    "role_members",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)
role_scopes = Table(
    "role_scopes",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("scope_id", ForeignKey("scopes.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(75), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    require_two_factor: Mapped[bool] = mapped_column(default=False)
    # Encrypted TOTP secret; None until the user confirms enrolment.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    # The last TOTP time step accepted, so a code cannot be replayed.
    totp_last_step: Mapped[int | None]
    # Bumped when the password changes or the account is disabled: older sessions end.
    session_generation: Mapped[int] = mapped_column(default=0)
    created: Mapped[datetime]

    roles: Mapped[list[Role]] = relationship(secondary=role_members, back_populates="members")
    backup_codes: Mapped[list[BackupCode]] = relationship(cascade="all, delete-orphan")
    tokens: Mapped[list[Token]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None


class BackupCode(Base):
    """A one-time 2FA backup code, argon2-hashed; deleted when used."""

    __tablename__ = "backup_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(255))


class Server(Base):
    """A FlowAPI server; its name is the audience of the tokens issued for it."""

    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    longest_token_life_minutes: Mapped[int]
    latest_token_expiry: Mapped[datetime | None]

    scopes: Mapped[list[Scope]] = relationship(
        back_populates="server", cascade="all, delete-orphan", order_by="Scope.name"
    )
    roles: Mapped[list[Role]] = relationship(
        back_populates="server", cascade="all, delete-orphan", order_by="Role.name"
    )


class Scope(Base):
    """One scope string the server publishes in its OpenAPI `x-security-scopes`."""

    __tablename__ = "scopes"
    __table_args__ = (UniqueConstraint("name", "server_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"))

    server: Mapped[Server] = relationship(back_populates="scopes")


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("name", "server_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(75))
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"))
    longest_token_life_minutes: Mapped[int]
    latest_token_expiry: Mapped[datetime | None]

    server: Mapped[Server] = relationship(back_populates="roles")
    scopes: Mapped[list[Scope]] = relationship(secondary=role_scopes, order_by="Scope.name")
    members: Mapped[list[User]] = relationship(secondary=role_members, back_populates="roles")


class Token(Base):
    """An issued token's record; the token itself is shown once and never stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(75))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"))
    # Role names as issued (roles may later be renamed or deleted).
    role_names: Mapped[list[str]] = mapped_column(JSON)
    issued: Mapped[datetime]
    expires: Mapped[datetime]
    revoked: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(75))

    user: Mapped[User] = relationship(back_populates="tokens")
    server: Mapped[Server] = relationship()


class FailedLogin(Base):
    """A failed sign-in, kept per username whether or not that user exists (for throttling)."""

    __tablename__ = "failed_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(75), index=True)
    at: Mapped[datetime]
    client: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(Base):
    """One administrative act, sign-in attempt or issuance. Never holds a secret."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str | None] = mapped_column(String(75), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


__all__ = ["AuditEvent", "BackupCode", "Base", "FailedLogin", "Role", "Scope", "Server", "Token", "User"]
