"""A FlowAuth deployment from its data dir: store, signing key, session and encryption secrets.

Secrets come from the environment when set (FlowAuth's names: PRIVATE_JWT_SIGNING_KEY,
FLOWAUTH_FERNET_KEY, SECRET_KEY), else from files in the data dir made on first use, mode 0600.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from flowkit.auth.service import Settings
from flowkit.auth.store import open_store
from flowkit.auth.two_factor import SecretBox
from flowkit.data_dir import DataDir


@dataclass(frozen=True)
class FlowAuthDeployment:
    settings: Settings
    sessions: sessionmaker[Session]
    session_secret: str
    public_key: str

    def app(self, *, secure_cookies: bool = False) -> Starlette:
        from flowkit.auth.web import create_auth_app

        return create_auth_app(
            self.settings,
            self.sessions,
            session_secret=self.session_secret,
            public_key=self.public_key,
            secure_cookies=secure_cookies,
        )


def open_deployment(data: DataDir, store_url: str | None = None) -> FlowAuthDeployment:
    """FlowAuth's pieces for `data`; the store is SQLite in the data dir unless `store_url` names another."""
    data.root.mkdir(parents=True, exist_ok=True)
    private_key, public_key = _signing_keys(data)
    fernet_key = os.environ.get("FLOWAUTH_FERNET_KEY") or data.secret("flowauth-fernet.key", _new_fernet_key)
    session_secret = os.environ.get("SECRET_KEY") or data.secret("flowauth-session.key", _new_session_secret)
    settings = Settings(private_key=private_key, secret_box=SecretBox(fernet_key.encode()))
    sessions = open_store(store_url or f"sqlite:///{data.root / 'flowauth.sqlite'}")
    return FlowAuthDeployment(settings, sessions, session_secret, public_key)


def _signing_keys(data: DataDir) -> tuple[str, str]:
    pem = os.environ.get("PRIVATE_JWT_SIGNING_KEY")
    if not pem:
        return data.key_pair()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, public.decode()


def _new_fernet_key() -> str:
    return Fernet.generate_key().decode()


def _new_session_secret() -> str:
    return secrets.token_urlsafe(48)
