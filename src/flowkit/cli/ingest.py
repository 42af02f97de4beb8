"""`flowkit ingest` (FILE... now, or `watch DIR` as files arrive) and `flowkit keygen`: operator files into FlowDB, pseudonymised."""

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


MAPPING = click.option(
    "--mapping",
    "mapping_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML or YAML file mapping source columns, formats and time zone to FlowDB (docs/ingestion.md).",
)
KEY_FILE = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pseudonymisation key file (mode 0600, from `flowkit keygen`); default: $FLOWKIT_PSEUDONYMISATION_KEY.",
)
QUARANTINE_DIR = click.option(
    "--quarantine-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where rows that fail the checks go, one CSV per file (default: quarantine/ in --data-dir).",
)
FILES = "files"  # the command `flowkit ingest FILE...` runs


class _FilesByDefault(click.Group):
    """A group whose arguments go to its hidden `files` command unless the first names another
    command: `flowkit ingest FILE...` and `flowkit ingest watch DIR`. Its help shows the `files`
    command's options, then the other commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        named = bool(args) and (args[0] in ctx.help_option_names or (args[0] in self.commands and args[0] != FILES))
        return super().parse_args(ctx, args if named else [FILES, *args])

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for name in (FILES, *(n for n in self.list_commands(ctx) if n != FILES)):
            command = self.commands[name]
            path = ctx.command_path if name == FILES else f"{ctx.command_path} {name}"
            prefix = "Usage: " if name == FILES else "   or: "
            formatter.write_usage(path, " ".join(command.collect_usage_pieces(ctx)), prefix=prefix)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.commands[FILES].format_options(ctx, formatter)
        self.format_commands(ctx, formatter)


@click.group(cls=_FilesByDefault)
def ingest() -> None:
    """Load event files (calls, sms, mds, topups), cells, TACs and admin boundaries into the FlowDB.

    Each file loads whole or not at all, once (a file already loaded is skipped); rows that fail
    the checks go to a quarantine file. Subscriber identifiers are replaced by keyed pseudonyms.
    `flowkit ingest watch DIR` loads files as they are dropped into a folder (see its --help).
    """


@ingest.command(FILES, hidden=True)
@DATA_DIR
@DB
@MAPPING
@click.option(
    "--type",
    "kind",
    type=click.Choice(KINDS),
    help="What the files hold (default: the mapping section whose `files` glob matches each file's name).",
)
@KEY_FILE
@QUARANTINE_DIR
@click.option("--progress", is_flag=True, help="Report rows read as each batch is loaded (to stderr).")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def load_files(
    data_dir: Path,
    db: str | None,
    mapping_file: Path,
    kind: str | None,
    key_file: Path | None,
    quarantine_dir: Path | None,
    progress: bool,
    files: tuple[Path, ...],
) -> None:
    """Load FILES into the FlowDB (`flowkit ingest FILE...`: see `flowkit ingest --help`)."""
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


@ingest.command()
@DATA_DIR
@DB
@MAPPING
@KEY_FILE
@QUARANTINE_DIR
@click.option(
    "--archive",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where loaded (and already loaded) files go, in a folder per day (default: DIR/archive).",
)
@click.option(
    "--rejected",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where files that cannot be loaded go, each with <name>.error.txt (default: DIR/rejected).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Time between looks at DIR; a file is taken once unchanged over one interval.",
)
@click.option("--once", is_flag=True, help="Take the files in DIR now (two looks, one interval apart), then exit.")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
def watch(
    data_dir: Path,
    db: str | None,
    mapping_file: Path,
    key_file: Path | None,
    quarantine_dir: Path | None,
    archive: Path | None,
    rejected: Path | None,
    interval: float,
    once: bool,
    directory: Path,
) -> None:
    """Load files dropped into DIR as they arrive, then archive or reject them; one JSON log line per step.

    A file is taken once its size and time are unchanged over one interval (names starting with
    '.' or ending in .tmp or .part are left alone: copy under such a name, then rename). It is
    moved to DIR/processing/, loaded as `flowkit ingest` loads it (kind from the mapping's globs),
    then moved to the archive or, with the reason in <name>.error.txt, to the rejected folder.
    Files left in processing/ by a crash are loaded again first, exactly once. Runs until SIGTERM
    or SIGINT (the current file finishes first); with --once, exits 1 if an error was logged
    (an error that is not the file's fault leaves it waiting for the next run).
    """
    from flowkit.api.access_log import configure_logging
    from flowkit.ingest.mapping import load_mapping
    from flowkit.ingest.pseudonyms import load_key
    from flowkit.ingest.watch import Folders, Watcher

    try:
        mapping = load_mapping(mapping_file)
        events = any(getattr(mapping, kind) is not None for kind in EVENT_KINDS)
        pseudonymiser = load_key(key_file) if events else None
    except IngestError as error:
        raise click.ClickException(str(error)) from None
    configure_logging()
    watcher = Watcher(
        Folders.of(directory, archive, rejected),
        mapping,
        lambda: _open(data_dir, db),
        pseudonymiser=pseudonymiser,
        quarantine_dir=quarantine_dir or data_dir / "quarantine",
        on_loaded=after_load,
    )
    watcher.run(interval, once=once)
    if once and watcher.failed:
        raise click.exceptions.Exit(1)


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
