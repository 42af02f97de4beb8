"""The query state machine (FlowKit's, flowmachine-semantics.md §1.7), and where states live.

A transition is a compare-and-set: of several threads (or processes) triggering `execute` on a
queued query, exactly one sees `changed=True` and owns the work. States live in this process
(`LocalQueryStates`) or in Redis (`RedisQueryStates`), so several API processes share them.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections.abc import Sequence


class QueryState(enum.StrEnum):
    KNOWN = "known"
    QUEUED = "queued"
    EXECUTING = "executing"
    COMPLETED = "completed"
    ERRORED = "errored"
    CANCELLED = "cancelled"
    RESETTING = "resetting"


class QueryEvent(enum.StrEnum):
    QUEUE = "queue"
    EXECUTE = "execute"
    FINISH = "finish"
    ERROR = "error"
    CANCEL = "cancel"
    RESET = "reset"
    FINISH_RESETTING = "finish_resetting"


S, E = QueryState, QueryEvent
TRANSITIONS: dict[QueryEvent, dict[QueryState, QueryState]] = {
    E.QUEUE: {S.KNOWN: S.QUEUED},
    E.EXECUTE: {S.QUEUED: S.EXECUTING},
    E.FINISH: {S.EXECUTING: S.COMPLETED},
    E.ERROR: {S.EXECUTING: S.ERRORED, S.QUEUED: S.ERRORED},
    E.CANCEL: {S.QUEUED: S.CANCELLED, S.EXECUTING: S.CANCELLED},
    E.RESET: {S.COMPLETED: S.RESETTING, S.ERRORED: S.RESETTING, S.CANCELLED: S.RESETTING},
    E.FINISH_RESETTING: {S.RESETTING: S.KNOWN},
}
# An error may also strike a query still queued (a dependency failed): FlowKit would leave it
# queued forever; we let it report the error.


class LocalQueryStates:
    """States of this process's queries."""

    def __init__(self):
        self._lock = threading.Lock()
        self._states: dict[str, QueryState] = {}
        self._errors: dict[str, str] = {}

    def get(self, query_id: str) -> QueryState:
        return self._states.get(query_id, QueryState.KNOWN)

    def get_many(self, query_ids: Sequence[str]) -> list[QueryState]:
        return [self._states.get(query_id, QueryState.KNOWN) for query_id in query_ids]

    def trigger(self, query_id: str, event: QueryEvent) -> tuple[QueryState, bool]:
        """Apply `event` if the current state allows it; returns (state now, whether it changed)."""
        with self._lock:
            current = self._states.get(query_id, QueryState.KNOWN)
            after = TRANSITIONS[event].get(current)
            if after is None:
                return current, False
            self._states[query_id] = after
            return after, True

    def error(self, query_id: str) -> str:
        return self._errors.get(query_id, "")

    def set_error(self, query_id: str, message: str) -> None:
        self._errors[query_id] = message

    def keep_alive(self, query_ids: set[str]) -> None:
        """Nothing to do: these states die with the process that works on them."""

    def alive(self, query_id: str) -> bool:
        return True


# A process working on queries refreshes their liveness this often; a queued or executing state
# whose liveness lapsed belongs to a process that died.
LEASE_SECONDS = 30

# KEYS[1] = state key; ARGV[1] = transitions of the event as "from=to,from=to"
_TRIGGER = """
local current = redis.call('GET', KEYS[1]) or 'known'
for pair in string.gmatch(ARGV[1], '[^,]+') do
  local from, to = string.match(pair, '([^=]+)=([^=]+)')
  if from == current then
    redis.call('SET', KEYS[1], to)
    return {to, 1}
  end
end
return {current, 0}
"""


class RedisQueryStates:
    """States shared by every process using the same Redis and FlowDB (namespaced by `prefix`)."""

    def __init__(self, url: str, prefix: str):
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._trigger = self._redis.register_script(_TRIGGER)

    @classmethod
    def for_flowdb(cls, url: str, db) -> RedisQueryStates:
        """States of the queries on one FlowDB: every process serving it shares them."""
        return cls(url, f"flowkit:{hashlib.md5(str(db.path).encode()).hexdigest()}")

    def get(self, query_id: str) -> QueryState:
        return QueryState(self._redis.get(f"{self._prefix}:{query_id}:state") or QueryState.KNOWN)

    def get_many(self, query_ids: Sequence[str]) -> list[QueryState]:
        """The states of several queries in one round trip."""
        if not query_ids:
            return []
        values = self._redis.mget([f"{self._prefix}:{query_id}:state" for query_id in query_ids])
        return [QueryState(value or QueryState.KNOWN) for value in values]

    def trigger(self, query_id: str, event: QueryEvent) -> tuple[QueryState, bool]:
        pairs = ",".join(f"{before}={after}" for before, after in TRANSITIONS[event].items())
        state, changed = self._trigger(keys=[f"{self._prefix}:{query_id}:state"], args=[pairs])
        return QueryState(state), bool(changed)

    def error(self, query_id: str) -> str:
        return self._redis.get(f"{self._prefix}:{query_id}:error") or ""

    def set_error(self, query_id: str, message: str) -> None:
        self._redis.set(f"{self._prefix}:{query_id}:error", message)

    def keep_alive(self, query_ids: set[str]) -> None:
        """Renew the lease of queries this process is working on."""
        with self._redis.pipeline() as pipe:
            for query_id in query_ids:
                pipe.set(f"{self._prefix}:{query_id}:alive", 1, ex=LEASE_SECONDS)
            pipe.execute()

    def alive(self, query_id: str) -> bool:
        return bool(self._redis.exists(f"{self._prefix}:{query_id}:alive"))
