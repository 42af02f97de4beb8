"""The `flowkit` command: make data, serve the API, mint tokens, run the demo."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import click

from flowkit.data_dir import DEFAULT_SERVER_NAME, DataDir

DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Directory holding the FlowDB file and the token keys.",
)
SERVER_NAME = click.option(
    "--server-name", default=DEFAULT_SERVER_NAME, show_default=True, help="This API's name: the audience of its tokens."
)
DB = click.option(
    "--db",
    metavar="URL_OR_PATH",
    help="The FlowDB: a postgresql://user@host:port/dbname URL (PostgreSQL with PostGIS) or a DuckDB file "
    "(default: flowdb.duckdb in --data-dir). --data-dir still holds the token keys.",
)


@click.group()
def main() -> None:
    """FlowKit: CDR analytics that only lets anonymous aggregates out."""


@main.command()
@DATA_DIR
@DB
@click.option("--subscribers", type=int, default=20_000, show_default=True)
@click.option("--seed", type=int, default=2016, show_default=True)
@click.option("--start-date", type=click.DateTime(["%Y-%m-%d"]), default="2016-01-01", show_default=True)
@click.option(
    "--end-date",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2016-02-29",
    show_default=True,
    help="Last day, inclusive.",
)
@click.option("--crisis-date", type=click.DateTime(["%Y-%m-%d"]), default="2016-02-10", show_default=True)
def synth(data_dir: Path, db: str | None, subscribers: int, seed: int, start_date, end_date, crisis_date) -> None:
    """Generate a synthetic country into a new FlowDB (or an empty PostgreSQL one)."""
    from flowkit.db.synthetic import SyntheticConfig

    config = SyntheticConfig(
        seed=seed,
        subscribers=subscribers,
        start_date=start_date.date(),
        end_date=end_date.date(),
        crisis_date=crisis_date.date(),
    )
    _synthesise(DataDir(data_dir), config, db)


def _synthesise(data: DataDir, config, target: str | None = None) -> None:
    from flowkit.db import FlowDB, connect_flowdb, is_postgres_url
    from flowkit.db.synthetic import generate

    if target is not None and is_postgres_url(target):
        started = time.perf_counter()
        db = connect_flowdb(target)
        try:
            summary = generate(db, config)  # refuses a FlowDB that already holds data
        except ValueError as error:
            raise click.ClickException(str(error)) from error
        finally:
            db.close()
        click.echo(f"Synthetic country written to {target} in {time.perf_counter() - started:.0f} s: {summary}")
        return
    path = Path(target) if target is not None else data.flowdb_path
    if path.exists():
        raise click.ClickException(f"{path} already exists; remove it or choose another --data-dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = FlowDB(partial)
    summary = generate(db, config)
    db.close()
    partial.rename(path)  # a half-made FlowDB never looks complete
    click.echo(f"Synthetic country written to {path} in {time.perf_counter() - started:.0f} s: {summary}")


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


@main.command()
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
    _serve(DataDir(data_dir), ServeOptions(**options))


def _serve(data: DataDir, options: ServeOptions) -> None:
    import uvicorn

    from flowkit.api.access_log import configure_logging
    from flowkit.api.app import create_app
    from flowkit.machine.queries import Machine
    from flowkit.machine.states import RedisQueryStates

    public_key, revocations = _token_trust(data, options)
    db = _open_flowdb(data, options.db)
    configure_logging()
    states = RedisQueryStates.for_flowdb(options.redis_url, db) if options.redis_url else None
    app = create_app(
        Machine(db, states=states), public_key=public_key, server_name=options.server_name, revocations=revocations
    )
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")


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


@main.command()
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
    click.echo(_token(DataDir(data_dir), server_name, user, parsed or None, lifetime_minutes))


def _open_flowdb(data: DataDir, target: str | None):
    """The FlowDB `--db` names (a PostgreSQL URL or a DuckDB file), else the data dir's; it must exist."""
    from flowkit.db import connect_flowdb, is_postgres_url

    if target is not None and is_postgres_url(target):
        return connect_flowdb(target)
    path = Path(target) if target is not None else data.flowdb_path
    if not path.exists():
        raise click.ClickException(f"no FlowDB at {path}; run `flowkit synth --data-dir {data.root}` first")
    return connect_flowdb(path)


@main.group("db")
def db_group() -> None:
    """The FlowDB itself."""


@db_group.command("init")
@DATA_DIR
@DB
def db_init(data_dir: Path, db: str | None) -> None:
    """Create FlowKit's schema (idempotent): on PostgreSQL with PostGIS, events partitioned by day."""
    from flowkit.db import connect_flowdb, is_postgres_url

    if db is None or not is_postgres_url(db):
        path = Path(db) if db is not None else DataDir(data_dir).flowdb_path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = str(path)
    connect_flowdb(db).close()
    click.echo(f"FlowDB schema ready in {db}")


