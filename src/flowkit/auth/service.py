"""What FlowAuth does, independent of HTTP: each act checks who asks, changes the store, and is audited.

An `Authority` is made per request from the deployment's `Settings`, a database session and the
acting user (None before sign-in). The web layer only translates forms to these calls and
`Refused` to messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from flowkit.auth import passwords, two_factor
from flowkit.auth.models import AuditEvent, BackupCode, FailedLogin, Role, Scope, Server, Token, User
from flowkit.auth.passwords import check_strength, hash_password, verify_password
from flowkit.auth.tokens import mint_token

log = structlog.get_logger("flowauth")

SIGN_IN_REFUSED = "Incorrect username or password."
ADMINS_ONLY = "Only administrators can do that."


class Refused(Exception):
    """A request FlowAuth will not carry out; the message is safe to show to the asker."""

    status = 400


class NotAllowed(Refused):
    status = 403


class NotFound(Refused):
    status = 404


class SignInRefused(Refused):
    status = 401


class WeakPassword(Refused, passwords.WeakPassword):
    """A new password zxcvbn finds guessable; the message is its advice."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    """A deployment's keys and limits."""

    private_key: str
    secret_box: two_factor.SecretBox
    issuer: str = two_factor.ISSUER
    lockout_failures: int = 5
    lockout_window: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = field(default=utc_now)


def next_expiry(holder: Server | Role, now: datetime) -> datetime:
    """The latest expiry a token may have under this server's or role's caps."""
    longest = now + timedelta(minutes=holder.longest_token_life_minutes)
    return min(longest, holder.latest_token_expiry) if holder.latest_token_expiry else longest


def scopes_from_openapi(document: object) -> list[str]:
    """The scope strings a FlowAPI server publishes in its OpenAPI security scheme.

    `document` is whatever JSON an administrator gave: anything but a list of scope names under
    components.securitySchemes.*.x-security-scopes is refused.
    """

    def mapping(value: object) -> dict:
        return value if isinstance(value, dict) else {}

    schemes = mapping(mapping(mapping(document).get("components")).get("securitySchemes"))
    scopes: set[str] = set()
    for scheme in schemes.values():
        listed = mapping(scheme).get("x-security-scopes", [])
        if not isinstance(listed, list) or not all(isinstance(scope, str) and scope for scope in listed):
            raise Refused("This document's x-security-scopes is not a list of scope names.")
        scopes.update(listed)
    if not scopes:
        raise Refused("This document lists no x-security-scopes: is it a FlowAPI /api/0/spec/openapi.json?")
    return sorted(scopes)


