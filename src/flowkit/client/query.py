"""Query objects and flowclient's module functions, one body for sync and async.

Every call hands a protocol operation to `connection.perform`, so it returns the value on a
`Connection` and an awaitable on an `AsyncConnection`: `q.get_result()` or
`await q.get_result()`, `get_geography(connection=c, ...)` or `await get_geography(...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowkit.client import protocol

__all__ = [
    "APIQuery",
    "ASyncAPIQuery",
    "get_available_dates",
    "get_geography",
    "get_geojson_result",
    "get_available_qa_checks",
    "get_available_qa_checks_df",
    "get_qa_check_outcome",
    "get_qa_check_outcomes",
    "get_qa_check_outcomes_df",
    "get_result",
    "get_result_by_query_id",
    "get_status",
    "query_is_ready",
    "run_query",
]


class _Query:
    """A query spec bound to a connection. `query_id` is set once the query has been run."""

    def __init__(self, *, connection: Any, parameters: dict):
        self.connection = connection
        self.parameters = dict(parameters)
        self.query_id: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} connection={self.connection!r} parameters={self.parameters}>"

    def run(self) -> Any:
        """Set the query running on the server."""
        return self.connection.perform(self._run())

    @property
    def status(self) -> Any:
        """ "not_running", "queued", "executing" or "completed"."""
        return self.connection.perform(protocol.get_status(self.query_id))

    def wait_until_ready(self, poll_interval: float = 1, disable_progress: bool | None = None) -> Any:
        """Wait for the result, showing a progress bar (None: only on a terminal).

        Raises QueryNotFound if the query was never run or the server no longer knows it."""
        return self.connection.perform(protocol.wait_until_ready(self.query_id, poll_interval, disable_progress))

    def get_result(self, format: str = "pandas", poll_interval: float = 1, disable_progress: bool | None = None) -> Any:
        """The result as a pandas DataFrame, a GeoJSON dict ("geojson") or CSV text ("csv");
        runs the query first if needed."""
        return self.connection.perform(self._result(format, poll_interval, disable_progress))

    def _run(self) -> protocol.Operation[None]:
        self.query_id = yield from protocol.run_query(self.parameters)

    def _result(self, format: str, poll_interval: float, disable_progress: bool | None) -> protocol.Operation[Any]:
        self.query_id, result = yield from protocol.query_result(
            self.parameters, self.query_id, format, poll_interval, disable_progress
        )
        return result


class APIQuery(_Query):
    """A query on a `Connection`."""


class ASyncAPIQuery(_Query):
    """A query on an `AsyncConnection`: await its methods and its `status`."""


def run_query(*, connection: Any, query_spec: dict) -> Any:
    """Run a query spec; returns the query id."""
    return connection.perform(protocol.run_query(query_spec))


def get_status(*, connection: Any, query_id: str) -> Any:
    """ "not_running", "queued", "executing" or "completed"."""
    return connection.perform(protocol.get_status(query_id))


def query_is_ready(*, connection: Any, query_id: str) -> Any:
    """(ready, poll reply)."""
    return connection.perform(protocol.query_is_ready(query_id))


def get_result_by_query_id(
    *,
    connection: Any,
    query_id: str,
    format: str = "pandas",
    poll_interval: float = 1,
    disable_progress: bool | None = None,
) -> Any:
    """Wait for a running query and fetch its result (see `APIQuery.get_result` for formats)."""
    return connection.perform(protocol.get_result(query_id, format, poll_interval, disable_progress))


def get_result(
    *,
    connection: Any,
    query_spec: dict,
    format: str = "pandas",
    poll_interval: float = 1,
    disable_progress: bool | None = None,
) -> Any:
    """Run a query spec and fetch its result."""
    query = connection.make_api_query(query_spec)
    return query.get_result(format=format, poll_interval=poll_interval, disable_progress=disable_progress)


def get_geojson_result(
    *, connection: Any, query_spec: dict, poll_interval: float = 1, disable_progress: bool | None = None
) -> Any:
    """Run a query spec and fetch its result as GeoJSON."""
    query = connection.make_api_query(query_spec)
    return query.get_result(format="geojson", poll_interval=poll_interval, disable_progress=disable_progress)


def get_geography(*, connection: Any, aggregation_unit: str) -> Any:
    """The boundaries of an aggregation unit as a GeoJSON FeatureCollection."""
    return connection.perform(protocol.get_geography(aggregation_unit))


def get_available_dates(*, connection: Any, event_types: Sequence[str] | None = None) -> Any:
    """{event type: [ISO dates with data]}, optionally only for `event_types`."""
    return connection.perform(protocol.get_available_dates(event_types))


def get_available_qa_checks(*, connection: Any, event_types: Sequence[str] | None = None) -> Any:
    """[{"cdr_type", "type_of_query_or_check"}] of the QA checks with stored outcomes."""
    return connection.perform(protocol.get_available_qa_checks(event_types))


def get_available_qa_checks_df(*, connection: Any, event_types: Sequence[str] | None = None) -> Any:
    """The available QA checks as a DataFrame."""
    return connection.perform(protocol.get_available_qa_checks(event_types, frame=True))


def get_qa_check_outcomes(*, connection: Any, event_type: str, check_type: str, start_date, end_date) -> Any:
    """A QA check's outcome per day from `start_date` to `end_date` (inclusive)."""
    return connection.perform(protocol.get_qa_check_outcomes(event_type, check_type, start_date, end_date))


def get_qa_check_outcomes_df(*, connection: Any, event_type: str, check_type: str, start_date, end_date) -> Any:
    """A QA check's outcomes as a DataFrame."""
    return connection.perform(protocol.get_qa_check_outcomes(event_type, check_type, start_date, end_date, frame=True))


def get_qa_check_outcome(*, connection: Any, event_type: str, check_type: str, event_date) -> Any:
    """One day's outcome of a QA check, as text."""
    return connection.perform(protocol.get_qa_check_outcome(event_type, check_type, str(event_date)))
