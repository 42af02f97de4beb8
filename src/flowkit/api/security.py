"""Who is asking and what they may do: FlowAPI's token checks and scope rule.

A request is allowed only if ONE of the token's roles holds every scope it needs (roles are
never unioned), as in FlowKit's roles-era FlowAPI (flowkit-interfaces.md §2.3).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

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
        needed = set(scopes)
        return next((role for role, held in sorted(self.roles.items()) if needed <= set(held)), None)


class Authenticator:
    """Verifies bearer tokens signed by FlowAuth's key for this server (the audience).

    With `revoked` (e.g. a `flowauth.RevocationList`), a token whose `jti` is in it is refused;
    a token without `jti` is accepted as before.
    """

    def __init__(self, public_key: str, server_name: str, revoked: Container[str] = frozenset()):
        self.public_key = public_key
        self.server_name = server_name
        self.revoked = revoked

    def user(self, request: Request) -> User:
        header = request.headers.get("authorization")
        if header is None:
            raise APIError(401, "Missing Authorization Header")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token or " " in token:
            raise APIError(422, "Bad Authorization header. Expected value 'Bearer <JWT>'")
        try:
            claims = jwt.decode(
                token, self.public_key, algorithms=["RS256"], audience=self.server_name, options={"require": ["sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise APIError(401, "Token has expired") from None
        except jwt.InvalidTokenError as error:
            raise APIError(422, str(error)) from None
        if isinstance(claims.get("jti"), str) and claims["jti"] in self.revoked:
            raise APIError(401, "Token has been revoked")
        try:
            roles = decompress_roles(claims["user_claims"])
        except (KeyError, ValueError, OSError, TypeError) as error:
            raise APIError(422, f"Invalid user_claims: {error}") from None
        return User(str(claims["sub"]), roles)


def authorise(request: Request, scopes: list[str]) -> User:
    """The request's user, if one of their roles holds every scope; else 401/403/422."""
    user = request.app.state.authenticator.user(request)
    request.state.user = user.name
    role = user.role_granting(scopes)
    if role is None:
        raise APIError(403, "User claims verification failed")
    request.state.granting_role = role
    return user
