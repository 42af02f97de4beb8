"""Running queries: ids, states, progress, and the cache of stored results.

Every spec in a query's tree is stored as its own table `cache.x<query_id>` (leaves first),
so a month of daily locations computed for one user's query is reused by every later query
that nests the same daily locations. A result is stored and recorded in `cache.cached` in one
transaction, so a crash never leaves a half-written table that looks complete.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import ibis.expr.types as ir
import pandas as pd
import structlog

from flowkit.db import FlowDB
from flowkit.machine.catalogue import library_kinds, parse_spec
from flowkit.machine.inputs import Inputs, QueryInputError
from flowkit.machine.spec import MACHINE_VERSION, QuerySpec

log = structlog.get_logger("flowkit.machine")


class QueryState(enum.StrEnum):
    KNOWN = "known"
    QUEUED = "queued"
    EXECUTING = "executing"
    COMPLETED = "completed"
    ERRORED = "errored"
    CANCELLED = "cancelled"
    RESETTING = "resetting"


@dataclass(frozen=True)
class Progress:
    """FlowKit's progress counts: parts still to store, and how many are queued or running."""

    eligible: int
    queued: int
    running: int

    def as_dict(self) -> dict[str, int]:
        return {"eligible": self.eligible, "queued": self.queued, "running": self.running}


def unique_parts(spec: QuerySpec) -> list[QuerySpec]:
    """The specs to store for `spec`, dependencies first, each once."""
    seen: dict[str, QuerySpec] = {}
    for part in spec.walk():
        seen.setdefault(part.query_id, part)
    return list(seen.values())


