"""`flowkit qa`: FlowETL's QA check outcomes, shown or (re)computed."""

from __future__ import annotations

import time
from pathlib import Path

import click

from flowkit.cli.data import open_flowdb
from flowkit.cli.options import DATA_DIR, DB
from flowkit.data_dir import DataDir
from flowkit.db.schema import EVENT_TYPES

_DAY = click.DateTime(["%Y-%m-%d"])


@click.command()
@DATA_DIR
@DB
@click.option("--type", "cdr_type", type=click.Choice(EVENT_TYPES), help="Only this event type.")
@click.option("--date", "day", type=_DAY, help="Only this date.")
@click.option("--start", type=_DAY, help="First date (inclusive).")
@click.option("--end", type=_DAY, help="Last date (inclusive).")
@click.option("--run", is_flag=True, help="(Re)compute the checks for every ingested date first (within the filters).")
def qa(data_dir: Path, db: str | None, cdr_type: str | None, day, start, end, run: bool) -> None:
    """The stored outcomes of FlowETL's QA checks on ingested dates, as a table.

    With --run, compute them first (run while no server holds a DuckDB FlowDB)."""
    from flowkit.ingest import qa as checks

    if day is not None and (start is not None or end is not None):
        raise click.UsageError("give --date, or --start/--end, not both")
    first, last = (day.date(), day.date()) if day is not None else (start and start.date(), end and end.date())
    flowdb = open_flowdb(DataDir(data_dir), db)
    try:
        types = [cdr_type] if cdr_type else None
        if run:
            started = time.perf_counter()
            stored = checks.run_all(flowdb, types, first, last)
            click.echo(f"computed {stored} outcomes in {time.perf_counter() - started:.1f} s")
        rows = checks.outcomes(flowdb, cdr_type, None, first, last)
    finally:
        flowdb.close()
    if not rows:
        click.echo("no QA outcomes stored for these dates; compute them with `flowkit qa --run`")
        return
    click.echo(_table(rows))


def _table(rows: list[dict]) -> str:
    columns = ("cdr_date", "cdr_type", "type_of_query_or_check", "outcome")
    cells = [columns] + [tuple("NULL" if row[c] is None else row[c] for c in columns) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in cells)