def _token(data: DataDir, server_name: str, user: str, roles: dict | None, lifetime_minutes: int) -> str:
    from flowkit.auth.tokens import mint_token
    from flowkit.machine.catalogue import scope_universe

    private_key, _ = data.key_pair()
    roles = roles or {"all_scopes": scope_universe()}
    return mint_token(
        private_key, user=user, audience=server_name, roles=roles, lifetime=timedelta(minutes=lifetime_minutes)
    )


DEMO_EXAMPLE = """\
import flowclient
conn = flowclient.connect(url="{url}", token=TOKEN)
before = flowclient.modal_location_from_dates_spec(start_date="2016-01-27", end_date="2016-02-10", method="most-common", aggregation_unit="admin3")
counts = flowclient.spatial_aggregate(connection=conn, locations=before).get_result()
print(counts.sort_values("value", ascending=False).head())"""


@main.command()
@DATA_DIR
@click.option("--port", type=int, default=9090, show_default=True)
def demo(data_dir: Path, port: int) -> None:
    """Generate the demo country on first use, then serve it and print a token to try."""
    from flowkit.db.synthetic import SyntheticConfig

    data = DataDir(data_dir)
    if not data.flowdb_path.exists():
        click.echo("First run: generating the demo country (2016-01-01 to 2016-02-29, crisis on 2016-02-10)…")
        _synthesise(
            data,
            SyntheticConfig(start_date=date(2016, 1, 1), end_date=date(2016, 2, 29), crisis_date=date(2016, 2, 10)),
        )
    url = f"http://127.0.0.1:{port}"
    token = _token(data, DEFAULT_SERVER_NAME, "demo", None, 24 * 60)
    data.write_secret("demo-token.txt", token)  # read by docs/demo.ipynb
    click.echo(f"\nFlowAPI: {url}/api/0   (OpenAPI: {url}/api/0/spec/openapi.json)")
    click.echo(f'\nAn all-scopes token, valid 24 hours:\n\nTOKEN = "{token}"\n')
    click.echo("Try it in Python (pip install flowclient==1.34.0, or `uv run python` here):\n")
    click.echo(DEMO_EXAMPLE.format(url=url) + "\n")
    click.echo("Or the whole demo notebook: uv run --with jupyterlab jupyter lab docs/demo.ipynb\n")
    _serve(data, ServeOptions(port=port))


@main.group()
def cache() -> None:
    """The cache of stored results (run while no server holds the FlowDB)."""


def _machine(data_dir: Path, db: str | None = None):
    from flowkit.machine.queries import Machine

    return Machine(_open_flowdb(DataDir(data_dir), db), workers=1)


def _describe(record) -> str:
    return (
        f"{record.query_id}  {record.query_kind:<32} {record.size_bytes:>12,} B  "
        f"{record.compute_ms:>10.1f} ms  used {record.access_count:>4}×  score {record.score:.3g}"
    )


@cache.command("list")
@DATA_DIR
@DB
def cache_list(data_dir: Path, db: str | None) -> None:
    """Stored results, lowest score (first to go) first."""
    machine = _machine(data_dir, db)
    for record in machine.cache.records():
        click.echo(_describe(record))
    click.echo(f"{machine.cache.size():,} bytes of {machine.cache.setting('cache_size'):,.0f} allowed")


@cache.command("show")
@DATA_DIR
@DB
@click.argument("query_id")
def cache_show(data_dir: Path, db: str | None, query_id: str) -> None:
    """One stored result: its record, spec and dependencies."""
    record = _machine(data_dir, db).cache.get(query_id)
    if record is None:
        raise click.ClickException(f"no stored result with id {query_id}")
    click.echo(_describe(record))
    click.echo(f"created {record.created}, last used {record.last_accessed}")
    click.echo(f"depends on: {', '.join(record.dependencies) or 'nothing stored'}")
    click.echo(record.spec)


@cache.command("clear")
@DATA_DIR
@DB
def cache_clear(data_dir: Path, db: str | None) -> None:
    """Remove every stored result."""
    removed = _machine(data_dir, db).clear()
    click.echo(f"removed {len(removed)} stored results ({sum(r.size_bytes for r in removed):,} bytes)")


@cache.command("shrink")
@DATA_DIR
@DB
@click.option("--limit", type=int, help="Bytes to shrink to (default: the configured cache size).")
@click.option("--protected-seconds", type=float, help="Spare results younger than this (default: the setting).")
def cache_shrink(data_dir: Path, db: str | None, limit: int | None, protected_seconds: float | None) -> None:
    """Evict the lowest-scored results until the cache fits its limit."""
    machine = _machine(data_dir, db)
    for record in machine.shrink(limit, protected_seconds=protected_seconds):
        click.echo(f"evicted {_describe(record)}")
    click.echo(f"cache now {machine.cache.size():,} bytes")


if __name__ == "__main__":
    main()
