"""`flowkit auth …`: run FlowAuth and bootstrap its first administrator."""

from __future__ import annotations

from pathlib import Path

import click

from flowkit.cli.options import DATA_DIR
from flowkit.data_dir import DataDir

STORE = click.option(
    "--store",
    metavar="URL",
    help="FlowAuth's database as an SQLAlchemy URL, e.g. postgresql+psycopg://user@host/flowauth "
    "(default: flowauth.sqlite in --data-dir).",
)


@click.group("auth")
def auth() -> None:
    """FlowAuth: users, roles, servers and the tokens analysts take to FlowAPI."""


@auth.command("serve")
@DATA_DIR
@STORE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only (behind TLS).")
def serve(data_dir: Path, store: str | None, host: str, port: int, secure_cookies: bool) -> None:
    """Serve FlowAuth's web UI, its public key (/public_key) and revocation list (/revocations)."""
    import uvicorn

    from flowkit.api.access_log import configure_logging
    from flowkit.auth.deployment import open_deployment

    configure_logging()
    app = open_deployment(DataDir(data_dir), store).app(secure_cookies=secure_cookies)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@auth.command("add-admin")
@DATA_DIR
@STORE
@click.option("--username", required=True)
@click.password_option(envvar="FLOWAUTH_ADMIN_PASSWORD", help="Or set FLOWAUTH_ADMIN_PASSWORD.")
def add_admin(data_dir: Path, store: str | None, username: str, password: str) -> None:
    """Create the first administrator (later ones are made in the web UI)."""
    from flowkit.auth.deployment import open_deployment
    from flowkit.auth.service import Authority, Refused

    deployment = open_deployment(DataDir(data_dir), store)
    with deployment.sessions() as db:
        try:
            Authority(deployment.settings, db).create_user(username, password, is_admin=True)
        except Refused as refusal:
            raise click.ClickException(f"{refusal} (an existing administrator adds users in the web UI)") from None
        db.commit()
    click.echo(f"Administrator {username!r} created.")
