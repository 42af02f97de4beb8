"""The client's errors, and the one place where HTTP replies and transport failures become them.

    ClientError
    ├── TokenError               the token cannot be decoded or names no user (`sub`)
    ├── ConnectionFailed         the server could not be reached (wraps httpx.TransportError)
    └── APIError                 the server answered with a status the operation did not expect
        ├── AuthorizationError   401 / 403: missing, expired or insufficient token
        └── QueryNotFound        404: unknown query id, or a query that is not (or no longer) run

Spec builders raise pydantic's ValidationError (a ValueError naming the field) before anything
is sent, so a bad spec never reaches the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

__all__ = [
    "APIError",
    "AuthorizationError",
    "ClientError",
    "ConnectionFailed",
    "QueryNotFound",
    "TokenError",
    "error_for",
    "transport_errors",
]


class ClientError(Exception):
    """Base of every error raised by flowkit.client."""


class TokenError(ClientError):
    pass


class ConnectionFailed(ClientError):
    pass


class APIError(ClientError):
    """`status` is the HTTP status (None if raised before asking); `msg` and `payload` come
    from the JSON error body FlowAPI sends."""

    def __init__(self, status: int | None, msg: str, payload: Any = None):
        super().__init__(status, msg, payload)
        self.status = status
        self.msg = msg
        self.payload = payload

    def __str__(self) -> str:
        return self.msg if self.status is None else f"HTTP {self.status}: {self.msg}"


class AuthorizationError(APIError):
    pass


class QueryNotFound(APIError):
    pass


_BY_STATUS: dict[int, type[APIError]] = {401: AuthorizationError, 403: AuthorizationError, 404: QueryNotFound}


def error_for(response: httpx.Response) -> APIError:
    """The error for a reply an operation did not expect."""
    try:
        body = response.json()
    except ValueError:  # e.g. the plain-text 404 for an unknown query id
        body = None
    error = _BY_STATUS.get(response.status_code, APIError)
    if isinstance(body, dict) and "msg" in body:
        return error(response.status_code, str(body["msg"]), body.get("payload"))
    text = response.text.strip() if body is None else ""
    return error(response.status_code, text or f"Unexpected reply: {response.reason_phrase}", body)


@contextmanager
def transport_errors(url: str) -> Iterator[None]:
    """Network failures as ConnectionFailed, for both drivers."""
    try:
        yield
    except httpx.TransportError as error:
        raise ConnectionFailed(f"Unable to connect to FlowKit API at {url}: {error}") from error
