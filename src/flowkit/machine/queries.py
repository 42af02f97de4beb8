"""Running queries: ids, states, progress, and the cache of stored results.

Every spec in a query's tree is stored as its own table `cache.x<query_id>` (leaves first),
so a month of daily locations computed for one user's query is reused by every later query
that nests the same daily locations. A result is stored and recorded in `cache.stored_results` in one
transaction, so a crash never leaves a half-written table that looks complete.
"""

from __future__ import annotations

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
from flowkit.machine.cache import Cache, CacheRecord
from flowkit.machine.catalogue import library_kinds, parse_spec
from flowkit.machine.inputs import Inputs, QueryInputError
from flowkit.machine.spec import QuerySpec
from flowkit.machine.states import LEASE_SECONDS, LocalQueryStates, QueryEvent, QueryState

__all__ = ["Machine", "Progress", "QueryState", "unique_parts"]

log = structlog.get_logger("flowkit.machine")


class QueryCancelled(Exception):
    """Raised inside a job whose query was cancelled."""


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
    """Runs queries in a worker pool against one FlowDB and serves their stored results.

    `states` is where query states live (this process by default; Redis to share them).
    """

    def __init__(self, db: FlowDB, *, workers: int = 2, states=None):
        self.db = db
        db.ibis()  # loads Ibis's backend and SQL compilers now (about 0.6 s), not in the first query
        self.cache = Cache(db)
        self.states = states or LocalQueryStates()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="flowkit-query")
        self._lock = threading.Lock()
        self._part_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._timers: set[threading.Timer] = set()
        self._jobs: dict[str, set[str]] = {}  # live query id -> the part ids it needs
        self._cursors: dict[str, object] = {}  # part id -> cursor computing it, to interrupt
        self._heartbeat = threading.Thread(target=self._renew_leases, name="flowkit-leases", daemon=True)
        self._closed = threading.Event()
        self._parts: dict[str, tuple[str, ...]] = {}  # query id -> ids of unique_parts(its spec)
        self._specs: dict[str, QuerySpec] = {
            query_id: parse_spec_json(spec)
            for query_id, spec in db.execute("SELECT query_id, spec FROM cache.queries").fetchall()
        }
        for table in self.cache.orphan_tables():  # never the case with transactional stores
            log.warning("dropping_orphan_cache_table", table=table)
            db.execute(f"DROP TABLE cache.{table}")
        # What is stored is completed, whatever states say. A query a crash interrupted has no
        # stored table and, with this process's own states, starts known: it runs again when asked.
        for query_id in self.cache.stored_ids():
            if self.states.get(query_id) != QueryState.COMPLETED:
                self._settle(query_id, QueryState.COMPLETED)
        self._heartbeat.start()

    def _renew_leases(self) -> None:
        """Keep the leases of this process's live queries while they are queued or executing."""
        while not self._closed.wait(LEASE_SECONDS / 3):
            with self._lock:
                live = set(self._jobs) | set(self._cursors)  # queries with a job here, parts computed here
            if live:
                self.states.keep_alive(live)

    def close(self) -> None:
        self._closed.set()
        for timer in list(self._timers):
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, query_id: str, target: QueryState) -> None:
        """Drive a state to `target` through legal transitions (startup and resets only)."""
        paths = {
            QueryState.COMPLETED: [QueryEvent.QUEUE, QueryEvent.EXECUTE, QueryEvent.FINISH],
            QueryState.KNOWN: [QueryEvent.CANCEL, QueryEvent.RESET, QueryEvent.FINISH_RESETTING],
        }
        if target == QueryState.COMPLETED and self.states.get(query_id) != QueryState.KNOWN:
            self._settle(query_id, QueryState.KNOWN)
        for event in paths[target]:
            self.states.trigger(query_id, event)

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self, spec: QuerySpec) -> str:
        """Start computing `spec` unless it is stored, running or errored; returns its query id."""
        query_id = spec.query_id
        for part in spec.walk():
            subset = getattr(part, "subscriber_subset", None)
            if subset is not None and self.states.get(subset) != QueryState.COMPLETED:
                raise QueryInputError(f"subscriber_subset: no stored result with id '{subset}'")
        with self._lock:
            if query_id not in self._specs:
                self._specs[query_id] = spec
                self.db.execute(
                    "INSERT INTO cache.queries VALUES (?, ?, ?, now()::TIMESTAMP) ON CONFLICT DO NOTHING",
                    [query_id, spec.query_kind, spec.model_dump_json()],
                )
            if self.states.get(query_id) == QueryState.CANCELLED:
                self._settle(query_id, QueryState.KNOWN)
            if self.states.get(query_id) != QueryState.KNOWN:
                return query_id  # stored, queued, running, or errored (FlowKit does not re-run errors)
            parts = unique_parts(spec)
            for part in parts:
                if self.states.get(part.query_id) in (QueryState.ERRORED, QueryState.CANCELLED):
                    self._settle(part.query_id, QueryState.KNOWN)
                self.states.trigger(part.query_id, QueryEvent.QUEUE)
            self._jobs[query_id] = {part.query_id for part in parts}
            self.states.keep_alive({query_id})
        delay = max(part.delay for part in parts)
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

    def cancel(self, query_id: str) -> QueryState | None:
        """Stop a queued or running query; parts only it needed go back to known."""
        if self.spec(query_id) is None:
            return None
        state, changed = self.states.trigger(query_id, QueryEvent.CANCEL)
        if changed:
            with self._lock:
                needed_elsewhere = set().union(*(p for q, p in self._jobs.items() if q != query_id))
                for part_id in self._jobs.get(query_id, set()) - needed_elsewhere - {query_id}:
                    cursor = self._cursors.get(part_id)
                    if cursor is not None:
                        cursor.interrupt()
            log.info("query_cancelled", query_id=query_id)
        return state

    def state(self, query_id: str) -> QueryState | None:
        """Current state, or None for an id never run here.

        A queued or executing query whose worker died (its lease in shared states lapsed) is
        known again: never completed from a half-written result, run again when asked.
        """
        state = self.states.get(query_id)
        if state in (QueryState.QUEUED, QueryState.EXECUTING) and not self.states.alive(query_id):
            log.warning("query_abandoned", query_id=query_id, state=state.value)
            self._settle(query_id, QueryState.KNOWN)
            state = self.states.get(query_id)
        if state == QueryState.KNOWN and self.spec(query_id) is None:
            return None
        return state

    def spec(self, query_id: str) -> QuerySpec | None:
        """The spec behind an id, including ids another process sharing this FlowDB ran."""
        if query_id not in self._specs:
            row = self.db.execute("SELECT spec FROM cache.queries WHERE query_id = ?", [query_id]).fetchone()
            if row is None:
                return None
            self._specs[query_id] = parse_spec_json(row[0])
        return self._specs[query_id]

    def _part_ids(self, query_id: str) -> tuple[str, ...]:
        """Ids of the parts a query stores (an id names one spec for good, so they are worked out once)."""
        if query_id not in self._parts:
            self._parts[query_id] = tuple(part.query_id for part in unique_parts(self.spec(query_id)))
        return self._parts[query_id]

    def error(self, query_id: str) -> str:
        return self.states.error(query_id)

    def progress(self, query_id: str) -> Progress:
        states = self.states.get_many(self._part_ids(query_id))
        pending = [state for state in states if state != QueryState.COMPLETED]
        return Progress(len(pending), pending.count(QueryState.QUEUED), pending.count(QueryState.EXECUTING))

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
        """The stored result of a completed query, recording the use."""
        self.cache.touch(query_id)
        return self.db.ibis().table(f"x{query_id}", database="cache")

    def _inputs(self) -> Inputs:
        return Inputs(self.db.ibis(), self._input, self._stored_table)

    def _stored_table(self, query_id: str) -> ir.Table | None:
        return self.result(query_id) if self.states.get(query_id) == QueryState.COMPLETED else None

    def _input(self, spec: QuerySpec) -> ir.Table:
        if self.states.get(spec.query_id) == QueryState.COMPLETED:
            return self.result(spec.query_id)
        return spec.expression(self._inputs())

    # -- the cache -----------------------------------------------------------------------------

    def in_use(self) -> set[str]:
        """Parts some queued or running query needs: never evicted."""
        with self._lock:
            return set().union(*self._jobs.values()) if self._jobs else set()

    def shrink(self, limit: float | None = None, *, protected_seconds: float | None = None) -> list[CacheRecord]:
        """Evict the lowest-scored stored results until the cache fits `limit` (default: its setting)."""
        limit = self.cache.setting("cache_size") if limit is None else limit
        size, removed = self.cache.size(), []
        for record in self.cache.eviction_candidates(self.in_use(), protected_seconds):
            if size <= limit:
                break
            self._forget(record.query_id)
            size -= record.size_bytes
            removed.append(record)
        return removed

    def clear(self) -> list[CacheRecord]:
        """Evict every stored result no live query needs."""
        return self.shrink(0, protected_seconds=-1)

    def _forget(self, query_id: str) -> None:
        self.states.trigger(query_id, QueryEvent.RESET)
        try:
            self.cache.drop(query_id)
        finally:
            self.states.trigger(query_id, QueryEvent.FINISH_RESETTING)
        log.info("cache_evicted", query_id=query_id)

    # -- work ----------------------------------------------------------------------------------

    def _compute(self, spec: QuerySpec) -> None:
        parts = unique_parts(spec)
        try:
            for part in parts:
                if self.states.get(spec.query_id) == QueryState.CANCELLED:
                    raise QueryCancelled(spec.query_id)
                self._store(part)
        except QueryCancelled:
            self._release_parts(spec, parts)
        except Exception as error:  # the query errors; the reason is reported by poll
            message = f"{type(error).__name__}: {error}"
            log.error("query_errored", query_id=spec.query_id, error=message)
            self._release_parts(spec, parts)
            self.states.set_error(spec.query_id, message)
            self.states.trigger(spec.query_id, QueryEvent.ERROR)
        finally:
            with self._lock:
                self._jobs.pop(spec.query_id, None)

    def _release_parts(self, spec: QuerySpec, parts: list[QuerySpec]) -> None:
        """Parts this job queued but never computed go back to known, unless another job needs them."""
        with self._lock:
            needed_elsewhere = set().union(*(p for q, p in self._jobs.items() if q != spec.query_id))
        for part in parts:
            if part.query_id != spec.query_id and part.query_id not in needed_elsewhere:
                if self.states.get(part.query_id) in (QueryState.QUEUED, QueryState.CANCELLED):
                    self._settle(part.query_id, QueryState.KNOWN)

    def _store(self, part: QuerySpec) -> None:
        query_id = part.query_id
        with self._part_locks[query_id]:  # a part needed by several queries is computed once
            if self.states.get(query_id) == QueryState.COMPLETED:
                return
            if not self._own(query_id):
                return  # another process stored it meanwhile
            self.states.keep_alive({query_id})
            cursor = self.db.cursor()
            self._cursors[query_id] = cursor
            try:
                compute_ms = self._write(part, cursor)
            except BaseException as error:
                cancelled = self.states.get(query_id) == QueryState.CANCELLED or "interrupt" in str(error).lower()
                if cancelled:
                    self._settle(query_id, QueryState.KNOWN)
                    raise QueryCancelled(query_id) from None
                self.states.set_error(query_id, f"{type(error).__name__}: {error}")
                self.states.trigger(query_id, QueryEvent.ERROR)
                raise
            finally:
                self._cursors.pop(query_id, None)
            self.states.trigger(query_id, QueryEvent.FINISH)
            log.info("query_stored", query_id=query_id, query_kind=part.query_kind, compute_ms=round(compute_ms, 1))

    def _own(self, query_id: str) -> bool:
        """Become the one computing a part; False if it got stored meanwhile.

        Another process (sharing states through Redis) may be computing it: wait for it, or take
        over if its lease lapsed because that process died.
        """
        while True:
            self.states.trigger(query_id, QueryEvent.QUEUE)  # a part reset meanwhile is queued again
            state, owner = self.states.trigger(query_id, QueryEvent.EXECUTE)
            if owner:
                return True
            if state == QueryState.COMPLETED:
                return False
            if state == QueryState.CANCELLED:
                raise QueryCancelled(query_id)
            if state == QueryState.ERRORED:
                raise RuntimeError(f"part {query_id} errored: {self.states.error(query_id)}")
            if not self.states.alive(query_id):
                self._settle(query_id, QueryState.KNOWN)
            else:
                time.sleep(0.05)

    def _write(self, part: QuerySpec, cursor) -> float:
        """Create `cache.x<id>` and its record in one transaction; returns the compute time (ms)."""
        started = time.perf_counter()
        backend = self.db.ibis()
        expression = part.expression(self._inputs())
        sql = backend.compile(expression)
        # Rows a kind computed in Python (ibis.memtable) reach the database only when Ibis
        # registers them, which it does before executing, not when compiling.
        backend._run_pre_execute_hooks(expression)
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"CREATE TABLE cache.x{part.query_id} AS {sql}")
            compute_ms = (time.perf_counter() - started) * 1000
            self.cache.record(cursor, part, compute_ms)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        self.cache.touch(part.query_id)
        return compute_ms


def parse_spec_json(text: str) -> QuerySpec:
    """A recorded spec: as POSTed to /run, or a library-only kind run from Python."""
    data = json.loads(text)
    kind = library_kinds().get(data.get("query_kind"))
    return kind.model_validate(data, context={"library": True}) if kind else parse_spec(data)
