"""The `flowkit` command: make data, serve the API and FlowAuth, mint tokens, run the demo."""

from __future__ import annotations

import click

from flowkit.cli import auth, cache, data, demo, ingest, qa, serve


@click.group()
def main() -> None:
    """FlowKit: CDR analytics that only lets anonymous aggregates out."""


for command in (
    data.synth,
    data.db_group,
    serve.serve,
    serve.token,
    demo.demo,
    cache.cache,
    auth.auth,
    qa.qa,
    ingest.ingest,
    ingest.keygen,
):
    main.add_command(command)

__all__ = ["main"]
