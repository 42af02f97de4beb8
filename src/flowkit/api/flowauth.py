"""FlowAPI's side of its contract with FlowAuth: the key tokens are signed with, and revocations.

FlowAuth serves, without authentication:

- `GET {auth_url}/public_key` → `text/plain` PEM of its RS256 public key;
- `GET {auth_url}/revocations?server=NAME` → `{"server": NAME, "revoked": ["<jti>", ...]}`, the jti of
  every revoked, not yet expired token for that server.

The API fetches the key once at start (`fetch_public_key`) and keeps a `RevocationList` that a
background thread refreshes every `refresh_seconds`; when FlowAuth is unreachable or answers
nonsense, the last good list is kept and a warning logged.
"""

from __future__ import annotations

import threading

import httpx
import structlog
from cryptography.hazmat.primitives.serialization import load_pem_public_key

log = structlog.get_logger("flowkit.flowauth")

DEFAULT_REFRESH_SECONDS = 30.0
TIMEOUT_SECONDS = 5.0


class FlowAuthError(Exception):
    """FlowAuth could not be reached, or did not answer as the contract says."""


def _get(url: str, **params: str) -> httpx.Response:
    try:
        response = httpx.get(url, params=params, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise FlowAuthError(f"{url}: {error}") from error
    if response.status_code != 200:
        raise FlowAuthError(f"{url} answered {response.status_code}")
    return response


def fetch_public_key(auth_url: str) -> str:
    """The PEM public key FlowAuth at `auth_url` signs tokens with."""
    url = f"{auth_url.rstrip('/')}/public_key"
    try:
        return checked_public_key(_get(url).text, url)
    except ValueError as error:
        raise FlowAuthError(str(error)) from error


def checked_public_key(pem: str, source: str) -> str:
    """`pem` if it is a PEM public key, else ValueError naming where it came from."""
    try:
        load_pem_public_key(pem.encode())
    except ValueError as error:
        raise ValueError(f"{source} is not a PEM public key: {error}") from error
    return pem


class RevocationList:
    """The jti of the revoked tokens for `server_name`, as FlowAuth at `auth_url` last listed them.

    `start()` fetches the list once, then refreshes it in a daemon thread until `stop()`;
    `create_app` ties both to the app's lifespan.
    """

    def __init__(self, auth_url: str, server_name: str, *, refresh_seconds: float = DEFAULT_REFRESH_SECONDS):
        self.url = f"{auth_url.rstrip('/')}/revocations"
        self.server_name = server_name
        self.refresh_seconds = refresh_seconds
        self._revoked: frozenset[str] = frozenset()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __contains__(self, jti: object) -> bool:
        return jti in self._revoked

    def fetch(self) -> frozenset[str]:
        """The list as FlowAuth gives it now; FlowAuthError if it cannot."""
        response = _get(self.url, server=self.server_name)
        try:
            body = response.json()
        except ValueError as error:
            raise FlowAuthError(f"{self.url}: not JSON: {error}") from error
        revoked = body.get("revoked") if isinstance(body, dict) else None
        if not isinstance(revoked, list) or not all(isinstance(jti, str) for jti in revoked):
            raise FlowAuthError(f"{self.url}: expected {{'server': ..., 'revoked': [jti, ...]}}, got {body!r:.200}")
        if body.get("server") != self.server_name:
            raise FlowAuthError(f"{self.url}: list is for server {body.get('server')!r}, not {self.server_name!r}")
        return frozenset(revoked)

    def refresh(self) -> bool:
        """Replace the list with FlowAuth's; on failure keep the last good one, log a warning, return False."""
        try:
            self._revoked = self.fetch()
        except FlowAuthError as error:
            log.warning("revocation list not refreshed", error=str(error), kept=len(self._revoked))
            return False
        return True

    def start(self) -> None:
        self.refresh()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._keep_refreshing, name="flowkit-revocations", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_SECONDS + 1)
            self._thread = None

    def _keep_refreshing(self) -> None:
        while not self._stopping.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception:  # a bug here must not silently end the refreshing
                log.exception("revocation list refresh failed", url=self.url)


__all__ = ["DEFAULT_REFRESH_SECONDS", "FlowAuthError", "RevocationList", "checked_public_key", "fetch_public_key"]
