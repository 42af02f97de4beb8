"""Two-factor sign-in: TOTP secrets (encrypted at rest) and one-time backup codes (hashed)."""

from __future__ import annotations

import io
import secrets
import string

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.fernet import Fernet

from flowkit.auth.passwords import hash_password, verify_password

ISSUER = "FlowKit"
BACKUP_CODE_COUNT = 10
_ALPHABET = string.ascii_lowercase + string.digits


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, for authenticator apps to scan."""
    buffer = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return buffer.getvalue().decode()


def accepted_step(secret: str, code: str, last_step: int | None, *, at: float) -> int | None:
    """The time step `code` is valid for (current or one either side), unless already used."""
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    step = int(at) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if (last_step is None or candidate > last_step) and secrets.compare_digest(
            totp.at(candidate * totp.interval), code
        ):
            return candidate
    return None


def new_backup_codes() -> list[str]:
    return ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(BACKUP_CODE_COUNT)]


def hash_backup_code(code: str) -> str:
    return hash_password(code)


def matches_backup_code(code_hash: str, code: str) -> bool:
    return verify_password(code_hash, code.strip().lower())


class SecretBox:
    """Encrypts TOTP secrets with the deployment's Fernet key, so a copy of the store alone is useless."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()
