"""Options several `flowkit` commands share."""

from __future__ import annotations

from pathlib import Path

import click

from flowkit.data_dir import DEFAULT_SERVER_NAME

DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="The deployment's directory: FlowDB file, token keys, FlowAuth's store and secrets.",
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
