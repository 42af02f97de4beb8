"""`flowkit ingest` and `flowkit keygen`: operator files into FlowDB, pseudonymised."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from flowkit.cli.options import DATA_DIR, DB
from flowkit.ingest.errors import IngestError
from flowkit.ingest.mapping import KINDS

EVENT_KINDS = ("calls", "sms", "mds", "topups")


def after_load(db, cdr_type: str, dates: list[date]) -> None:
    """Runs once an event file's rows are committed, with the dates it loaded: FlowETL's QA
    checks for those dates (stored in etl.post_etl_queries)."""
    from flowkit.ingest.qa import run_checks

    run_checks(db, cdr_type, dates)


@click.command()
@DATA_DIR
@DB
@click.option(
    "--mapping",
    "mapping_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML or YAML file mapping source columns, formats and time zone to FlowDB (docs/ingestion.md).",
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(KINDS),
    help="What the files hold (default: the mapping section whose `files` glob matches each file's name).",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pseudonymisation key file (mode 0600, from `flowkit keygen`); default: $FLOWKIT_PSEUDONYMISATION_KEY.",
)
@click.option(
    "--quarantine-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where rows that fail the checks go, one CSV per file (default: quarantine/ in --data-dir).",
)
@click.option("--progress", is_flag=True, help="Report rows read as each batch is loaded (to stderr).")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def ingest(
    data_dir: Path,
    db: str | None,
    mapping_file: Path,
    kind: str | None,
    key_file: Path | None,
    quarantine_dir: Path | None,
    progress: bool,
    files: tuple[Path, ...],
) -> None:
    """Load event files (calls, sms, mds, topups), cells, TACs and admin boundaries into the FlowDB.

    Each file loads whole or not at all, once (a file already loaded is skipped); rows that fail
    the checks go to a quarantine file. Subscriber identifiers are replaced by keyed pseudonyms.
    """
    from flowkit.ingest.load import ingest_file
    from flowkit.ingest.mapping import load_mapping
    from flowkit.ingest.pseudonyms import load_key

    try:
        mapping = load_mapping(mapping_file)
        kinds = [kind or mapping.kind_of(path) for path in files]
        pseudonymiser = load_key(key_file) if any(k in EVENT_KINDS for k in kinds) else None
    except IngestError as error:
        raise click.ClickException(str(error)) from None
    quarantine_dir = quarantine_dir or data_dir / "quarantine"
    try:
        flowdb = _open(data_dir, db)
    except Exception as error:  # duckdb.IOException (held by a server), psycopg.OperationalError, ...
        raise click.ClickException(f"cannot open the FlowDB: {error}") from None
    failed = 0
    try:
        for path, file_kind in zip(files, kinds):
            report = _progress(path) if progress else None
            try:
                outcome = ingest_file(
                    flowdb,
                    path,
                    file_kind,
                    mapping,
                    pseudonymiser=pseudonymiser,
                    quarantine_dir=quarantine_dir,
                    on_loaded=after_load,
                    progress=report,
                )
            except IngestError as error:
                failed += 1
                click.echo(f"Error: {error}", err=True)
                continue
            click.echo(_describe(outcome))
    finally:
        flowdb.close()
    if failed:
        raise click.exceptions.Exit(1)


def _open(data_dir: Path, target: str | None):
    from flowkit.db import connect_flowdb, is_postgres_url

    if target is not None and is_postgres_url(target):
        return connect_flowdb(target)
    path = Path(target) if target is not None else data_dir / "flowdb.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return connect_flowdb(path)


def _progress(path: Path):
    def report(rows: int) -> None:
        click.echo(f"{path.name}: {rows:,} rows read", err=True)

    return report


def _describe(outcome) -> str:
    name = outcome.file.name
    if outcome.status == "already loaded":
        return f"{name}: already loaded ({outcome.kind}, {outcome.rows_loaded:,} rows); nothing to do"
    text = f"{name}: loaded {outcome.rows_loaded:,} rows of {outcome.kind}"
    if outcome.dates:
        first, last = outcome.dates[0], outcome.dates[-1]
        text += f" ({first}{f' to {last}' if last != first else ''})"
    if outcome.existing_dates:
        text += f"; {outcome.policy} on {', '.join(map(str, outcome.existing_dates))}, which already held rows"
    text += f", quarantined {outcome.rows_quarantined:,}"
    if outcome.quarantine is not None:
        text += f" ({outcome.quarantine})"
    return text


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def keygen(file: Path) -> None:
    """Write a new pseudonymisation key to FILE (32 random bytes as hex, mode 0600).

    Keep it apart from the data and keep it safe: the same key gives the same pseudonyms across
    files and runs; a new key gives new ones.
    """
    from flowkit.ingest.pseudonyms import write_key_file

    try:
        write_key_file(file)
    except IngestError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote a new pseudonymisation key to {file} (mode 0600)")


__all__ = ["after_load", "ingest", "keygen"]
