"""The FlowAPI protocol, written once and free of I/O (sans-IO, as h11 is for HTTP).

An operation is a generator: it yields effects — a `Request` to send or a `Sleep` to wait — and
is sent the `httpx.Response` to each request; what it returns is the operation's result.
`Connection` and `AsyncConnection` drive the same generators with `httpx.Client` and
`httpx.AsyncClient`, so request building, reply interpretation, error mapping and progress
accounting cannot differ between the sync and async clients. Tests drive them with canned
replies.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pandas as pd
from tqdm.auto import tqdm

from flowkit.client.errors import APIError, QueryNotFound, error_for

__all__ = [
    "FORMATS",
    "Effect",
    "Operation",
    "Progress",
    "Request",
    "Sleep",
    "get_available_dates",
    "get_geography",
    "get_result",
    "get_status",
    "query_is_ready",
    "query_result",
    "run_query",
    "wait_until_ready",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """A request to send; `path` is relative to `{url}/api/{api_version}/`."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Effect = Request | Sleep
Operation = Generator[Effect, httpx.Response | None, T]

# Result format -> suffix of the result route.
FORMATS = {"pandas": "", "csv": ".csv", "geojson": ".geojson"}

# FlowAPI's Location headers are absolute paths; requests are relative to the versioned base.
_API_PREFIX = re.compile(r"^/api/[0-9]+/")


class Progress:
    """flowclient's "Parts run" bar: the total is the first poll's `eligible` count, and the bar
    shows how many parts have left the eligible set since (never moving backwards)."""

    def __init__(self, eligible: int, disable: bool | None):
        self.total = eligible
        self.done = 0
        self.bar = tqdm(desc="Parts run", unit="q", total=eligible, disable=disable)

    def advance(self, eligible: int) -> None:
        done = max(self.done, self.total - eligible)
        self.bar.update(done - self.done)
        self.done = done

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()


def run_query(spec: dict) -> Operation[str]:
    """POST the spec; the query id is the last segment of the Location header."""
    response = yield Request("POST", "run", json=spec)
    _expect(response, 202)
    return _location(response).rstrip("/").rsplit("/", 1)[-1]


def query_is_ready(query_id: str) -> Operation[tuple[bool, httpx.Response]]:
    """Poll once: 303 means ready, 202 means queued or executing."""
    response = yield Request("GET", f"poll/{query_id}")
    _expect(response, 202, 303)
    return response.status_code == 303, response


def get_status(query_id: str | None) -> Operation[str]:
    """ "not_running" (never run, or unknown to the server), "queued", "executing" or "completed"."""
    if query_id is None:
        return "not_running"
    try:
        ready, response = yield from query_is_ready(query_id)
    except QueryNotFound:
        return "not_running"
    return "completed" if ready else _field(response, "status")


def wait_until_ready(
    query_id: str | None, poll_interval: float = 1, disable_progress: bool | None = None
) -> Operation[str]:
    """Poll every `poll_interval` seconds until ready; return the result's path."""
    if query_id is None:
        raise QueryNotFound(None, "Query is not running.")
    ready, response = yield from query_is_ready(query_id)
    if not ready:
        with Progress(_field(response, "progress", "eligible"), disable_progress) as progress:
            while not ready:
                yield Sleep(poll_interval)
                ready, response = yield from query_is_ready(query_id)
                progress.advance(0 if ready else _field(response, "progress", "eligible"))
    return _API_PREFIX.sub("", _location(response))


def get_result(
    query_id: str, format: str = "pandas", poll_interval: float = 1, disable_progress: bool | None = None
) -> Operation[Any]:
    """Wait for a query, then fetch its result as a DataFrame, CSV text or GeoJSON dict."""
    suffix = _suffix(format)
    path = yield from wait_until_ready(query_id, poll_interval, disable_progress)
    response = yield Request("GET", path + suffix)
    _expect(response, 200)
    if format == "csv":
        return response.text
    if format == "geojson":
        return response.json()
    return pd.DataFrame.from_records(_field(response, "query_result"))


def query_result(
    spec: dict,
    query_id: str | None,
    format: str = "pandas",
    poll_interval: float = 1,
    disable_progress: bool | None = None,
) -> Operation[tuple[str, Any]]:
    """A spec's result and query id, running the query first if it was never run or the server
    no longer knows it (404), as flowclient's APIQuery.get_result does."""
    _suffix(format)
    if query_id is not None:
        try:
            return query_id, (yield from get_result(query_id, format, poll_interval, disable_progress))
        except QueryNotFound:
            pass
    query_id = yield from run_query(spec)
    return query_id, (yield from get_result(query_id, format, poll_interval, disable_progress))


def get_geography(aggregation_unit: str) -> Operation[dict]:
    """The aggregation unit's boundaries as a GeoJSON FeatureCollection."""
    response = yield Request("GET", f"geography/{aggregation_unit}")
    _expect(response, 200)
    return response.json()


def get_available_dates(event_types: Sequence[str] | None = None) -> Operation[dict[str, list[str]]]:
    """Dates with data per event type, optionally only for `event_types`."""
    response = yield Request("GET", "available_dates")
    _expect(response, 200)
    dates = _field(response, "available_dates")
    return dates if event_types is None else {kind: days for kind, days in dates.items() if kind in event_types}


def get_available_qa_checks(event_types: Sequence[str] | None = None, *, frame: bool = False) -> Operation[Any]:
    """The QA checks with stored outcomes: [{"cdr_type", "type_of_query_or_check"}] (a DataFrame if `frame`),
    optionally only of `event_types`."""
    response = yield Request("GET", "qa/")
    _expect(response, 200)
    checks = response.json()
    checks = checks if event_types is None else [check for check in checks if check["cdr_type"] in event_types]
    return pd.DataFrame(checks) if frame else checks


def get_qa_check_outcomes(
    event_type: str, check_type: str, start_date: str, end_date: str, *, frame: bool = False
) -> Operation[Any]:
    """A check's outcomes per day, end date included: [{"outcome", "cdr_date", "type_of_query_or_check"}]
    (a DataFrame if `frame`)."""
    params = {"start_date": str(start_date), "end_date": str(end_date)}
    response = yield Request("GET", f"qa/{event_type}/{check_type}", params=params)
    _expect(response, 200)
    return pd.DataFrame(response.json()) if frame else response.json()


def get_qa_check_outcome(event_type: str, check_type: str, event_date: str) -> Operation[str]:
    """One day's outcome of a check, as the text FlowETL stored."""
    response = yield Request("GET", f"qa/{event_type}/{check_type}/{event_date}")
    _expect(response, 200)
    return response.text


# -- reply interpretation ----------------------------------------------------------------------


def _expect(response: httpx.Response, *statuses: int) -> None:
    if response.status_code not in statuses:
        raise error_for(response)


def _field(response: httpx.Response, *path: str) -> Any:
    """A value from the JSON body; a reply without it is the server breaking the protocol."""
    try:
        value = response.json()
        for key in path:
            value = value[key]
    except (ValueError, KeyError, TypeError):
        raise APIError(response.status_code, f"Reply has no {'.'.join(path)}.", None) from None
    return value


def _location(response: httpx.Response) -> str:
    try:
        return response.headers["Location"]
    except KeyError:
        raise APIError(response.status_code, "Reply has no Location header.", None) from None


def _suffix(format: str) -> str:
    try:
        return FORMATS[format]
    except KeyError:
        raise ValueError(f"Invalid format: {format!r}. Expected one of {sorted(FORMATS)}.") from None
