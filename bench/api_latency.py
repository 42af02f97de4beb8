"""API overhead: latency of poll and get under 50 concurrent clients, against `flowkit serve` as deployed.

A small synthetic country is generated into a temporary data dir (`flowkit synth`), `flowkit serve`
is started on it in a subprocess (its access log going to a file, as a log shipper would take it),
one query is run to completion with a token from `flowkit token`, then `wrk` (Debian's, an
HTTP load tool in C) keeps 50 connections busy on

- GET /api/0/poll/<id>  (a completed query: 303 to its result),
- GET /api/0/poll/<id>  of a query still queued (a dummy_query with a delay: 202 and its progress), and
- GET /api/0/get/<id>   (the result as JSON; /get/<id>.json is the same handler and response),

once with query states in the server process and once in Redis (`--redis-url`; the benchmark
starts its own redis-server on a free port). Each measurement is a closed loop: every connection
sends its next request as soon as the last is answered, so the server is saturated and, by
Little's law, median latency is about connections / throughput. A paced run (every connection
polling every 100 ms, still 50 clients) shows the latency clients see when the server is not
saturated. wrk runs on the same cores as the server: its CPU time is taken from the server's.

With `--build LABEL=PATHS` (repeatable) the server is also run with PATHS put ahead on its
PYTHONPATH and measured in the same rounds, interleaved, under the same conditions: the `src` of
another checkout (e.g. `git archive <commit> src`) gives the before/after of a change; a
site-packages holding uvloop and httptools shows what uvicorn's fast loop and parser would give.

    uv run python bench/api_latency.py [--duration 15 --connections 50]   (make bench-api)

Writes bench/results/api-<date>.md and .json. Target (issue 7): poll p50 under 5 ms with 50
concurrent clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

RESULTS = Path(__file__).parent / "results"
TARGET_POLL_P50_MS = 5.0
SPEC = {  # the demo's kind of question: where people usually were over the week, per admin3
    "query_kind": "spatial_aggregate",
    "locations": {
        "query_kind": "modal_location",
        "locations": [
            {"query_kind": "daily_location", "date": f"2016-01-0{day}", "aggregation_unit": "admin3", "method": "last"}
            for day in range(1, 8)
        ],
    },
}
QUEUED = {  # stays queued for the whole run (a test aid of the catalogue): poll answers 202 with progress
    "query_kind": "dummy_query",
    "aggregation_unit": "admin3",
    "dummy_param": "bench",
    "dummy_delay": 3600,
}
PACE_MS = 100
PACED = f"function delay()\n  return {PACE_MS}\nend\n"  # wrk waits this long before a connection's next request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk measurement")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each measurement, not reported")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--states", nargs="+", choices=["local", "redis"], default=["local", "redis"])
    parser.add_argument(
        "--build",
        action="append",
        default=[],
        metavar="LABEL=PATHS",
        help="also measure the server with PATHS (os.pathsep-separated) ahead on its PYTHONPATH",
    )
    parser.add_argument("--label", default="this checkout", help="name of this checkout's build in the report")
    parser.add_argument("--rounds", type=int, default=1, help="rounds over every build (interleaved); median shown")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk not found: apt-get install -y wrk (make bench-api installs it)")
    if "redis" in args.states and shutil.which("redis-server") is None:
        sys.exit("redis-server not found: apt-get install -y redis-server, or --states local")
    builds: dict[str, str | None] = {}
    for build in args.build:
        label, sep, paths = build.partition("=")
        if not sep or not label or not paths:
            parser.error(f"--build {build!r}: expected LABEL=PATHS")
        builds[label] = os.pathsep.join(str(Path(path).resolve()) for path in paths.split(os.pathsep))
    builds[args.label] = None
    facts = machine(wrk)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="flowkit-bench-api-") as scratch:
        data_dir = Path(scratch) / "data"
        started = time.perf_counter()
        flowkit(
            "synth", "--data-dir", str(data_dir), "--subscribers", str(args.subscribers),
            "--start-date", "2016-01-01", "--end-date", "2016-01-07", "--crisis-date", "2016-01-04",
        )  # fmt: skip
        synth_seconds = round(time.perf_counter() - started, 1)
        token = flowkit("token", "--data-dir", str(data_dir), "--user", "bench", "--all-scopes").strip()
        for round_ in range(args.rounds):
            for states in args.states:
                for label, src in builds.items():
                    print(f"round {round_ + 1}: {label}, {states} states", flush=True)
                    runs += measure(args, wrk, Path(scratch), data_dir, token, states, label, src)
    report = {
        "date": date.today().isoformat(),
        "machine": facts,
        "config": {
            "subscribers": args.subscribers,
            "days": 7,
            "synth_seconds": synth_seconds,
            "spec": SPEC,
            "wrk": f"-c{args.connections} -t{args.threads} -d{args.duration}s --latency --timeout 10s",
            "warmup_seconds": args.warmup,
            "paced_ms": PACE_MS,
            "rounds": args.rounds,
            "builds": {label: server_stack(src) for label, src in builds.items()},
        },
        "results": summarise(runs),
        "runs": runs,
    }
    report["target"] = verdict(report["results"], args.label)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"api-{report['date']}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {stem}.md and .json")


def flowkit(*arguments: str, env: dict | None = None) -> str:
    command = [sys.executable, "-m", "flowkit.cli", *arguments]
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def redis_server(scratch: Path):
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*command, "--dir", str(scratch)], stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def api_server(data_dir: Path, log: Path, paths: str | None, redis_url: str | None):
    """`flowkit serve` in a subprocess, as deployed; yields (pid, base URL) once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "flowkit.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    if redis_url:
        command += ["--redis-url", redis_url]
    with log.open("ab") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=server_env(paths))
    url = f"http://127.0.0.1:{port}/api/0"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError(f"flowkit serve exited {server.returncode}: see {log}")
            try:
                httpx.get(f"{url}/spec/openapi.json")
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        else:
            raise RuntimeError("flowkit serve did not start")
        yield server.pid, url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def server_env(paths: str | None) -> dict[str, str]:
    """The environment of a server with `paths` ahead of everything on its path (the editable install too)."""
    env = dict(os.environ)
    if paths is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [paths, env.get("PYTHONPATH")]))
    return env


