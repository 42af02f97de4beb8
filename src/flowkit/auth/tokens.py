"""FlowKit access tokens: RS256 JWTs whose `user_claims` carry the holder's roles.

The format is FlowAuth's (flowkit-interfaces.md §2.1) so that tokens from either side work
with flowclient and FlowAPI: `sub` is the user, `aud` the server name, and `user_claims` is
`{role: [scope, ...]}` as JSON, gzipped, then base64 with line breaks.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PRIVATE_KEY_FILE = "flowkit-private-key.pem"
PUBLIC_KEY_FILE = "flowkit-public-key.pem"


def compress_roles(roles: dict[str, list[str]]) -> str:
    return base64.encodebytes(gzip.compress(json.dumps(roles).encode())).decode()


def decompress_roles(claims: str) -> dict[str, list[str]]:
    roles = json.loads(gzip.decompress(base64.b64decode(claims)))
    if not isinstance(roles, dict) or not all(isinstance(v, list) for v in roles.values()):
        raise ValueError("user_claims is not a dict of role → scopes")
    return roles


def mint_token(
    private_key: str,
    *,
    user: str,
    audience: str,
    roles: dict[str, list[str]],
    lifetime: timedelta | None = None,
    issued: datetime | None = None,
    expires: datetime | None = None,
    jti: str | None = None,
) -> str:
    """A signed token for `user` on server `audience` holding `roles`, valid from `issued` (default now)
    for `lifetime` or until `expires`; `jti` names it for revocation."""
    issued = issued or datetime.now(UTC)
    if (lifetime is None) == (expires is None):
        raise TypeError("give exactly one of lifetime and expires")
    claims = {
        "iat": issued,
        "nbf": issued,
        "exp": expires or issued + lifetime,
        "jti": jti or str(uuid.uuid4()),
        "sub": user,
        "aud": audience,
        "user_claims": compress_roles(roles),
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


def ensure_key_pair(directory: Path, *, key_size: int = 4096) -> tuple[str, str]:
    """The (private, public) PEM pair stored in `directory`, made on first use.

    The private key file is created with mode 0600 before anything is written to it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_private_file(private_path, pem)
        public_path.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return private_path.read_text(), public_path.read_text()


def write_private_file(path: Path, data: bytes) -> None:
    """Create `path` readable by its owner only (mode 0600 before any byte is written)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
