"""Ingestion throughput: events per second into a FlowDB file, per source format.

The synthetic country is exported as an operator would hand it over (`flowkit synth --export`)
once per format (CSV, gzip CSV, Parquet), then every file is loaded into a fresh on-disk FlowDB
with the functions `flowkit ingest` runs: every row checked, identifiers pseudonymised by keyed
HMAC-SHA256, each file in one transaction with its ledger record, and the QA checks run after
each file on the dates it loaded (the CLI's `after_load` hook). One more run of gzip CSV without
QA shows what QA costs. All runs happen in one process, in interleaved rounds (3 by default,
the median reported), so their ratios compare like with like.

    uv run python bench/ingest.py [--subscribers 20000 --days 10]   (make bench-ingest)

Writes bench/results/ingest-<date>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from flowkit.cli.ingest import after_load
from flowkit.db import FlowDB
from flowkit.db.schema import EVENT_TYPES
from flowkit.db.synthetic import SyntheticConfig
from flowkit.db.synthetic.export import FORMATS, export, load_order
from flowkit.ingest.load import ingest_file
from flowkit.ingest.mapping import load_mapping
from flowkit.ingest.pseudonyms import Pseudonymiser, new_key

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=10, help="days of events (about 7 events per subscriber a day)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every variant; the median is reported")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start = date(2016, 1, 1)
    config = SyntheticConfig(
        subscribers=args.subscribers,
        start_date=start,
        end_date=start + timedelta(days=args.days - 1),
        crisis_date=start + timedelta(days=args.days // 2) if args.days > 1 else None,
    )
    facts = machine()  # before the runs: the load average says what else the machine was doing
    variants = [(fmt, True) for fmt in args.formats] + ([("csv.gz", False)] if "csv.gz" in args.formats else [])
    with tempfile.TemporaryDirectory(prefix="flowkit-bench-") as scratch:
        exports = {fmt: _export(Path(scratch) / f"export-{fmt.replace('.', '-')}", config, fmt) for fmt in args.formats}
        rounds = [  # interleaved, so that a noisy spell on a shared machine hits every variant alike
            [
                _ingest(exports[fmt], Path(scratch) / f"flowdb-{r}-{i}.duckdb", qa)
                for i, (fmt, qa) in enumerate(variants)
            ]
            for r in range(args.repeats)
        ]
    runs = [_median(list(same)) for same in zip(*rounds, strict=True)]
    baseline = next((r for r in runs if r["format"] == "csv" and r["qa"]), runs[0])
    for run in runs:
        run["relative_to_csv"] = round(run["events_per_second"] / baseline["events_per_second"], 2)
    report = {
        "date": date.today().isoformat(),
        "machine": facts,
        "config": {"subscribers": config.subscribers, "days": len(config.days), "seed": config.seed},
        "repeats": args.repeats,
        "exports": {fmt: {k: v for k, v in e.items() if k != "directory"} for fmt, e in exports.items()},
        "runs": runs,
    }
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"ingest-{report['date']}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {stem}.md and .json")


def _export(directory: Path, config: SyntheticConfig, fmt: str) -> dict:
    started = time.perf_counter()
    summary = export(directory, config, fmt=fmt)
    seconds = time.perf_counter() - started
    files = [p for p in directory.rglob("*") if p.is_file()]
    event_files = [p for p in files if p.parent.name in EVENT_TYPES]
    return {
        "directory": directory,
        "seconds": round(seconds, 1),
        "events": sum(summary["rows"].values()),
        "event_files": len(event_files),
        "event_bytes": sum(p.stat().st_size for p in event_files),
    }


def _ingest(exported: dict, path: Path, qa: bool) -> dict:
    """Load one export into a new FlowDB file: reference files first, then event files, timed apart."""
    directory = exported["directory"]
    fmt = next(p for p in directory.rglob("*") if p.parent.name == "calls").name.split(".", 1)[1]
    mapping = load_mapping(directory / "mapping.toml")
    pseudonymiser = Pseudonymiser(bytes.fromhex(new_key()))
    db = FlowDB(path)
    seconds = {"reference": 0.0, "events": 0.0}
    events = quarantined = 0
    try:
        for file in load_order(directory):
            kind = mapping.kind_of(file)
            started = time.perf_counter()
            outcome = ingest_file(
                db,
                file,
                kind,
                mapping,
                pseudonymiser=pseudonymiser,
                quarantine_dir=path.parent / "quarantine",
                on_loaded=after_load if qa else None,
            )
            seconds["events" if kind in EVENT_TYPES else "reference"] += time.perf_counter() - started
            quarantined += outcome.rows_quarantined
            events += outcome.rows_loaded if kind in EVENT_TYPES else 0
        qa_rows = db.execute("SELECT count(*) FROM etl.post_etl_queries").fetchall()[0][0]
    finally:
        db.close()
    assert events == exported["events"] and not quarantined, (events, exported["events"], quarantined)
    assert bool(qa_rows) == qa, f"QA {'on' if qa else 'off'} but {qa_rows} outcomes stored"
    return {
        "format": fmt,
        "qa": qa,
        "qa_rows_stored": qa_rows,
        "events": events,
        "event_seconds": round(seconds["events"], 2),
        "reference_seconds": round(seconds["reference"], 2),
        "events_per_second": round(events / seconds["events"]),
        "flowdb_mib": round(path.stat().st_size / 2**20, 1),
    }


def _median(runs: list[dict]) -> dict:
    """The run of median throughput, with every round's throughput beside it."""
    ordered = sorted(runs, key=lambda run: run["events_per_second"])
    return ordered[len(ordered) // 2] | {"events_per_second_rounds": [run["events_per_second"] for run in runs]}


def machine() -> dict:
    memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    return {
        "cores": os.cpu_count(),
        "cpu": cpu[0].split(":", 1)[1].strip() if cpu else platform.processor(),
        "ram_gib": round(int(memory.split()[1]) / 2**20, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
        "platform": platform.platform(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def markdown(report: dict) -> str:
    m, c = report["machine"], report["config"]
    lines = [
        f"# Ingestion throughput, {report['date']}",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"DuckDB {m['duckdb']}, PyArrow {m['pyarrow']}; {m['platform']}; load average at start "
        f"{m['load_average']} (a shared machine: other work ran beside the benchmark).",
        f"- Data: `flowkit synth --export` of {c['subscribers']:,} subscribers over {c['days']} days (seed {c['seed']}), "
        "one file per event type per local day (UTC+3), loaded into a fresh FlowDB file with the functions "
        "`flowkit ingest` runs: every row checked, MSISDN/IMSI/IMEI pseudonymised (HMAC-SHA256), one "
        "transaction per file; QA = the 24 FlowETL checks after each file on the dates it loaded.",
        f"- Command: `make bench-ingest` (`uv run python bench/ingest.py`). Peak RSS {report['peak_rss_mib']:,} MiB.",
        "",
        f"| format | QA | events | event files (MB) | ingest s | events/s (median of {report['repeats']}) | rounds | vs CSV |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for run in report["runs"]:
        e = report["exports"][run["format"]]
        lines.append(
            f"| {run['format']} | {'on' if run['qa'] else 'off'} | {run['events']:,} | "
            f"{e['event_files']} ({e['event_bytes'] / 1e6:,.1f}) | {run['event_seconds']:,.1f} | "
            f"{run['events_per_second']:,} | {' / '.join(f'{n:,}' for n in run['events_per_second_rounds'])} | "
            f"{run['relative_to_csv']:.2f}× |"
        )
    lines += ["", "- Reference files (boundaries, cells, TACs) took apart: "]
    lines[-1] += ", ".join(f"{r['format']} {r['reference_seconds']:.1f} s" for r in report["runs"] if r["qa"]) + "."
    lines += ["- Export (writing the files): "]
    lines[-1] += ", ".join(f"{fmt} {e['seconds']:.0f} s" for fmt, e in report["exports"].items()) + "."
    qa = next((r for r in report["runs"] if r["qa"]), None)
    if qa is not None:
        lines += [
            f"- QA outcomes stored per run: {qa['qa_rows_stored']:,} (each file's dates; a local day's file touches two)."
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
