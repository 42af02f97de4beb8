"""`flowkit serve` and `flowkit token`: the API and the tokens it accepts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import click

from flowkit.cli.data import open_flowdb
from flowkit.cli.options import DATA_DIR, DB, SERVER_NAME
from flowkit.data_dir import DEFAULT_SERVER_NAME, DataDir


@dataclass(frozen=True)
class ServeOptions:
    """How the API is served: where, over which FlowDB, and whose tokens it trusts.

    Tokens are verified with the key in `public_key_file` if given, else FlowAuth's at `auth_url`,
    else the data dir's. With `auth_url`, the tokens FlowAuth lists as revoked are refused.
    """

    server_name: str = DEFAULT_SERVER_NAME
    host: str = "127.0.0.1"
    port: int = 9090
    redis_url: str | None = None
    db: str | None = None
    auth_url: str | None = None
    public_key_file: Path | None = None
    revocation_refresh_seconds: float | None = None  # None: the API's default


@click.command()
@DATA_DIR
@DB
@SERVER_NAME
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9090, show_default=True)
@click.option(
    "--redis-url", help="Share query states with every API process using this Redis (e.g. redis://127.0.0.1:6379/0)."
)
@click.option(
    "--auth-url",
    metavar="URL",
    help="FlowAuth's URL: take the token key from URL/public_key at start (unless --public-key is given) "
    "and refuse the tokens URL/revocations lists as revoked.",
)
@click.option(
    "--revocation-refresh-seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="How often to fetch FlowAuth's revocation list (default: 30).",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of the key tokens are signed with (instead of the data dir's or FlowAuth's).",
)
def serve(data_dir: Path, **options) -> None:
    """Serve the FlowAPI over an existing FlowDB."""
    serve_api(DataDir(data_dir), ServeOptions(**options))


def serve_api(data: DataDir, options: ServeOptions) -> None:
    import uvicorn

    from flowkit.api.access_log import configure_logging
    from flowkit.api.app import create_app
    from flowkit.machine.queries import Machine
    from flowkit.machine.states import RedisQueryStates

    public_key, revocations = _token_trust(data, options)
    db = open_flowdb(data, options.db)
    configure_logging()
    states = RedisQueryStates.for_flowdb(options.redis_url, db) if options.redis_url else None
    app = create_app(
        Machine(db, states=states), public_key=public_key, server_name=options.server_name, revocations=revocations
    )
    # Our access log (one JSON line per request) replaces uvicorn's.
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", access_log=False)


def _token_trust(data: DataDir, options: ServeOptions):
    """(public key, revocation list or None) for the API, as `options` says; ClickException if unavailable."""
    from flowkit.api.flowauth import FlowAuthError, RevocationList, checked_public_key, fetch_public_key

    if options.auth_url is None and options.revocation_refresh_seconds is not None:
        raise click.UsageError("--revocation-refresh-seconds needs --auth-url")
    if options.public_key_file is not None:
        try:
            public_key = checked_public_key(options.public_key_file.read_text(), str(options.public_key_file))
        except (ValueError, OSError) as error:
            raise click.ClickException(str(error)) from error
    elif options.auth_url is not None:
        try:
            public_key = fetch_public_key(options.auth_url)
        except FlowAuthError as error:
            raise click.ClickException(f"cannot get the token key from FlowAuth: {error}") from error
    else:
        _, public_key = data.key_pair()
    if options.auth_url is None:
        return public_key, None
    refresh = (
        {} if options.revocation_refresh_seconds is None else {"refresh_seconds": options.revocation_refresh_seconds}
    )
    return public_key, RevocationList(options.auth_url, options.server_name, **refresh)


@click.command()
@DATA_DIR
@SERVER_NAME
@click.option("--user", required=True, help="The token's subject.")
@click.option(
    "--role", "roles", multiple=True, metavar="NAME=SCOPE,SCOPE,...", help="A role and its scopes (repeatable)."
)
@click.option("--all-scopes", is_flag=True, help="One role holding every scope this server knows.")
@click.option("--lifetime-minutes", type=int, default=24 * 60, show_default=True)
def token(
    data_dir: Path, server_name: str, user: str, roles: tuple[str, ...], all_scopes: bool, lifetime_minutes: int
) -> None:
    """Print a token signed with this data dir's key."""
    if bool(roles) == all_scopes:
        raise click.UsageError("give either --role NAME=SCOPES (one or more) or --all-scopes")
    parsed = {}
    for role in roles:
        name, sep, scopes = role.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"'{role}' is not NAME=SCOPE,SCOPE,...", param_hint="--role")
        parsed[name] = [s for s in scopes.split(",") if s]
    click.echo(mint_data_dir_token(DataDir(data_dir), server_name, user, parsed or None, lifetime_minutes))


def mint_data_dir_token(data: DataDir, server_name: str, user: str, roles: dict | None, lifetime_minutes: int) -> str:
    from flowkit.auth.tokens import mint_token
    from flowkit.machine.catalogue import scope_universe

    private_key, _ = data.key_pair()
    roles = roles or {"all_scopes": scope_universe()}
    return mint_token(
        private_key, user=user, audience=server_name, roles=roles, lifetime=timedelta(minutes=lifetime_minutes)
    )