class Machine:
    """Runs queries in a worker pool against one FlowDB and serves their stored results."""

    def __init__(self, db: FlowDB, *, workers: int = 2):
        self.db = db
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="flowkit-query")
        self._lock = threading.Lock()
        self._part_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._states: dict[str, QueryState] = {}
        self._errors: dict[str, str] = {}
        self._timers: set[threading.Timer] = set()
        self._stored = {row[0] for row in db.execute("SELECT query_id FROM cache.cached").fetchall()}
        self._specs: dict[str, QuerySpec] = {
            query_id: parse_spec_json(spec)
            for query_id, spec in db.execute("SELECT query_id, spec FROM cache.queries").fetchall()
        }

    def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self, spec: QuerySpec) -> str:
        """Start computing `spec` unless it is stored, running or failed; returns its query id."""
        query_id = spec.query_id
        for part in spec.walk():
            subset = getattr(part, "subscriber_subset", None)
            if subset is not None and subset not in self._stored:
                raise QueryInputError(f"subscriber_subset: no stored result with id '{subset}'")
        with self._lock:
            if query_id not in self._specs:
                self._specs[query_id] = spec
                self.db.execute(
                    "INSERT OR IGNORE INTO cache.queries VALUES (?, ?, ?, now()::TIMESTAMP)",
                    [query_id, spec.query_kind, spec.model_dump_json()],
                )
            if self.state(query_id) not in (QueryState.KNOWN, QueryState.CANCELLED):
                return query_id
            self._errors.pop(query_id, None)
            for part in unique_parts(spec):
                if part.query_id not in self._stored and self._states.get(part.query_id) != QueryState.EXECUTING:
                    self._states[part.query_id] = QueryState.QUEUED
        delay = max(part.delay for part in unique_parts(spec))
        if delay:
            self._submit_later(delay, spec)
        else:
            self._pool.submit(self._compute, spec)
        return query_id

    def _submit_later(self, delay: float, spec: QuerySpec) -> None:
        """Queue `spec` after `delay` seconds on a timer thread, so no worker waits idle meanwhile."""

        def submit() -> None:
            self._timers.discard(timer)
            self._pool.submit(self._compute, spec)

        timer = threading.Timer(delay, submit)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def state(self, query_id: str) -> QueryState | None:
        """Current state, or None for an id never run here."""
        if query_id in self._stored:
            return QueryState.COMPLETED
        if query_id in self._states:
            return self._states[query_id]
        return QueryState.KNOWN if query_id in self._specs else None

    def spec(self, query_id: str) -> QuerySpec | None:
        return self._specs.get(query_id)

    def error(self, query_id: str) -> str:
        return self._errors.get(query_id, "")

    def progress(self, query_id: str) -> Progress:
        spec = self._specs[query_id]
        pending = [p.query_id for p in unique_parts(spec) if p.query_id not in self._stored]
        states = [self._states.get(p) for p in pending]
        return Progress(len(pending), states.count(QueryState.QUEUED), states.count(QueryState.EXECUTING))

    def wait(self, query_id: str, timeout: float = 60.0) -> QueryState:
        """Block until the query leaves queued/executing (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while (state := self.state(query_id)) in (QueryState.QUEUED, QueryState.EXECUTING):
            if time.monotonic() > deadline:
                raise TimeoutError(f"query {query_id} still {state} after {timeout} s")
            time.sleep(0.02)
        return state

    # -- results -------------------------------------------------------------------------------

    def dataframe(self, spec: QuerySpec, timeout: float = 600.0) -> pd.DataFrame:
        """Run `spec` (any kind, library-only ones included) and return its unredacted result.

        The operator-side Python API: individual-level rows never leave through HTTP, but an
        analyst inside the firewall may look at them here.
        """
        query_id = self.run(spec)
        state = self.wait(query_id, timeout)
        if state != QueryState.COMPLETED:
            raise RuntimeError(f"{spec.query_kind} {state}: {self.error(query_id)}")
        return self.result(query_id).to_pandas()

    def result(self, query_id: str) -> ir.Table:
        """The stored result of a completed query, recording the access."""
        self.db.execute(
            "UPDATE cache.cached SET access_count = access_count + 1, last_accessed = now()::TIMESTAMP WHERE query_id = ?",
            [query_id],
        )
        return self.db.ibis().table(f"x{query_id}", database="cache")

    def _inputs(self) -> Inputs:
        return Inputs(self.db.ibis(), self._input, self._stored_table)

    def _stored_table(self, query_id: str) -> ir.Table | None:
        return self.result(query_id) if query_id in self._stored else None

    def _input(self, spec: QuerySpec) -> ir.Table:
        if spec.query_id in self._stored:
            return self.result(spec.query_id)
        return spec.expression(self._inputs())

    # -- work ----------------------------------------------------------------------------------

    def _compute(self, spec: QuerySpec) -> None:
        parts = unique_parts(spec)
        try:
            for part in parts:
                self._store(part)
        except Exception as error:  # the query errors; the reason is reported by poll
            message = f"{type(error).__name__}: {error}"
            log.error("query_errored", query_id=spec.query_id, error=message)
            with self._lock:
                for part in parts:
                    if self._states.get(part.query_id) == QueryState.QUEUED:
                        del self._states[part.query_id]
                self._states[spec.query_id] = QueryState.ERRORED
                self._errors[spec.query_id] = message

    def _store(self, part: QuerySpec) -> None:
        query_id = part.query_id
        with self._part_locks[query_id]:  # a part needed by several queries is computed once
            if query_id in self._stored:
                return
            self._states[query_id] = QueryState.EXECUTING
            try:
                started = time.perf_counter()
                backend = self.db.ibis()
                expression = part.expression(self._inputs())
                sql = backend.compile(expression)
                # Rows a kind computed in Python (ibis.memtable) reach this cursor only when Ibis
                # registers them, which it does before executing, not when compiling.
                backend._run_pre_execute_hooks(expression)
                cursor = self.db.cursor()
                cursor.execute("BEGIN")
                try:
                    cursor.execute(f"CREATE TABLE cache.x{query_id} AS {sql}")
                    compute_ms = (time.perf_counter() - started) * 1000
                    cursor.execute(
                        "INSERT INTO cache.cached VALUES (?, ?, ?, ?, now()::TIMESTAMP, 0, now()::TIMESTAMP, ?, ?)",
                        [
                            query_id,
                            MACHINE_VERSION,
                            part.query_kind,
                            part.model_dump_json(),
                            compute_ms,
                            f"x{query_id}",
                        ],
                    )
                    children = {child.query_id for child in part.children()}
                    for child in sorted(children):
                        cursor.execute("INSERT INTO cache.dependencies VALUES (?, ?)", [query_id, child])
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
            except BaseException:
                self._states[query_id] = QueryState.ERRORED
                raise
            self._stored.add(query_id)
            self._states.pop(query_id, None)
            log.info("query_stored", query_id=query_id, query_kind=part.query_kind, compute_ms=round(compute_ms, 1))


def parse_spec_json(text: str) -> QuerySpec:
    """A recorded spec: as POSTed to /run, or a library-only kind run from Python."""
    data = json.loads(text)
    kind = library_kinds().get(data.get("query_kind"))
    return kind.model_validate(data, context={"library": True}) if kind else parse_spec(data)
