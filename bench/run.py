"""Benchmarks at scale (issue 7): the query workloads on a synthetic country of size S, M or L.

The country is generated once into bench/data/<SIZE>/flowdb.duckdb (`flowkit synth --size`, its
time and peak RSS kept beside it in generation.json) and reused while present. Then, for each
workload of bench/workloads.py, each in a fresh process:

- ours: the Machine (what the API runs) with an emptied cache: run every spec, wait, and fetch
  the rows as the API serves them (`redacted_rows`: the redaction rule applied, before JSON).
  Cold = that, timed from the first run() to the last rows in hand; warm = the same again at
  once, every part now served from the cache. Peak RSS = the worker process's maximum resident
  set (os.wait4), imports and DuckDB's buffers included.
- SQL: the workload's hand-written DuckDB SQL (bench/sql/<workload>.sql) on the same file, read
  only. Its answers must equal ours (floats to 1e-9 relative): a mismatch fails the benchmark.
- PostgreSQL: the same country loaded by `flowkit synth --size --db postgresql://...` (once;
  kept while the database holds it), the Machine run cold on it; its answers must equal ours.

Ours and the SQL run in interleaved rounds (3 by default, medians reported, every round kept in
the JSON), PostgreSQL once.

    uv run python bench/run.py --size S [--rounds 3] [--no-postgres] [--workloads demo ...]   (make bench SIZE=S)

Writes bench/results/<SIZE>-<date>.md and .json. On a shared machine, compare the ratios within
a report rather than times across reports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from report import markdown
from workloads import WORKLOADS, Workload

from flowkit.db.synthetic.config import SIZES

BENCH = Path(__file__).parent
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
TIMEOUT_SECONDS = 3 * 3600  # one workload on one backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["S", "M", "L"])
    parser.add_argument("--workloads", nargs="+", choices=[w.name for w in WORKLOADS], default=None)
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of ours and the SQL (medians)")
    parser.add_argument("--data", type=Path, default=BENCH / "data")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--worker", choices=["ours", "sql"], help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workloads = [w for w in WORKLOADS if args.workloads is None or w.name in args.workloads]
    if args.worker:
        return work(args.worker, workloads[0], args.target, args.result)
    if args.size is None:
        parser.error("--size is required")
    from ingest import machine as machine_facts

    facts = machine_facts()  # before the runs: the load average says what else the machine was doing
    directory = args.data / args.size
    country = ensure_country(args.size, directory)
    postgres = ensure_postgres(args.size, directory) if args.postgres else None
    runs = [run_workload(w, country["path"], postgres and postgres["url"], args.rounds) for w in workloads]
    report = {
        "date": date.today().isoformat(),
        "size": args.size,
        "machine": facts,
        "commit": commit(),
        "country": {k: v for k, v in country.items() if k != "path"},
        "postgres": postgres,
        "workloads": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{args.size}-{report['date']}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {stem}.md and .json")
    mismatched = [r["name"] for r in runs if not r["answers_equal"]]
    if mismatched:
        sys.exit(f"answers differ from the hand-written SQL or PostgreSQL: {', '.join(mismatched)}")


# -- the country --------------------------------------------------------------------------------


def ensure_country(size: str, directory: Path) -> dict:
    """The DuckDB country of `size`, generated unless present; with how its generation went."""
    path, record = directory / "flowdb.duckdb", directory / "generation.json"
    reused = path.exists() and record.exists()
    if not reused:
        directory.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        print(f"generating the {size} country into {path} ...", flush=True)
        seconds, rss = measured([*FLOWKIT, "synth", "--size", size, "--db", str(path)])
        record.write_text(json.dumps({"date": date.today().isoformat(), "seconds": seconds, "peak_rss_mib": rss}))
    generation = json.loads(record.read_text())
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        events = {t: con.execute(f"SELECT count(*) FROM events.{t}").fetchall()[0][0] for t in EVENT_TYPES}
    return {
        "path": path,
        "subscribers": SIZES[size],
        "events": events,
        "generation": generation | {"reused": reused},
        "file_mib": round(path.stat().st_size / 2**20),
    }


def ensure_postgres(size: str, directory: Path) -> dict:
    """The same country in a PostgreSQL FlowDB `bench_<size>`, loaded unless it holds it already."""
    import psycopg

    name = f"bench_{size.lower()}"
    url, record = f"{POSTGRES_SERVER}/{name}", directory / "postgres.json"
    reused = record.exists()
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not record.exists():  # a load that never finished
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            exists = None
        if not exists:
            record.unlink(missing_ok=True)
            admin.execute(f"CREATE DATABASE {name}")
    if not record.exists():
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        print(f"loading the {size} country into {url} ...", flush=True)
        seconds, rss = measured([*FLOWKIT, "synth", "--size", size, "--db", url])
        record.write_text(json.dumps({"date": date.today().isoformat(), "seconds": seconds, "peak_rss_mib": rss}))
    with psycopg.connect(url) as con:
        database_mib = con.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
    load = json.loads(record.read_text()) | {"reused": reused and record.exists()}
    return {"url": url, "load": load, "database_mib": round(database_mib)}


FLOWKIT = [sys.executable, "-m", "flowkit.cli"]
EVENT_TYPES = ("calls", "sms", "mds", "topups")


def commit() -> str:
    """The checkout measured: its commit, `-dirty` if it has uncommitted changes."""
    found = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=BENCH, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def measured(command: list[str], timeout: float | None = None) -> tuple[float, int]:
    """Run `command`; its wall time (s) and peak RSS (MiB). Raises if it fails or times out."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    deadline = None if timeout is None else started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise TimeoutError(f"{' '.join(command[:6])} ... took over {timeout:.0f} s")
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode})")
    return round(time.perf_counter() - started, 2), usage.ru_maxrss // 1024


