"""Password hashing (argon2) and the strength rule for new passwords."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Verified when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not a password anyone has")

MINIMUM_STRENGTH = 3  # zxcvbn's 0-4 score: 3 is "safely unguessable", FlowAuth asked for 4


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash, spends the same time and says False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_strength(password: str, *, username: str = "") -> None:
    """Raise WeakPassword with zxcvbn's advice unless the password is strong enough."""
    result = zxcvbn(password[:100], user_inputs=[username] if username else [])
    if result["score"] < MINIMUM_STRENGTH:
        advice = result["feedback"]["warning"] or " ".join(result["feedback"]["suggestions"])
        raise WeakPassword(f"Password too weak. {advice}".strip())