def server_stack(paths: str | None) -> dict[str, str | None]:
    """Where the server's flowkit comes from, and the event loop and HTTP parser uvicorn picks there.

    uvicorn's defaults ("auto") take uvloop and httptools when they can be imported, else asyncio and h11.
    """
    probe = (
        "import importlib.util as u, json, flowkit, uvicorn; print(json.dumps({"
        "'flowkit': flowkit.__file__.rsplit('/flowkit/', 1)[0], 'uvicorn': uvicorn.__version__, "
        "'event_loop': 'uvloop' if u.find_spec('uvloop') else 'asyncio', "
        "'http_parser': 'httptools' if u.find_spec('httptools') else 'h11'}))"
    )
    found = subprocess.run([sys.executable, "-c", probe], env=server_env(paths), capture_output=True, text=True)
    return {"pythonpath": paths, **json.loads(found.stdout)}


def run_query(url: str, headers: dict) -> tuple[str, float]:
    """Run SPEC and poll until it completes; (query id, seconds it took)."""
    started = time.perf_counter()
    run = httpx.post(f"{url}/run", json=SPEC, headers=headers, timeout=60)
    run.raise_for_status()
    query_id = run.json()["query_id"]
    while (poll := httpx.get(f"{url}/poll/{query_id}", headers=headers, timeout=60)).status_code == 202:
        time.sleep(0.1)
    if poll.status_code != 303:
        raise RuntimeError(f"query did not complete: {poll.status_code} {poll.text}")
    seconds = time.perf_counter() - started
    result = httpx.get(f"{url}/get/{query_id}", headers=headers, timeout=60)
    result.raise_for_status()
    return query_id, seconds


