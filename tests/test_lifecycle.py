"""Query lifecycle and cache: shared parts computed once, eviction by score, cancel, scores."""

import math
import subprocess
import sys
import threading
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from tests.conftest import sixteen_and_fifteen

from flowkit.cli import main
from flowkit.db import FlowDB
from flowkit.db.synthetic import SyntheticConfig, generate
from flowkit.machine.catalogue import parse_spec
from flowkit.machine.queries import Machine, QueryState, unique_parts
from flowkit.machine.states import LocalQueryStates, QueryEvent

FIRST = date(2016, 1, 1)


def daily(day: int, unit="admin3"):
    return {
        "query_kind": "daily_location",
        "date": (FIRST + timedelta(days=day)).isoformat(),
        "aggregation_unit": unit,
        "method": "last",
    }


@pytest.fixture(scope="module")
def country():
    db = FlowDB()
    generate(
        db, SyntheticConfig(seed=9, subscribers=300, start_date=FIRST, end_date=date(2016, 1, 10), crisis_date=None)
    )
    return db


def test_state_machine_is_flowkits():
    states = LocalQueryStates()
    assert states.trigger("q", QueryEvent.EXECUTE) == (QueryState.KNOWN, False)  # not queued yet
    assert states.trigger("q", QueryEvent.QUEUE) == (QueryState.QUEUED, True)
    assert states.trigger("q", QueryEvent.EXECUTE) == (QueryState.EXECUTING, True)
    assert states.trigger("q", QueryEvent.EXECUTE) == (QueryState.EXECUTING, False)  # one owner only
    assert states.trigger("q", QueryEvent.FINISH) == (QueryState.COMPLETED, True)
    assert states.trigger("q", QueryEvent.CANCEL) == (QueryState.COMPLETED, False)
    assert states.trigger("q", QueryEvent.RESET) == (QueryState.RESETTING, True)
    assert states.trigger("q", QueryEvent.FINISH_RESETTING) == (QueryState.KNOWN, True)