# -- workloads ----------------------------------------------------------------------------------


def run_workload(workload: Workload, duckdb_path: Path, postgres_url: str | None, rounds: int) -> dict:
    """Ours and the SQL in interleaved rounds (a noisy spell on the shared machine hits both alike),
    medians reported; PostgreSQL once."""
    print(f"{workload.name} ...", flush=True)
    ours_runs, sql_runs = [], []
    for _ in range(rounds):
        ours_runs.append(in_worker("ours", workload, str(duckdb_path)))
        sql_runs.append(in_worker("sql", workload, str(duckdb_path)))
    answers = ours_runs[0]["results"]
    cold, warm, sql = (
        _median(runs, key) for runs, key in ((ours_runs, "cold_s"), (ours_runs, "warm_ms"), (sql_runs, "cold_s"))
    )
    run = {
        "name": workload.name,
        "what": workload.what,
        "rounds": rounds,
        "cold_s": cold,
        "cold_rounds": [r["cold_s"] for r in ours_runs],
        "warm_ms": warm,
        "warm_rounds": [r["warm_ms"] for r in ours_runs],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in ours_runs),
        "ready_rss_mib": ours_runs[0]["ready_rss_mib"],
        "parts": ours_runs[0]["parts"],
        "rows": [len(r["rows"]) for r in answers],
        "sql_s": sql,
        "sql_rounds": [r["cold_s"] for r in sql_runs],
        "sql_peak_rss_mib": max(r["peak_rss_mib"] for r in sql_runs),
        "ratio": round(cold / sql, 2),
        "ratio_rounds": [round(o["cold_s"] / q["cold_s"], 2) for o, q in zip(ours_runs, sql_runs, strict=True)],
        "sql_equal": all(same_answers(answers, r["results"]) for r in ours_runs[1:] + sql_runs),
    }
    if postgres_url is not None:
        try:
            postgres = in_worker("ours", workload, postgres_url)
        except (RuntimeError, TimeoutError) as error:
            run |= {"postgres_s": None, "postgres_error": str(error), "postgres_equal": None}
        else:
            equal = same_answers(answers, postgres["results"])
            run |= {"postgres_s": postgres["cold_s"], "postgres_warm_ms": postgres["warm_ms"], "postgres_equal": equal}
    run["answers_equal"] = run["sql_equal"] and run.get("postgres_equal") is not False
    print(f"  {json.dumps({k: v for k, v in run.items() if k != 'what'})}", flush=True)
    return run