def measure(args, wrk: str, scratch: Path, data_dir: Path, token: str, states: str, label: str, src) -> list[dict]:
    headers = {"Authorization": f"Bearer {token}"}
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(scratch)) if states == "redis" else None
        pid, url = stack.enter_context(api_server(data_dir, scratch / "access.log", src, redis_url))
        query_id, query_seconds = run_query(url, headers)
        body_bytes = len(httpx.get(f"{url}/get/{query_id}", headers=headers).content)
        queued = httpx.post(f"{url}/run", json=QUEUED, headers=headers).json()["query_id"]
        if (status := httpx.get(f"{url}/poll/{queued}", headers=headers).status_code) != 202:
            raise RuntimeError(f"poll of the queued dummy_query answered {status}, not 202")
        targets = [
            ("poll", f"{url}/poll/{query_id}", None),
            ("poll queued", f"{url}/poll/{queued}", None),
            ("get", f"{url}/get/{query_id}", None),
            (f"poll, paced {PACE_MS} ms", f"{url}/poll/{query_id}", PACED),
        ]
        runs = []
        for route, target, script in targets:
            command = [
                wrk,
                f"-c{args.connections}",
                f"-t{args.threads}",
                "--latency",
                "--timeout",
                "10s",  # wrk's default of 2 s would drop, not measure, the slowest answers
                "-H",
                f"Authorization: Bearer {token}",
            ]
            if script is not None:
                path = scratch / "paced.lua"
                path.write_text(script)
                command += ["-s", str(path)]
            if args.warmup:
                subprocess.run([*command, f"-d{args.warmup}s", target], check=True, capture_output=True)
            cpu_before = cpu_seconds(pid)
            output = subprocess.run(
                [*command, f"-d{args.duration}s", target], check=True, capture_output=True, text=True
            )
            server_cpu = cpu_seconds(pid) - cpu_before
            parsed = parse_wrk(output.stdout)
            runs.append(
                {
                    "build": label,
                    "states": states,
                    "route": route,
                    **parsed,
                    "server_cpu_share": round(server_cpu / parsed["seconds"], 2),
                    "query_seconds": round(query_seconds, 2),
                    "get_body_bytes": body_bytes,
                }
            )
            print(
                f"  {route}: p50 {parsed['p50_ms']} ms, p99 {parsed['p99_ms']} ms, {parsed['requests_per_second']} req/s"
            )
    return runs


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return round(float(number) * _UNITS[unit], 3)


def parse_wrk(output: str) -> dict:
    """Latency percentiles (ms), throughput and errors from `wrk --latency` output."""
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M))
    avg, _, peak = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M).groups()
    requests, seconds = re.search(r"(\d+) requests in ([\d.]+)(s|m)", output).group(1, 2)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "p50_ms": _ms(percentiles["50"]),
        "p75_ms": _ms(percentiles["75"]),
        "p90_ms": _ms(percentiles["90"]),
        "p99_ms": _ms(percentiles["99"]),
        "mean_ms": _ms(avg),
        "max_ms": _ms(peak),
        "requests": int(requests),
        "seconds": float(seconds),
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "socket_errors_by_kind": dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups())))
        if socket_errors
        else {},
        "non_2xx_3xx": int(bad.group(1)) if bad else 0,
    }


