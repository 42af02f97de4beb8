"""`flowkit synth` and `flowkit db`: make a FlowDB."""

from __future__ import annotations

import time
from pathlib import Path

import click

from flowkit.cli.options import DATA_DIR, DB
from flowkit.data_dir import DataDir


@click.command()
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
@click.option(
    "--size",
    type=click.Choice(["S", "M", "L"]),
    help="A benchmark country instead of the demo's: S, M, L = 10k, 100k, 1M subscribers over "
    "2016-01-01..2016-01-30, crisis on 2016-01-16 (about 7 events per subscriber a day).",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the country as an operator's raw export into this new directory (event files per day, "
    "cells, TACs, boundaries and mapping.toml, for `flowkit ingest`) instead of into a FlowDB.",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "csv.gz", "parquet"]),
    default="csv.gz",
    show_default=True,
    help="The event files' format, with --export.",
)
def synth(
    data_dir: Path,
    db: str | None,
    subscribers: int,
    seed: int,
    start_date,
    end_date,
    crisis_date,
    size: str | None,
    export_dir: Path | None,
    export_format: str,
) -> None:
    """Generate a synthetic country into a new FlowDB (or an empty PostgreSQL one), or as an export.

    QA checks are not computed here (about 30 % more time for the demo): `flowkit qa --run`.
    An export holds raw MSISDNs: `flowkit ingest --mapping DIR/mapping.toml` pseudonymises them."""
    from flowkit.db.synthetic import SyntheticConfig
    from flowkit.db.synthetic.config import sized

    if size is not None:
        context = click.get_current_context()
        given = [
            f"--{name.replace('_', '-')}"
            for name in ("subscribers", "start_date", "end_date", "crisis_date")
            if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
        ]
        if given:
            raise click.UsageError(f"--size sets the subscribers and dates: give --size or {', '.join(given)}")
        config = sized(size, seed)
    else:
        config = SyntheticConfig(
            seed=seed,
            subscribers=subscribers,
            start_date=start_date.date(),
            end_date=end_date.date(),
            crisis_date=crisis_date.date(),
        )
    if export_dir is not None:
        if db is not None:
            raise click.UsageError("--export writes files, not a FlowDB: give --export or --db, not both")
        write_export(export_dir, config, export_format)
    else:
        synthesise(DataDir(data_dir), config, db)


def write_export(directory: Path, config, export_format: str = "csv.gz") -> dict:
    from flowkit.db.synthetic.export import export

    started = time.perf_counter()
    try:
        summary = export(directory, config, fmt=export_format)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    events = sum(summary["rows"].values())
    click.echo(
        f"Operator export written to {directory} in {time.perf_counter() - started:.0f} s: {events:,} events, "
        f"files {summary['files']}; load it with `flowkit ingest --mapping {directory / 'mapping.toml'}`"
    )
    return summary


def synthesise(data: DataDir, config, target: str | None = None) -> None:
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
    # DuckDB keeps the blocks it writes cached up to its memory limit (80 % of RAM by default), about
    # 50 MiB a day at --size M: a cap keeps generation's memory bounded whatever the size.
    db.execute("SET memory_limit = '2GB'")
    summary = generate(db, config)
    db.close()
    partial.rename(path)  # a half-made FlowDB never looks complete
    click.echo(f"Synthetic country written to {path} in {time.perf_counter() - started:.0f} s: {summary}")


def open_flowdb(data: DataDir, target: str | None):
    """The FlowDB `--db` names (a PostgreSQL URL or a DuckDB file), else the data dir's; it must exist."""
    from flowkit.db import connect_flowdb, is_postgres_url

    if target is not None and is_postgres_url(target):
        return connect_flowdb(target)
    path = Path(target) if target is not None else data.flowdb_path
    if not path.exists():
        raise click.ClickException(f"no FlowDB at {path}; run `flowkit synth --data-dir {data.root}` first")
    return connect_flowdb(path)


@click.group("db")
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


def synthesise_via_export(data: DataDir, config) -> None:
    """The operator's path to a FlowDB: export the country (once) to the data dir's export/, make a
    pseudonymisation key (once), and ingest every file as `flowkit ingest` does, QA included."""
    import shutil

    from flowkit.db import FlowDB
    from flowkit.ingest.pseudonyms import write_key_file

    if not (data.export_dir / "mapping.toml").exists():  # written last: without it, the export is partial
        shutil.rmtree(data.export_dir, ignore_errors=True)
        write_export(data.export_dir, config)
    if not data.pseudonymisation_key.exists():
        write_key_file(data.pseudonymisation_key)
        click.echo(f"Made a pseudonymisation key: {data.pseudonymisation_key} (keep it apart from the data)")
    partial = data.flowdb_path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = FlowDB(partial)
    try:
        ingest_export(db, data.export_dir, data.pseudonymisation_key, data.quarantine_dir)
    finally:
        db.close()
    partial.rename(data.flowdb_path)  # a half-loaded FlowDB never looks complete


def ingest_export(db, directory: Path, key_file: Path, quarantine_dir: Path, *, echo=click.echo) -> dict[str, int]:
    """Ingest an export's files in load order, with the functions `flowkit ingest` runs (its QA
    hook included), reporting each local day; returns the rows loaded per kind."""
    from flowkit.cli.ingest import after_load
    from flowkit.db.schema import EVENT_TYPES
    from flowkit.db.synthetic.export import file_day, load_order
    from flowkit.ingest.errors import IngestError
    from flowkit.ingest.load import ingest_file
    from flowkit.ingest.mapping import load_mapping
    from flowkit.ingest.pseudonyms import load_key

    started = time.perf_counter()
    rows: dict[str, int] = {}
    try:
        mapping = load_mapping(directory / "mapping.toml")
        pseudonymiser = load_key(key_file)
        files = load_order(directory)
        for number, path in enumerate(files):
            kind = mapping.kind_of(path)
            outcome = ingest_file(
                db,
                path,
                kind,
                mapping,
                pseudonymiser=pseudonymiser,
                quarantine_dir=quarantine_dir,
                on_loaded=after_load,
            )
            rows[kind] = rows.get(kind, 0) + outcome.rows_loaded
            if kind in EVENT_TYPES and (number + 1 == len(files) or file_day(files[number + 1]) != file_day(path)):
                echo(f"  ingested the files of {file_day(path)} ({number + 1}/{len(files)})")
    except IngestError as error:
        raise click.ClickException(str(error)) from None
    seconds = time.perf_counter() - started
    total = sum(rows.get(kind, 0) for kind in EVENT_TYPES)
    echo(f"Ingested {total:,} events in {seconds:.0f} s ({total / max(seconds, 1e-9):,.0f} events/s), pseudonymised")
    return rows
