"""The markdown report of bench/run.py: machine facts, the country, one row per workload, the targets."""

from __future__ import annotations

SQL_RATIO_TARGET = 2.0  # ours within 2x of the hand-written SQL
DEMO_COLD_TARGET_S = 30.0  # the seed demo at M, cold
DEMO_WARM_TARGET_MS = 50.0  # the seed demo, warm
MEMORY_TARGET_MIB = 24 * 1024  # L within 24 GB


def markdown(report: dict) -> str:
    m, c = report["machine"], report["country"]
    rounds = report["workloads"][0]["rounds"] if report["workloads"] else 1
    lines = [
        f"# Query benchmarks, size {report['size']}, {report['date']}",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"DuckDB {m['duckdb']}; {m['platform']}; load average at start {m['load_average']} "
        f"(a shared machine: other work ran beside the benchmark). Commit `{report['commit']}`.",
        *country_lines(report["size"], c, report.get("postgres")),
        f"- Command: `make bench SIZE={report['size']}` (`uv run python bench/run.py --size {report['size']}"
        f"{'' if rounds == 3 else f' --rounds {rounds}'}`). Every run in a fresh process; ours and the SQL in "
        f"{rounds} interleaved round{'s' if rounds > 1 else ''} (times: the median), PostgreSQL once, all "
        "on the same warm OS file cache.",
        "",
        "| workload | cold s | warm ms | peak RSS MiB | SQL s | ours / SQL | per round | PostgreSQL s | answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for run in report["workloads"]:
        lines.append(
            f"| {run['name']} | {run['cold_s']:,.2f} | {run['warm_ms']:,.0f} | {run['peak_rss_mib']:,} | "
            f"{run['sql_s']:,.2f} | {run['ratio']:.2f}× | {' / '.join(f'{r:.2f}' for r in run['ratio_rounds'])} | "
            f"{postgres_cell(run)} | {answers_cell(run)} |"
        )
    lines += [
        "",
        "What each workload asks (as POSTed to /run; specs in `bench/workloads.py`, SQL in `bench/sql/`):",
        "",
    ]
    lines += [f"- **{run['name']}**: {run['what']} ({parts(run)})." for run in report["workloads"]]
    lines += ["", "## Targets (issue 7)", "", *target_lines(report), ""]
    lines += [
        "## How it is measured",
        "",
        "- **cold**: a fresh process, the cache emptied (`Machine.clear()`), then every spec of the workload run "
        "through the `Machine` as the API runs it (`run`, wait for completed, `redacted_rows`: the redaction rule "
        "applied, rows in Python before JSON encoding), from the first `run` to the last rows in hand. Parts "
        "shared between a workload's queries (the demo's daily and modal locations) are computed once and reused.",
        "- **warm**: the same specs again in the same process: every result served from the cache.",
        "- **ours / SQL**: the ratio of the medians; *per round*: each round's ratio (the two ran one after the other).",
        "- **peak RSS**: the worker process's maximum resident set (`os.wait4`), imports (about "
        f"{min(r['ready_rss_mib'] for r in report['workloads'])}-{max(r['ready_rss_mib'] for r in report['workloads'])} "
        "MiB before the first query) and DuckDB's buffers included.",
        "- **SQL**: the hand-written DuckDB SQL for the same answers, in a fresh read-only process on the same "
        "file; written independently of our Ibis code from the semantics in docs/semantics.md. Its rows must equal "
        "ours (floats to 1e-9 relative), or the benchmark fails.",
        "- **PostgreSQL**: the same cold run of ours on the PostgreSQL FlowDB; its rows must equal the DuckDB ones.",
    ]
    return "\n".join(lines) + "\n"


def country_lines(size: str, country: dict, postgres: dict | None) -> list[str]:
    events, generation = country["events"], country["generation"]
    made = "reused; its generation" if generation["reused"] else "generated in this run:"
    lines = [
        f"- Data: `flowkit synth --size {size}`: {country['subscribers']:,} subscribers, 2016-01-01..2016-01-30, "
        f"crisis on 2016-01-16; {sum(events.values()):,} events ("
        + ", ".join(f"{t} {n:,}" for t, n in events.items())
        + f"); DuckDB file {country['file_mib']:,} MiB, {made} took {generation['seconds']:,.0f} s "
        f"with a peak RSS of {generation['peak_rss_mib']:,} MiB (the generator holds one day at a time; the rest "
        "is DuckDB's cache of the blocks written, see the README)."
    ]
    if postgres is None:
        lines.append("- PostgreSQL: not run at this size (`--no-postgres`).")
    else:
        load = postgres["load"]
        lines.append(
            f"- PostgreSQL 15 + PostGIS on this machine, `{postgres['url']}`: "
            f"{'reused; it was ' if load.get('reused') else ''}loaded by "
            f"`flowkit synth --size {size} --db URL` in {load['seconds']:,.0f} s (peak RSS {load['peak_rss_mib']:,} "
            f"MiB), database {postgres['database_mib']:,} MiB."
        )
    return lines


def postgres_cell(run: dict) -> str:
    if "postgres_s" not in run:
        return "–"
    if run["postgres_s"] is None:
        return f"failed: {run['postgres_error'][:60]}"
    return f"{run['postgres_s']:,.2f}"


def answers_cell(run: dict) -> str:
    found = ["SQL " + ("equal" if run["sql_equal"] else "**DIFFER**")]
    if run.get("postgres_equal") is not None:
        found.append("PostgreSQL " + ("equal" if run["postgres_equal"] else "**DIFFER**"))
    return ", ".join(found)


def parts(run: dict) -> str:
    rows = " + ".join(f"{n:,}" for n in run["rows"])
    return f"{run['parts']} stored parts, {rows} rows served"


def target_lines(report: dict) -> list[str]:
    runs, size = report["workloads"], report["size"]
    lines = []
    for run in runs:
        verdict = "PASS" if run["ratio"] <= SQL_RATIO_TARGET else "MISS"
        lines.append(
            f"- Within {SQL_RATIO_TARGET:g}× of the hand-written SQL, {run['name']}: **{verdict}** "
            f"({run['ratio']:.2f}×: {run['cold_s']:,.2f} s vs {run['sql_s']:,.2f} s; rounds "
            f"{' / '.join(f'{r:.2f}×' for r in run['ratio_rounds'])})."
        )
    demo = next((r for r in runs if r["name"] == "demo"), None)
    if demo is not None:
        cold, warm = demo["cold_s"], demo["warm_ms"]
        scope = "" if size == "M" else f" (the target is set at M; measured here at {size})"
        verdict = _verdict(cold <= DEMO_COLD_TARGET_S, size == "M")
        lines.append(
            f"- Seed demo cold under {DEMO_COLD_TARGET_S:g} s at M: **{verdict}** "
            f"({cold:,.1f} s, {cold / DEMO_COLD_TARGET_S:.2f}× the bound){scope}."
        )
        verdict = _verdict(warm <= DEMO_WARM_TARGET_MS, size == "M")
        lines.append(
            f"- Seed demo warm re-run under {DEMO_WARM_TARGET_MS:g} ms: **{verdict}** "
            f"({warm:,.0f} ms, {warm / DEMO_WARM_TARGET_MS:.2f}× the bound){scope}."
        )
    peak = max(r["peak_rss_mib"] for r in runs)
    if size == "L":
        verdict = "PASS" if peak <= MEMORY_TARGET_MIB else "MISS"
        lines.append(f"- L completes every workload within 24 GB: **{verdict}** (largest peak RSS {peak:,} MiB).")
    else:
        lines.append(f"- L within 24 GB: not measured at {size} (largest peak RSS here {peak:,} MiB).")
    lines.append("- Poll p50 under 5 ms with 50 clients: measured by `make bench-api` (bench/api_latency.py).")
    return lines


def _verdict(passed: bool, applies: bool) -> str:
    word = "PASS" if passed else "MISS"
    return word if applies else f"{word} at this size"