def summarise(runs: list[dict]) -> list[dict]:
    """Per (build, states, route): the round of median p50, with every round's p50 beside it."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["build"], run["states"], run["route"]), []).append(run)
    summary = []
    for same in groups.values():
        ordered = sorted(same, key=lambda run: run["p50_ms"])
        summary.append(ordered[len(ordered) // 2] | {"p50_ms_rounds": [run["p50_ms"] for run in same]})
    return summary


def verdict(results: list[dict], label: str) -> dict:
    polls = [r for r in results if r["build"] == label and r["route"] == "poll"]
    worst = max(polls, key=lambda r: r["p50_ms"])
    errors = sum(r["socket_errors"] + r["non_2xx_3xx"] for r in results if r["build"] == label)
    return {
        "poll_p50_ms_under": TARGET_POLL_P50_MS,
        "worst_poll_p50_ms": worst["p50_ms"],
        "worst_states": worst["states"],
        "errors": errors,
        "met": worst["p50_ms"] < TARGET_POLL_P50_MS and errors == 0,
    }


def machine(wrk: str | None) -> dict:
    memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split(" [")[0] if wrk else None
    return {
        "cores": os.cpu_count(),
        "cpu": cpu[0].split(":", 1)[1].strip() if cpu else platform.processor(),
        "ram_gib": round(int(memory.split()[1]) / 2**20, 1),
        "python": platform.python_version(),
        "wrk": version,
        "platform": platform.platform(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def markdown(report: dict) -> str:
    m, c, t = report["machine"], report["config"], report["target"]
    builds = c["builds"]
    lines = [
        f"# API latency under {c['wrk'].split()[0][2:]} concurrent clients, {report['date']}",
        "",
        f"**Target: poll p50 under {t['poll_p50_ms_under']:g} ms with 50 concurrent clients — "
        f"{'PASS' if t['met'] else 'MISS'}**: worst poll p50 {t['worst_poll_p50_ms']:g} ms "
        f"({t['worst_states']} states), {t['errors']} errors.",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"{m['wrk']}; {m['platform']}; "
        f"load average at start {m['load_average']} (a shared machine: other work may run beside the benchmark).",
        f"- Server: `flowkit serve` (one process, as deployed, access log on), over a `flowkit synth` country of "
        f"{c['subscribers']:,} subscribers × {c['days']} days; states in the process (`local`) or in Redis "
        "(`--redis-url`, a redis-server on the same machine).",
        "- Query: spatial_aggregate of the modal location over 7 daily locations at admin3, run to completion first; "
        "poll answers 303, get answers the result as JSON "
        f"({report['results'][0]['get_body_bytes']:,} bytes); `poll queued` polls a dummy_query kept queued "
        "(202 with its progress), as clients poll while a query runs.",
        f"- Load: `wrk {c['wrk']} -H 'Authorization: Bearer …'` after {c['warmup_seconds']} s of warm-up, "
        f"{c['rounds']} round(s). **wrk runs on the same {m['cores']} cores as the server** and takes part of their "
        "CPU; server CPU is the server process's CPU seconds per second of the run (1.0 = one core), and "
        "CPU ms/request that divided by the throughput: the server's cost of one request, less noisy than latency. "
        "Closed loop: each connection sends its next request when the last is answered, so the server is "
        "saturated and p50 ≈ connections / throughput (Little's law). "
        f"`paced` = each of the 50 connections waits {c['paced_ms']} ms between requests (wrk Lua `delay()`), "
        "about 500 requests/s offered: what clients see when the server is not saturated "
        "(flowclient polls once a second).",
    ]
    lines.append(
        "- Builds: "
        + "; ".join(
            f"`{label}`: flowkit from {b['flowkit']}, uvicorn {b['uvicorn']} ({b['event_loop']} loop, "
            f"{b['http_parser']} parser)" + (f", PYTHONPATH {b['pythonpath']}" if b["pythonpath"] else "")
            for label, b in builds.items()
        )
        + "."
    )
    lines += [
        "",
        "| build | states | route | p50 ms | p90 ms | p99 ms | max ms | requests/s | server CPU | CPU ms/request | errors |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["results"]:
        rounds = f" ({' / '.join(f'{x:g}' for x in r['p50_ms_rounds'])})" if len(r["p50_ms_rounds"]) > 1 else ""
        lines.append(
            f"| {r['build']} | {r['states']} | {r['route']} | {r['p50_ms']:g}{rounds} | {r['p90_ms']:g} | "
            f"{r['p99_ms']:g} | {r['max_ms']:g} | {r['requests_per_second']:,.0f} | {r['server_cpu_share']:.2f} | "
            f"{1000 * r['server_cpu_share'] / r['requests_per_second']:.2f} | "
            f"{r['socket_errors'] + r['non_2xx_3xx']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