def _median(runs: list[dict], key: str) -> float:
    return sorted(r[key] for r in runs)[len(runs) // 2]


def in_worker(mode: str, workload: Workload, target: str) -> dict:
    """Run one workload in a fresh process (this script with --worker); its report and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="flowkit-bench-") as scratch:
        result = Path(scratch) / "result.json"
        command = [sys.executable, __file__, "--worker", mode, "--workloads", workload.name]
        _, rss = measured([*command, "--target", target, "--result", str(result)], TIMEOUT_SECONDS)
        return json.loads(result.read_text()) | {"peak_rss_mib": rss}


def work(mode: str, workload: Workload, target: str, result: Path) -> None:
    """The worker: time the workload on `target` and write what it found to `result`."""
    timed = run_ours if mode == "ours" else run_sql
    report = timed(workload, target)
    result.write_text(json.dumps(report, default=_plain))


def _plain(value):
    from decimal import Decimal

    return float(value) if isinstance(value, Decimal) else str(value)


def run_ours(workload: Workload, target: str) -> dict:
    from flowkit.api.results import redacted_rows
    from flowkit.db import connect_flowdb
    from flowkit.machine.queries import Machine, QueryState, unique_parts

    db = connect_flowdb(target)
    machine = Machine(db)
    machine.clear()  # cold: nothing stored

    def answers() -> list[dict]:
        found = []
        for spec in workload.parsed():  # parsing is part of the request, as in POST /run
            query_id = machine.run(spec)
            while (state := machine.state(query_id)) in (QueryState.QUEUED, QueryState.EXECUTING):
                time.sleep(0.001)  # finer than Machine.wait's 20 ms, which would pad small workloads
            if state != QueryState.COMPLETED:
                raise RuntimeError(f"{spec.query_kind} {state}: {machine.error(query_id)}")
            columns, rows = redacted_rows(machine, query_id, spec)
            found.append({"columns": columns, "rows": rows})
        return found

    try:
        ready = rss_mib()
        started = time.perf_counter()
        cold = answers()
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = answers()
        warm_ms = (time.perf_counter() - started) * 1000
    finally:
        machine.close()
        db.close()
    if json.dumps(warm, default=str) != json.dumps(cold, default=str):
        raise RuntimeError("the warm answers differ from the cold ones")
    parts = {part.query_id for spec in workload.parsed() for part in unique_parts(spec)}
    return {
        "cold_s": round(cold_s, 3),
        "warm_ms": round(warm_ms, 1),
        "ready_rss_mib": ready,
        "parts": len(parts),
        "results": cold,
    }


def run_sql(workload: Workload, target: str) -> dict:
    import duckdb

    con = duckdb.connect(target, read_only=True)
    found = []
    try:
        started = time.perf_counter()
        if workload.name == "meaningful_locations_aggregate":
            con.register("admin3_edges", admin3_edges(con))
        for statement in workload.sql():
            cursor = con.execute(statement)
            if statement.upper().startswith(("SELECT", "WITH")):
                found.append({"columns": [d[0] for d in cursor.description], "rows": cursor.fetchall()})
        cold_s = time.perf_counter() - started
    finally:
        con.close()
    return {"cold_s": round(cold_s, 3), "results": found}


def admin3_edges(con):
    """Every edge of every ring of the admin3 boundaries, from their WKB (no spatial extension here)."""
    import numpy as np
    import pyarrow as pa
    import shapely

    rows = con.execute("SELECT gid, admin3pcod, geom FROM geography.admin3").fetchall()
    columns: dict[str, list] = {"gid": [], "pcod": [], "x1": [], "y1": [], "x2": [], "y2": []}
    for gid, pcod, wkb in rows:
        geometry = shapely.from_wkb(wkb)
        for polygon in getattr(geometry, "geoms", [geometry]):
            for ring in [polygon.exterior, *polygon.interiors]:
                xy = np.asarray(ring.coords)
                columns["gid"] += [gid] * (len(xy) - 1)
                columns["pcod"] += [pcod] * (len(xy) - 1)
                for name, values in zip(("x1", "y1", "x2", "y2"), (xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])):
                    columns[name] += values.tolist()
    return pa.table(columns)


def rss_mib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) // 1024


# -- answers ------------------------------------------------------------------------------------


def same_answers(ours: list[dict], theirs: list[dict]) -> bool:
    """Every result has the same rows (any order, columns matched by name; floats to 1e-9)."""
    if len(ours) != len(theirs):
        return False
    return all(_same_result(a, b) for a, b in zip(ours, theirs, strict=True))


def _same_result(ours: dict, theirs: dict) -> bool:
    if sorted(ours["columns"]) != sorted(theirs["columns"]):
        print(f"  columns differ: {ours['columns']} vs {theirs['columns']}", flush=True)
        return False
    order = [theirs["columns"].index(c) for c in ours["columns"]]
    mine = sorted((tuple(row) for row in ours["rows"]), key=_sort_key)
    other = sorted((tuple(row[i] for i in order) for row in theirs["rows"]), key=_sort_key)
    if len(mine) != len(other):
        print(f"  {len(mine)} rows vs {len(other)}", flush=True)
        return False
    for a, b in zip(mine, other, strict=True):
        if not all(_same_value(x, y) for x, y in zip(a, b, strict=True)):
            print(f"  first differing row: {a} vs {b}", flush=True)
            return False
    return True


def _same_value(x, y) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        return x is not None and y is not None and math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12)
    return str(x) == str(y) if x is not None and y is not None else x is y


def _sort_key(row: tuple) -> tuple:
    return tuple((value is None, round(value, 6) if isinstance(value, float) else str(value)) for value in row)


if __name__ == "__main__":
    sys.exit(main())
