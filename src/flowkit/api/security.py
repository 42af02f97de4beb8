"""Who is asking and what they may do: FlowAPI's token checks and scope rule.

A request is allowed only if ONE of the token's roles holds every scope it needs (roles are
never unioned), as in FlowKit's roles-era FlowAPI (flowkit-interfaces.md §2.3).
"""

from __future__ import annotations

import time
from collections.abc import Container
from dataclasses import dataclass
from functools import cached_property, lru_cache

import jwt
from starlette.requests import Request

from flowkit.api.errors import APIError
from flowkit.auth.tokens import decompress_roles


@dataclass(frozen=True)
class User:
    name: str
    roles: dict[str, list[str]]

    def role_granting(self, scopes: list[str]) -> str | None:
        """Name of a role holding all `scopes`, if any."""
        needed = frozenset(scopes)
        if needed not in self._granting:
            self._granting[needed] = next((role for role, held in self._held if needed <= held), None)
        return self._granting[needed]

    @cached_property
    def _held(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple((role, frozenset(held)) for role, held in sorted(self.roles.items()))

    @cached_property
    def _granting(self) -> dict[frozenset[str], str | None]:
        """Answers so far: a user verified once serves many requests (see `Authenticator`)."""
        return {}


@dataclass(frozen=True)
class _Verified:
    """What a token said once its signature, audience and claims checked out."""

    user: User
    expires: float | None  # `exp`, when the token has one
    jti: str | None


class Authenticator:
    """Verifies bearer tokens signed by FlowAuth's key for this server (the audience).

    With `revoked` (e.g. a `flowauth.RevocationList`), a token whose `jti` is in it is refused;
    a token without `jti` is accepted as before.

    A client sends the same token with every request, and checking it (RS256 signature, then
    gunzipping its roles) costs more than answering a poll, so the last `cache_size` tokens that
    checked out are remembered by their exact text: for one key and audience the outcome is the
    same until the token expires. Expiry and the revocation list are checked on every request;
    tokens that fail are never remembered.
    """

    def __init__(
        self, public_key: str, server_name: str, revoked: Container[str] = frozenset(), *, cache_size: int = 1024
    ):
        self.public_key = public_key
        self.server_name = server_name
        self.revoked = revoked
        self._verified = lru_cache(maxsize=cache_size)(self._verify)

    def user(self, request: Request) -> User:
        header = request.headers.get("authorization")
        if header is None:
            raise APIError(401, "Missing Authorization Header")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token or " " in token:
            raise APIError(422, "Bad Authorization header. Expected value 'Bearer <JWT>'")
        verified = self._verified(token)
        if verified.expires is not None and verified.expires <= time.time():  # as PyJWT: expired at `exp`
            raise APIError(401, "Token has expired")
        if verified.jti is not None and verified.jti in self.revoked:
            raise APIError(401, "Token has been revoked")
        return verified.user

    def _verify(self, token: str) -> _Verified:
        try:
            claims = jwt.decode(
                token, self.public_key, algorithms=["RS256"], audience=self.server_name, options={"require": ["sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise APIError(401, "Token has expired") from None
        except jwt.InvalidTokenError as error:
            raise APIError(422, str(error)) from None
        jti = claims["jti"] if isinstance(claims.get("jti"), str) else None
        if jti is not None and jti in self.revoked:  # checked before the roles, as it always was
            raise APIError(401, "Token has been revoked")
        try:
            roles = decompress_roles(claims["user_claims"])
        except (KeyError, ValueError, OSError, TypeError) as error:
            raise APIError(422, f"Invalid user_claims: {error}") from None
        expires = float(claims["exp"]) if "exp" in claims else None
        return _Verified(User(str(claims["sub"]), roles), expires, jti)


def authorise(request: Request, scopes: list[str]) -> User:
    """The request's user, if one of their roles holds every scope; else 401/403/422."""
    user = request.app.state.authenticator.user(request)
    request.state.user = user.name
    role = user.role_granting(scopes)
    if role is None:
        raise APIError(403, "User claims verification failed")
    request.state.granting_role = role
    return user
