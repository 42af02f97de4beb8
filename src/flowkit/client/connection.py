"""Connections: the two thin drivers that run protocol operations over httpx.

Everything but the driving loop lives in `_BaseConnection` or in `flowkit.client.protocol`;
`Connection.perform` and `AsyncConnection.perform` differ only in `await`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from typing import Any, TypeVar

import httpx
import jwt

from flowkit.client.errors import TokenError, transport_errors
from flowkit.client.protocol import Operation, Request, Sleep
from flowkit.client.query import APIQuery, ASyncAPIQuery

__all__ = ["AsyncConnection", "Connection", "connect", "connect_async"]

T = TypeVar("T")


class _BaseConnection:
    """Settings, token and base URL shared by both drivers (as in flowclient's Connection)."""

    _client_class: type[httpx.Client] | type[httpx.AsyncClient]
    _query_class: type[APIQuery] | type[ASyncAPIQuery]

    def __init__(
        self,
        *,
        url: str,
        token: str,
        api_version: int = 0,
        ssl_certificate: str | bool = True,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ):
        """`ssl_certificate` is a CA bundle path, True for the system's, or False not to verify;
        `transport` lets tests and embedders talk to an app in-process."""
        if not url.lower().startswith("https://"):
            warnings.warn("Communications with this server are NOT SECURE.", stacklevel=3)
        self.url = url.rstrip("/")
        self.api_version = api_version
        verify = ssl_certificate
        if isinstance(ssl_certificate, str):
            verify = ssl.create_default_context(cafile=ssl_certificate)
        # No timeout: results are computed on demand and streamed, as with flowclient.
        self.client = self._client_class(
            base_url=f"{self.url}/api/{api_version}/", timeout=None, verify=verify, transport=transport
        )
        self.update_token(token)

    def update_token(self, token: str) -> None:
        """Use a new token; the user name is read from it unverified (the server verifies)."""
        try:
            self.user = jwt.decode(token, options={"verify_signature": False})["sub"]
        except jwt.DecodeError as error:
            raise TokenError(f"Unable to decode token: {error}") from None
        except KeyError:
            raise TokenError("Token does not contain user identity (sub).") from None
        self.token = token
        self.client.headers["Authorization"] = f"Bearer {token}"

    def make_api_query(self, parameters: dict) -> Any:
        return self._query_class(connection=self, parameters=parameters)

    def _request(self, request: Request) -> Any:
        # Redirects are the protocol (303 = ready), so they are never followed.
        return self.client.request(
            request.method, request.path, json=request.json, params=request.params, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"{self.user}@{self.url} v{self.api_version}"


class Connection(_BaseConnection):
    """A blocking connection to a FlowAPI server."""

    _client_class = httpx.Client
    _query_class = APIQuery

    def perform(self, operation: Operation[T]) -> T:
        """Run a protocol operation to completion."""
        try:
            effect = next(operation)
            while True:
                if isinstance(effect, Sleep):
                    time.sleep(effect.seconds)
                    effect = operation.send(None)
                else:
                    with transport_errors(self.url):
                        response = self._request(effect)
                    effect = operation.send(response)
        except StopIteration as done:
            return done.value
        finally:
            operation.close()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncConnection(_BaseConnection):
    """An asyncio connection to a FlowAPI server: the same operations, awaited."""

    _client_class = httpx.AsyncClient
    _query_class = ASyncAPIQuery

    async def perform(self, operation: Operation[T]) -> T:
        """Run a protocol operation to completion."""
        try:
            effect = next(operation)
            while True:
                if isinstance(effect, Sleep):
                    await asyncio.sleep(effect.seconds)
                    effect = operation.send(None)
                else:
                    with transport_errors(self.url):
                        response = await self._request(effect)
                    effect = operation.send(response)
        except StopIteration as done:
            return done.value
        finally:
            operation.close()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def connect(*, url: str, token: str, api_version: int = 0, ssl_certificate: str | bool = True) -> Connection:
    """Connect to a FlowAPI server, e.g. `connect(url="https://localhost:9090", token=...)`."""
    return Connection(url=url, token=token, api_version=api_version, ssl_certificate=ssl_certificate)


def connect_async(*, url: str, token: str, api_version: int = 0, ssl_certificate: str | bool = True) -> AsyncConnection:
    """Connect to a FlowAPI server for use with asyncio."""
    return AsyncConnection(url=url, token=token, api_version=api_version, ssl_certificate=ssl_certificate)
