"""Query states in Redis: the same state machine, one owner per transition, shared by machines."""

import threading
import uuid

import pytest
from tests.conftest import sixteen_and_fifteen

from flowkit.machine.catalogue import parse_spec
from flowkit.machine.queries import Machine, QueryState, unique_parts
from flowkit.machine.states import LocalQueryStates, QueryEvent, RedisQueryStates

REDIS_URL = "redis://127.0.0.1:6379/0"
SPATIAL = {
    "query_kind": "spatial_aggregate",
    "locations": {"query_kind": "daily_location", "date": "2016-01-01", "aggregation_unit": "admin3", "method": "last"},
}


def redis_states(prefix=None):
    return RedisQueryStates(REDIS_URL, prefix or f"flowkit-test:{uuid.uuid4().hex}")


@pytest.mark.parametrize("make", [LocalQueryStates, redis_states], ids=["local", "redis"])
def test_transitions(make):
    states = make()
    walk = [
        (QueryEvent.FINISH, QueryState.KNOWN, False),
        (QueryEvent.QUEUE, QueryState.QUEUED, True),
        (QueryEvent.EXECUTE, QueryState.EXECUTING, True),
        (QueryEvent.CANCEL, QueryState.CANCELLED, True),
        (QueryEvent.QUEUE, QueryState.CANCELLED, False),
        (QueryEvent.RESET, QueryState.RESETTING, True),
        (QueryEvent.FINISH_RESETTING, QueryState.KNOWN, True),
    ]
    for event, state, changed in walk:
        assert states.trigger("q", event) == (state, changed)
    states.set_error("q", "why")
    assert states.error("q") == "why" and states.error("other") == ""


@pytest.mark.parametrize("make", [LocalQueryStates, redis_states], ids=["local", "redis"])
def test_get_many_answers_as_get_does(make):
    states = make()
    states.trigger("a", QueryEvent.QUEUE)
    states.trigger("b", QueryEvent.QUEUE)
    states.trigger("b", QueryEvent.EXECUTE)
    ids = ["a", "never-run", "b", "a"]
    assert states.get_many(ids) == [states.get(i) for i in ids] == ["queued", "known", "executing", "queued"]
    assert states.get_many([]) == []


def test_exactly_one_owner_among_racing_threads():
    states = redis_states()
    states.trigger("q", QueryEvent.QUEUE)
    owners = []
    threads = [
        threading.Thread(target=lambda: owners.append(states.trigger("q", QueryEvent.EXECUTE)[1])) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(owners) == [False] * 19 + [True]


def test_two_machines_share_states_through_redis():
    """Run through one machine; the other sees it completed and serves the stored result."""
    db = sixteen_and_fifteen()
    prefix = f"flowkit-test:{uuid.uuid4().hex}"
    first, second = Machine(db, states=redis_states(prefix)), Machine(db, states=redis_states(prefix))
    spec = parse_spec(SPATIAL)
    query_id = first.run(spec)
    assert first.wait(query_id) == QueryState.COMPLETED
    assert second.states.get(query_id) == QueryState.COMPLETED
    assert second.run(spec) == query_id  # known to be stored: nothing recomputed
    assert second.result(query_id).to_pandas().sort_values("pcod").to_dict("records") == [
        {"pcod": "A", "value": 16},
        {"pcod": "B", "value": 15},
    ]
    first.close()
    second.close()


def test_a_query_run_through_one_machine_is_known_to_another():
    db = sixteen_and_fifteen()
    prefix = f"flowkit-test:{uuid.uuid4().hex}"
    first, second = Machine(db, states=redis_states(prefix)), Machine(db, states=redis_states(prefix))
    spec = parse_spec({"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "p", "dummy_delay": 1})
    query_id = first.run(spec)
    assert second.spec(query_id) == spec and second.state(query_id) == QueryState.QUEUED
    assert second.progress(query_id).as_dict() == {"eligible": 1, "queued": 1, "running": 0}
    assert second.wait(query_id, timeout=10) == QueryState.COMPLETED
    first.close()
    second.close()


def test_queries_of_a_dead_process_are_taken_over():
    """A process died computing a query: its states linger in Redis, but its leases lapse."""
    db = sixteen_and_fifteen()
    prefix = f"flowkit-test:{uuid.uuid4().hex}"
    spec = parse_spec(SPATIAL)
    (part, top) = [p.query_id for p in unique_parts(spec)]
    dead = redis_states(prefix)  # what the dead process left: queued top, executing part, no lease
    for query_id in (top, part):
        dead.trigger(query_id, QueryEvent.QUEUE)
    dead.trigger(part, QueryEvent.EXECUTE)
    db.execute(
        "INSERT INTO cache.queries VALUES (?, ?, ?, now()::TIMESTAMP)", [top, spec.query_kind, spec.model_dump_json()]
    )
    machine = Machine(db, states=redis_states(prefix))
    assert machine.state(top) == QueryState.KNOWN  # abandoned: never reported as running or completed
    assert machine.run(spec) == top and machine.wait(top, timeout=10) == QueryState.COMPLETED
    assert machine.states.get(part) == QueryState.COMPLETED  # the lingering part was taken over
    machine.close()
