"""flowkit.client: a FlowAPI client with flowclient 1.34's interface, sync and async.

    conn = flowkit.client.connect(url="https://localhost:9090", token=token)
    locations = flowkit.client.modal_location_from_dates_spec(
        start_date="2016-01-01", end_date="2016-01-08", aggregation_unit="admin3", method="last")
    df = flowkit.client.spatial_aggregate(connection=conn, locations=locations).get_result()

With `connect_async` the same calls return awaitables. Spec builders (`K_spec`) and query
constructors (`K`) are generated from the server's query kinds (`flowkit.client.specs`); the
protocol lives once in `flowkit.client.protocol`.
"""

from flowkit.client import specs
from flowkit.client.connection import AsyncConnection, Connection, connect, connect_async
from flowkit.client.errors import APIError, AuthorizationError, ClientError, ConnectionFailed, QueryNotFound, TokenError
from flowkit.client.query import (
    APIQuery,
    ASyncAPIQuery,
    get_available_dates,
    get_available_qa_checks,
    get_available_qa_checks_df,
    get_geography,
    get_geojson_result,
    get_qa_check_outcome,
    get_qa_check_outcomes,
    get_qa_check_outcomes_df,
    get_result,
    get_result_by_query_id,
    get_status,
    query_is_ready,
    run_query,
)

_FIXED = [
    "APIError",
    "APIQuery",
    "ASyncAPIQuery",
    "AsyncConnection",
    "AuthorizationError",
    "ClientError",
    "Connection",
    "ConnectionFailed",
    "QueryNotFound",
    "TokenError",
    "connect",
    "connect_async",
    "get_available_dates",
    "get_available_qa_checks",
    "get_available_qa_checks_df",
    "get_geography",
    "get_geojson_result",
    "get_qa_check_outcome",
    "get_qa_check_outcomes",
    "get_qa_check_outcomes_df",
    "get_result",
    "get_result_by_query_id",
    "get_status",
    "query_is_ready",
    "run_query",
]
_GENERATED = [name for name in specs.__all__ if name != "make_builders"]
if clash := set(_FIXED) & set(_GENERATED):
    raise ImportError(f"query kinds shadow client functions: {sorted(clash)}")
globals().update({name: getattr(specs, name) for name in _GENERATED})

__all__ = [*_FIXED, *_GENERATED]