def test_a_machine_loads_its_query_backend_when_it_starts():
    """The first query after a server starts does not pay for importing Ibis's SQL backend."""
    script = (
        "import sys\n"
        "from flowkit.db import FlowDB\n"
        "from flowkit.machine.queries import Machine\n"
        "db = FlowDB()\n"
        "assert 'ibis.backends.duckdb' not in sys.modules\n"
        "Machine(db).close()\n"
        "assert 'ibis.backends.duckdb' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_fifty_concurrent_queries_compute_each_shared_part_once(country):
    """50 aggregates over 5 shared daily locations, started at once from 50 threads."""
    machine = Machine(country, workers=4)
    specs = []
    for n in range(50):
        first, second = n % 5, (n // 5) % 5
        if n % 2:
            specs.append(
                parse_spec({"query_kind": "flows", "from_location": daily(first), "to_location": daily(second)})
            )
        else:
            specs.append(parse_spec({"query_kind": "spatial_aggregate", "locations": daily(first, f"admin{n % 4}")}))
    ids = [None] * len(specs)
    threads = [
        threading.Thread(target=lambda i=i: ids.__setitem__(i, machine.run(specs[i]))) for i in range(len(specs))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    states = {query_id: machine.wait(query_id, timeout=120) for query_id in ids}
    assert set(states.values()) == {QueryState.COMPLETED}, {
        q: machine.error(q) for q in ids if states[q] != "completed"
    }
    parts = {part.query_id for spec in specs for part in unique_parts(spec)}
    records = {record.query_id: record for record in machine.cache.records()}
    assert set(records) == parts  # one record per distinct part: nothing computed twice
    daily_ids = {p.query_id for s in specs for p in unique_parts(s) if p.query_kind == "daily_location"}
    # Five days at admin3 (shared by the 25 flows), at admin0 and at admin2 (even n: n % 4 is 0 or 2).
    assert len(daily_ids) == 15
    machine.close()


def test_eviction_takes_lowest_scores_and_spares_live_queries():
    machine = Machine(sixteen_and_fifteen(), workers=1)
    for unit in ("admin3",):
        for method in ("last", "most-common"):
            spec = {"query_kind": "daily_location", "date": "2016-01-01", "aggregation_unit": unit, "method": method}
            machine.dataframe(parse_spec({"query_kind": "spatial_aggregate", "locations": spec}))
    before = machine.cache.records()
    assert len(before) == 4
    # A live query: its top part is held so the job waits on it with its stored child in use.
    live = parse_spec({"query_kind": "flows", "from_location": daily(0), "to_location": daily(0)})
    child = unique_parts(live)[0].query_id
    assert child in {r.query_id for r in before}
    lock = machine._part_locks[live.query_id]
    lock.acquire()
    try:
        live_id = machine.run(live)
        assert machine.state(live_id) in (QueryState.QUEUED, QueryState.EXECUTING)
        candidates = [r for r in before if r.query_id != child]  # lowest score first
        removed = machine.shrink(machine.cache.size() - candidates[0].size_bytes, protected_seconds=-1)
        assert [r.query_id for r in removed] == [candidates[0].query_id]
        rest = machine.clear()
        assert [r.query_id for r in rest] == [r.query_id for r in candidates[1:]]  # by score; live part stays
        assert machine.state(child) == QueryState.COMPLETED
        removed += rest
    finally:
        lock.release()
    assert machine.wait(live_id) == QueryState.COMPLETED
    for record in removed:
        assert machine.states.get(record.query_id) == QueryState.KNOWN
        assert not machine.db.table_exists("cache", f"x{record.query_id}")
    machine.close()


def test_scores_follow_flowkits_half_life_rule():
    machine = Machine(sixteen_and_fifteen(), workers=1)
    machine.cache.configure(half_life=10)
    query_id = machine.run(parse_spec({"query_kind": "spatial_aggregate", "locations": daily(0)}))
    machine.wait(query_id)
    # Touches so far: the child's record (n=1), the parent's read of the child (n=2), the parent's
    # record (n=3). Each adds (1 + ln 2 / 10) ** (n - 2) to its record's multiplier.
    step = 1 + math.log(2) / 10
    records = {r.query_id: r for r in machine.cache.records()}
    child = unique_parts(parse_spec({"query_kind": "spatial_aggregate", "locations": daily(0)}))[0].query_id
    assert records[child].multiplier == pytest.approx(step**-1 + step**0)
    assert records[query_id].multiplier == pytest.approx(step**1)
    assert records[query_id].access_count == 1 and records[child].access_count == 2
    machine.result(query_id)
    assert machine.cache.get(query_id).multiplier == pytest.approx(step**1 + step**2)
    machine.close()


def test_cancel_a_queued_query_and_run_it_again():
    machine = Machine(sixteen_and_fifteen(), workers=1)
    spec = parse_spec({"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "x", "dummy_delay": 2})
    query_id = machine.run(spec)
    assert machine.state(query_id) == QueryState.QUEUED
    assert machine.cancel(query_id) == QueryState.CANCELLED
    assert machine.wait(query_id, timeout=10) == QueryState.CANCELLED
    assert machine.run(spec) == query_id and machine.state(query_id) == QueryState.QUEUED
    assert machine.wait(query_id, timeout=10) == QueryState.COMPLETED
    machine.close()


def test_cache_cli(tmp_path):
    data = tmp_path / "data"
    runner = CliRunner()
    args = ["--data-dir", str(data), "--subscribers", "200", "--start-date", "2016-01-01", "--end-date", "2016-01-03"]
    assert runner.invoke(main, ["synth", *args, "--crisis-date", "2016-01-02"]).exit_code == 0
    machine = Machine(FlowDB(data / "flowdb.duckdb"), workers=1)
    machine.dataframe(parse_spec({"query_kind": "spatial_aggregate", "locations": daily(0)}))
    ids = [r.query_id for r in machine.cache.records()]
    machine.close()
    machine.db.close()
    listing = runner.invoke(main, ["cache", "list", "--data-dir", str(data)])
    assert listing.exit_code == 0 and all(query_id in listing.output for query_id in ids)
    shown = runner.invoke(main, ["cache", "show", ids[0], "--data-dir", str(data)])
    assert shown.exit_code == 0 and ids[0] in shown.output
    shrunk = runner.invoke(
        main, ["cache", "shrink", "--limit", "0", "--protected-seconds", "-1", "--data-dir", str(data)]
    )
    assert sum(line.startswith("evicted ") for line in shrunk.output.splitlines()) == 2
    cleared = runner.invoke(main, ["cache", "clear", "--data-dir", str(data)])
    assert "removed 0 stored results" in cleared.output