class Authority:
    def __init__(self, settings: Settings, db: Session, actor: User | None = None, client: str | None = None):
        self.settings, self.db, self.actor, self.client = settings, db, actor, client

    @property
    def now(self) -> datetime:
        return self.settings.clock()

    # --- audit -----------------------------------------------------------------------------

    def audit(self, action: str, target: str | None = None, outcome: str = "ok", actor: str | None = None, **detail):
        actor = actor or (self.actor.username if self.actor else None)
        event = AuditEvent(
            at=self.now, actor=actor, action=action, target=target, outcome=outcome, client=self.client, detail=detail
        )
        self.db.add(event)
        log.info("audit", action=action, actor=actor, target=target, outcome=outcome, client=self.client, **detail)

    def audit_events(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[AuditEvent]:
        self._require_admin()
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if action:
            query = query.where(AuditEvent.action == action)
        if since:
            query = query.where(AuditEvent.at >= since)
        if until:
            query = query.where(AuditEvent.at < until)
        return list(self.db.scalars(query))

    def audit_actions(self) -> list[str]:
        self._require_admin()
        return list(self.db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))

    # --- signing in ------------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> User:
        """The enabled user with this password, else SignInRefused (the same answer for every cause)."""
        self._refuse_if_throttled(username)
        user = self.db.scalar(select(User).where(User.username == username))
        if not verify_password(user.password_hash if user else None, password) or user.disabled:
            self._sign_in_failed(username, "password")
        return user

    def check_second_factor(self, user: User, code: str) -> None:
        """Accept a current TOTP code (never the same one twice) or an unused backup code."""
        self._refuse_if_throttled(user.username)
        if not user.has_two_factor:
            raise Refused("Two-factor sign-in is not enabled.")
        secret = self.settings.secret_box.open(user.totp_secret)
        step = two_factor.accepted_step(secret, code, user.totp_last_step, at=self.now.timestamp())
        if step is not None:
            user.totp_last_step = step
            return
        for backup in user.backup_codes:
            if two_factor.matches_backup_code(backup.code_hash, code):
                user.backup_codes.remove(backup)
                self.audit("backup_code_used", user.username, actor=user.username)
                return
        self._sign_in_failed(user.username, "second factor")

    def signed_in(self, user: User) -> None:
        self.db.execute(delete(FailedLogin).where(FailedLogin.username == user.username))
        self.audit("sign_in", user.username, actor=user.username)

    def _refuse_if_throttled(self, username: str) -> None:
        recent = self.db.scalar(
            select(func.count())
            .select_from(FailedLogin)
            .where(FailedLogin.username == username, FailedLogin.at >= self.now - self.settings.lockout_window)
        )
        if recent >= self.settings.lockout_failures:
            self.audit("sign_in", username, outcome="locked", actor=username)
            self.db.commit()
            minutes = int(self.settings.lockout_window.total_seconds() // 60)
            raise SignInRefused(f"Too many failed sign-ins for this account. Try again in {minutes} minutes.")

    def _sign_in_failed(self, username: str, stage: str) -> None:
        self._password_failed(username[:75], "sign_in", "failed", stage=stage)
        raise SignInRefused(SIGN_IN_REFUSED)

    def _password_failed(self, username: str, action: str, outcome: str, **detail) -> None:
        """A wrong password or code: it counts towards the lockout and is audited."""
        self.db.add(FailedLogin(username=username, at=self.now, client=self.client))
        self.audit(action, username, outcome=outcome, actor=username, **detail)
        self.db.commit()  # a failure is recorded even though the request ends in an error

    # --- own account -----------------------------------------------------------------------

    def change_password(self, current: str, new: str) -> None:
        user = self._confirm_password(current, "change_password")
        self._set_password(user, new)
        self.audit("change_password", user.username)

    def confirm_two_factor(self, secret: str, code: str) -> list[str]:
        """Turn on 2FA with `secret` once `code` proves the app holds it; returns one-time backup codes."""
        user = self._require_user()
        step = two_factor.accepted_step(secret, code, None, at=self.now.timestamp())
        if step is None:
            raise Refused("That code does not match. Check the time on your device and try the current code.")
        user.totp_secret = self.settings.secret_box.seal(secret)
        user.totp_last_step = step
        self.audit("enable_two_factor", user.username)
        return self._new_backup_codes(user)

    def regenerate_backup_codes(self, password: str) -> list[str]:
        user = self._confirm_password(password, "regenerate_backup_codes")
        if not user.has_two_factor:
            raise Refused("Two-factor sign-in is not enabled.")
        self.audit("regenerate_backup_codes", user.username)
        return self._new_backup_codes(user)

    def disable_two_factor(self, password: str) -> None:
        user = self._confirm_password(password, "disable_two_factor")
        if user.require_two_factor:
            raise Refused("Your administrator requires two-factor sign-in for this account.")
        self._clear_two_factor(user)
        self.audit("disable_two_factor", user.username)

    def _confirm_password(self, password: str, action: str) -> User:
        """The signed-in user, once they give their password again: a borrowed session alone cannot weaken the
        account, nor guess the password freely (failures count towards the lockout)."""
        user = self._require_user()
        self._refuse_if_throttled(user.username)
        if not verify_password(user.password_hash, password):
            self._password_failed(user.username, action, "refused")
            raise Refused("The current password is wrong.")
        return user

    def _new_backup_codes(self, user: User) -> list[str]:
        codes = two_factor.new_backup_codes()
        user.backup_codes = [BackupCode(code_hash=two_factor.hash_backup_code(code)) for code in codes]
        return codes

    @staticmethod
    def _clear_two_factor(user: User) -> None:
        user.totp_secret, user.totp_last_step, user.backup_codes = None, None, []

    def _set_password(self, user: User, password: str) -> None:
        _check_strength(password, user.username)
        user.password_hash = hash_password(password)
        user.session_generation += 1

    # --- tokens ----------------------------------------------------------------------------

    def servers_for_me(self) -> list[Server]:
        user = self._require_user()
        return sorted({role.server for role in user.roles}, key=lambda server: server.name)

    def token_limit(self, server: Server, roles: Iterable[Role]) -> datetime:
        now = self.now
        return min([next_expiry(server, now), *(next_expiry(role, now) for role in roles)])

    def issue_token(self, server_id: int, role_ids: Iterable[int], name: str, expires: datetime | None) -> str:
        """A signed token for the acting user, holding the chosen roles, recorded (never stored) here."""
        user = self._require_user()
        server = self._get(Server, server_id)
        held = {role.id: role for role in user.roles if role.server_id == server.id}
        wanted = set(role_ids)
        if not wanted:
            raise Refused("Choose at least one role.")
        if not wanted <= held.keys():
            raise NotAllowed("You can only choose roles you hold on this server.")
        name = name.strip()
        if not name or len(name) > 75:
            raise Refused("Give the token a name of 1 to 75 characters.")
        roles = sorted((held[role_id] for role_id in wanted), key=lambda role: role.name)
        limit = self.token_limit(server, roles)
        expires = expires or limit
        if expires > limit:
            raise Refused(f"The latest expiry allowed for these roles is {limit:%Y-%m-%d %H:%M} UTC.")
        if expires <= self.now:
            raise Refused("The expiry must be in the future.")
        record = Token(
            jti=_new_jti(),
            name=name,
            user=user,
            server=server,
            role_names=[role.name for role in roles],
            issued=self.now,
            expires=expires,
        )
        self.db.add(record)
        token = mint_token(
            self.settings.private_key,
            user=user.username,
            audience=server.name,
            roles={role.name: sorted(scope.name for scope in role.scopes) for role in roles},
            issued=record.issued,
            expires=expires,
            jti=record.jti,
        )
        self.audit("issue_token", f"{server.name}/{name}", jti=record.jti, roles=record.role_names)
        return token

    def my_tokens(self) -> list[Token]:
        user = self._require_user()
        return sorted(user.tokens, key=lambda token: token.issued, reverse=True)

    def all_tokens(self) -> list[Token]:
        self._require_admin()
        return list(self.db.scalars(select(Token).order_by(Token.issued.desc())))

    def revoke_token(self, token_id: int) -> Token:
        user = self._require_user()
        token = self._get(Token, token_id)
        if token.user_id != user.id and not user.is_admin:
            raise NotFound("No such token.")
        if token.revoked is None:
            token.revoked, token.revoked_by = self.now, user.username
            self.audit("revoke_token", f"{token.server.name}/{token.name}", jti=token.jti, owner=token.user.username)
        return token

    def revoked_jtis(self, server_name: str) -> list[str]:
        """Revoked tokens for this server that would otherwise still be accepted."""
        query = (
            select(Token.jti)
            .join(Server)
            .where(Server.name == server_name, Token.revoked.is_not(None), Token.expires > self.now)
            .order_by(Token.jti)
        )
        return list(self.db.scalars(query))

    # --- administration: users -------------------------------------------------------------

    def users(self) -> list[User]:
        self._require_admin()
        return list(self.db.scalars(select(User).order_by(User.username)))

    def user(self, user_id: int) -> User:
        self._require_admin()
        return self._get(User, user_id)

    def create_user(
        self,
        username: str,
        password: str,
        *,
        is_admin: bool = False,
        require_two_factor: bool = False,
        role_ids: Iterable[int] = (),
    ) -> User:
        if self.actor is not None or self.db.scalar(select(func.count()).select_from(User)):
            self._require_admin()
        elif not is_admin:
            raise Refused("The first user must be an administrator.")  # else no one could ever add one
        username = username.strip()
        if not username or len(username) > 75:
            raise Refused("A username has 1 to 75 characters.")
        self._refuse_if_exists(
            select(User).where(User.username == username), f"A user named {username!r} already exists."
        )
        _check_strength(password, username)
        user = User(
            username=username,
            password_hash=hash_password(password),
            is_admin=is_admin,
            require_two_factor=require_two_factor,
            created=self.now,
            roles=self._roles(role_ids),
        )
        self.db.add(user)
        self.db.flush()  # the caller gets its id
        self.audit("create_user", username, is_admin=is_admin, roles=[role.name for role in user.roles])
        return user

    def update_user(
        self,
        user_id: int,
        *,
        is_admin: bool | None = None,
        disabled: bool | None = None,
        require_two_factor: bool | None = None,
        reset_two_factor: bool = False,
        password: str | None = None,
        role_ids: Iterable[int] | None = None,
    ) -> User:
        self._require_admin()
        user = self._get(User, user_id)
        losing_admin = user.is_admin and not user.disabled and (is_admin is False or disabled is True)
        if losing_admin and self._active_admins() == 1:
            raise Refused("This is the last active administrator: make another one first.")
        changes: dict[str, object] = {}
        for name, value in (("is_admin", is_admin), ("disabled", disabled), ("require_two_factor", require_two_factor)):
            if value is not None and getattr(user, name) != value:
                setattr(user, name, value)
                changes[name] = value
        if disabled:
            user.session_generation += 1
            live = [token for token in user.tokens if token.revoked is None and token.expires > self.now]
            for token in live:  # a disabled account's tokens stop working too
                token.revoked, token.revoked_by = self.now, self.actor.username
            if live:
                changes["tokens_revoked"] = len(live)
        if reset_two_factor and user.has_two_factor:
            self._clear_two_factor(user)
            changes["reset_two_factor"] = True
        if password:
            self._set_password(user, password)
            changes["password_reset"] = True
        if role_ids is not None:
            roles = self._roles(role_ids)
            if {role.id for role in roles} != {role.id for role in user.roles}:
                user.roles = roles
                changes["roles"] = sorted(f"{role.server.name}/{role.name}" for role in roles)
        self.audit("update_user", user.username, **changes)
        return user

    def _active_admins(self) -> int:
        return self.db.scalar(select(func.count()).select_from(User).where(User.is_admin, ~User.disabled))

    # --- administration: servers and roles -------------------------------------------------

    def servers(self) -> list[Server]:
        self._require_admin()
        return list(self.db.scalars(select(Server).order_by(Server.name)))

    def server(self, server_id: int) -> Server:
        self._require_admin()
        return self._get(Server, server_id)

    def create_server(
        self, name: str, longest_token_life_minutes: int, latest_token_expiry: datetime | None, scopes: list[str]
    ) -> Server:
        self._require_admin()
        name = name.strip()
        if not name or len(name) > 120:
            raise Refused("A server name has 1 to 120 characters.")
        self._refuse_if_exists(select(Server).where(Server.name == name), f"A server named {name!r} already exists.")
        _check_lifetime(longest_token_life_minutes)
        server = Server(
            name=name,
            longest_token_life_minutes=longest_token_life_minutes,
            latest_token_expiry=latest_token_expiry,
            scopes=[Scope(name=scope) for scope in sorted(set(scopes))],
        )
        self.db.add(server)
        self.db.flush()  # the caller gets its id
        self.audit("create_server", name, scopes=len(server.scopes))
        return server

    def update_server(
        self,
        server_id: int,
        *,
        longest_token_life_minutes: int,
        latest_token_expiry: datetime | None,
        scopes: list[str] | None = None,
    ) -> Server:
        """Change the caps and, if given, replace the scope list (roles lose scopes no longer offered)."""
        server = self.server(server_id)
        _check_lifetime(longest_token_life_minutes)
        server.longest_token_life_minutes = longest_token_life_minutes
        server.latest_token_expiry = latest_token_expiry
        for role in server.roles:  # a role never allows more than its server
            role.longest_token_life_minutes = min(role.longest_token_life_minutes, longest_token_life_minutes)
            if latest_token_expiry and (
                role.latest_token_expiry is None or role.latest_token_expiry > latest_token_expiry
            ):
                role.latest_token_expiry = latest_token_expiry
        detail: dict[str, object] = {"longest_token_life_minutes": longest_token_life_minutes}
        if scopes is not None:
            existing = {scope.name: scope for scope in server.scopes}
            wanted = set(scopes)
            server.scopes = [existing.get(name) or Scope(name=name) for name in sorted(wanted)]
            for role in server.roles:  # in this session too, not only in the store (ON DELETE CASCADE)
                role.scopes = [scope for scope in role.scopes if scope.name in wanted]
            detail.update(scopes_added=len(wanted - existing.keys()), scopes_removed=len(existing.keys() - wanted))
        self.audit("update_server", server.name, **detail)
        return server

    def role(self, role_id: int) -> Role:
        self._require_admin()
        return self._get(Role, role_id)

    def create_role(
        self,
        server_id: int,
        name: str,
        *,
        scope_ids: Iterable[int] = (),
        member_ids: Iterable[int] = (),
        longest_token_life_minutes: int | None = None,
        latest_token_expiry: datetime | None = None,
    ) -> Role:
        server = self.server(server_id)
        role = Role(name=name.strip(), longest_token_life_minutes=0)
        with self.db.no_autoflush:  # the role joins the session only once it is complete
            role.server = server
            self._set_role(role, scope_ids, member_ids, longest_token_life_minutes, latest_token_expiry)
        self.db.add(role)
        self.db.flush()  # the caller gets its id
        self.audit("create_role", f"{server.name}/{role.name}", scopes=len(role.scopes), members=_names(role.members))
        return role

    def update_role(
        self,
        role_id: int,
        *,
        name: str,
        scope_ids: Iterable[int],
        member_ids: Iterable[int],
        longest_token_life_minutes: int | None,
        latest_token_expiry: datetime | None,
    ) -> Role:
        role = self.role(role_id)
        role.name = name.strip()
        self._set_role(role, scope_ids, member_ids, longest_token_life_minutes, latest_token_expiry)
        self.audit(
            "update_role", f"{role.server.name}/{role.name}", scopes=len(role.scopes), members=_names(role.members)
        )
        return role

    def delete_role(self, role_id: int) -> None:
        role = self.role(role_id)
        self.db.delete(role)
        self.audit("delete_role", f"{role.server.name}/{role.name}")

    def _set_role(self, role: Role, scope_ids, member_ids, longest: int | None, latest: datetime | None) -> None:
        server = role.server
        if not role.name or len(role.name) > 75:
            raise Refused("A role name has 1 to 75 characters.")
        self._refuse_if_exists(
            select(Role).where(Role.server_id == server.id, Role.name == role.name, Role.id.is_distinct_from(role.id)),
            f"Server {server.name!r} already has a role named {role.name!r}.",
        )
        longest = server.longest_token_life_minutes if longest is None else longest
        _check_lifetime(longest)
        if longest > server.longest_token_life_minutes:
            raise Refused(
                f"A role's longest token life cannot exceed its server's ({server.longest_token_life_minutes} minutes)."
            )
        latest = latest or server.latest_token_expiry
        if latest and server.latest_token_expiry and latest > server.latest_token_expiry:
            raise Refused(
                f"A role's latest expiry cannot be after its server's ({server.latest_token_expiry:%Y-%m-%d %H:%M} UTC)."
            )
        offered = {scope.id: scope for scope in server.scopes}
        scope_ids = set(scope_ids)
        if not scope_ids <= offered.keys():
            raise Refused("A role can only hold scopes its server offers.")
        role.longest_token_life_minutes, role.latest_token_expiry = longest, latest
        role.scopes = [offered[scope_id] for scope_id in sorted(scope_ids)]
        role.members = [self._get(User, user_id) for user_id in sorted(set(member_ids))]

    # --- helpers ---------------------------------------------------------------------------

    def _require_user(self) -> User:
        if self.actor is None:
            raise SignInRefused("Sign in first.")
        return self.actor

    def _require_admin(self) -> User:
        user = self._require_user()
        if not user.is_admin:
            raise NotAllowed(ADMINS_ONLY)
        return user

    def _get(self, model, key: int):
        found = self.db.get(model, key)
        if found is None:
            raise NotFound(f"No such {model.__name__.lower()}.")
        return found

    def _roles(self, role_ids: Iterable[int]) -> list[Role]:
        return [self._get(Role, role_id) for role_id in sorted(set(role_ids))]

    def _refuse_if_exists(self, query, message: str) -> None:
        with self.db.no_autoflush:  # the object being made is not in the store yet
            found = self.db.scalar(query.with_only_columns(func.count()))
        if found:
            raise Refused(message)


def _check_strength(password: str, username: str) -> None:
    try:
        check_strength(password, username=username)
    except passwords.WeakPassword as weak:
        raise WeakPassword(str(weak)) from None


def _check_lifetime(minutes: int) -> None:
    if minutes < 1:
        raise Refused("The longest token life must be at least one minute.")


def _names(users: Iterable[User]) -> list[str]:
    return sorted(user.username for user in users)


def _new_jti() -> str:
    return str(uuid.uuid4())
