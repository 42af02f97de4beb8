"""`flowkit cache`: inspect and trim stored results."""

from __future__ import annotations

from pathlib import Path

import click

from flowkit.cli.data import open_flowdb
from flowkit.cli.options import DATA_DIR, DB
from flowkit.data_dir import DataDir


@click.group()
def cache() -> None:
    """The cache of stored results (run while no server holds the FlowDB)."""


def _machine(data_dir: Path, db: str | None = None):
    from flowkit.machine.queries import Machine

    return Machine(open_flowdb(DataDir(data_dir), db), workers=1)


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
