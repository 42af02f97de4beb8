"""FlowAPI's routes, wire-compatible with FlowKit 1.34 as flowclient uses them (§1 of the reference)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowkit.api import qa, results
from flowkit.api.access_log import AccessLog
from flowkit.api.errors import APIError, api_error_response
from flowkit.api.flowauth import RevocationList
from flowkit.api.openapi import openapi_document
from flowkit.api.security import Authenticator, authorise
from flowkit.machine.catalogue import SpecError, parse_spec, required_scopes
from flowkit.machine.fields import AGGREGATION_UNITS
from flowkit.machine.inputs import QueryInputError
from flowkit.machine.queries import Machine, QueryState
from flowkit.machine.spec import QuerySpec

PREFIX = "/api/0"


def _machine(request: Request) -> Machine:
    return request.app.state.machine


async def run_query(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        raise APIError(400, "Could not parse query spec.") from None
    request.state.spec = body
    try:
        spec = parse_spec(body)
    except SpecError as error:
        raise APIError(400, error.msg, status="Error", payload={"validation_error_messages": error.errors}) from None
    authorise(request, ["run", *required_scopes(spec)])
    try:
        query_id = await run_in_threadpool(_machine(request).run, spec)
    except QueryInputError as error:
        raise APIError(400, str(error), status="Error") from None
    request.state.query_id = query_id
    return JSONResponse(
        {"query_id": query_id, "progress": _machine(request).progress(query_id).as_dict()},
        status_code=202,
        headers={"Location": f"{PREFIX}/poll/{query_id}"},
    )


def _known_spec(request: Request, query_id: str, action_scopes: list[str]) -> QuerySpec:
    """The spec behind a query id, once the caller is allowed to see it."""
    request.state.query_id = query_id
    spec = _machine(request).spec(query_id)
    if spec is None or spec.library_only:  # library-only results never leave through the API
        authorise(request, [])  # a bad token is reported as such, even for an unknown id
        raise APIError(404, f"Unknown query ID '{query_id}'", status="awol")
    authorise(request, [*action_scopes, *_spec_scopes(request, query_id, spec)])
    return spec


def _spec_scopes(request: Request, query_id: str, spec: QuerySpec) -> list[str]:
    """`required_scopes(spec)`, worked out once per query id (an id names one spec for good)."""
    known = request.app.state.spec_scopes
    if query_id not in known:
        known[query_id] = required_scopes(spec)
    return known[query_id]


_DESCRIPTIONS = {
    QueryState.KNOWN: "is known, but has not yet been run",
    QueryState.QUEUED: "is queued",
    QueryState.EXECUTING: "is currently running",
    QueryState.COMPLETED: "is ready",
    QueryState.ERRORED: "finished with an error",
    QueryState.CANCELLED: "was cancelled",
    QueryState.RESETTING: "is being reset",
}


async def poll_query(request: Request) -> Response:
    query_id = request.path_params["query_id"]
    _known_spec(request, query_id, [])
    machine = _machine(request)
    state = machine.state(query_id)
    if state == QueryState.COMPLETED:
        return JSONResponse({"status": "completed"}, status_code=303, headers={"Location": f"{PREFIX}/get/{query_id}"})
    if state in (QueryState.QUEUED, QueryState.EXECUTING):
        body = {"status": state.value, "msg": "", "progress": machine.progress(query_id).as_dict()}
        return JSONResponse(body, status_code=202)
    message = machine.error(query_id) or f"Query with id '{query_id}' {_DESCRIPTIONS[state]}."
    status_code = 500 if state in (QueryState.ERRORED, QueryState.CANCELLED) else 404
    return JSONResponse({"status": state.value, "msg": message}, status_code=status_code)


async def cancel_query(request: Request) -> Response:
    """Beyond FlowKit: stop a queued or running query (needs what running it needs)."""
    query_id = request.path_params["query_id"]
    _known_spec(request, query_id, ["run"])
    state = _machine(request).state(query_id)
    if state not in (QueryState.QUEUED, QueryState.EXECUTING):
        raise APIError(
            409, f"Query with id '{query_id}' {_DESCRIPTIONS[state]}: nothing to cancel.", status=state.value
        )
    state = await run_in_threadpool(_machine(request).cancel, query_id)
    return JSONResponse({"status": state.value, "msg": f"Query with id '{query_id}' was cancelled."})


async def get_result(request: Request) -> Response:
    query_id, _, filetype = request.path_params["target"].partition(".")
    filetype = filetype or "json"
    if filetype not in results.MEDIA_TYPES:
        raise APIError(400, "Invalid file format", status="error")
    spec = _known_spec(request, query_id, ["get_result"])
    if filetype == "geojson":
        if spec.unit is None:
            raise APIError(400, f"{spec.query_kind} results are not broken down by place: no GeoJSON", status="error")
        authorise(request, ["get_result", f"{spec.unit}:geography:geography"])
    machine = _machine(request)
    state = machine.state(query_id)
    if state in (QueryState.QUEUED, QueryState.EXECUTING):
        return JSONResponse({}, status_code=202)
    if state != QueryState.COMPLETED:
        message = machine.error(query_id) or f"Query with id '{query_id}' {_DESCRIPTIONS[state]}."
        raise APIError(403 if state == QueryState.ERRORED else 404, message, status="Error")

    def render() -> str:
        columns, rows = results.redacted_rows(machine, query_id, spec)
        if filetype == "json":
            return results.as_json(query_id, columns, rows)
        if filetype == "csv":
            return results.as_csv(columns, rows)
        return results.as_geojson(machine, spec, columns, rows)

    body = await run_in_threadpool(render)
    return Response(
        body,
        media_type=results.MEDIA_TYPES[filetype],
        headers={"Content-Disposition": f"attachment;filename={query_id}.{filetype}"},
    )


async def get_geography(request: Request) -> Response:
    unit = request.path_params["aggregation_unit"]
    authorise(request, ["get_result", f"{unit}:geography:geography"])
    if unit not in AGGREGATION_UNITS:  # unreachable with FlowKit scopes, kept for hand-made tokens
        raise APIError(400, f"Unknown aggregation unit '{unit}'", status="Error")
    body = await run_in_threadpool(results.geography, _machine(request), unit)
    return Response(
        body,
        media_type=results.MEDIA_TYPES["geojson"],
        headers={"Content-Disposition": f"attachment;filename={unit}.geojson"},
    )


async def get_available_dates(request: Request) -> Response:
    authorise(request, ["get_available_dates"])
    dates = await run_in_threadpool(_machine(request).db.available_dates)
    return JSONResponse({"available_dates": dates})


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document(request.app.state.authenticator.server_name, version("flowkit")))


async def root(request: Request) -> Response:
    return Response(status_code=200)


def create_app(
    machine: Machine, *, public_key: str, server_name: str, revocations: RevocationList | None = None
) -> Starlette:
    """The FlowAPI ASGI app over one machine; tokens must be signed for `server_name`.

    With `revocations`, tokens FlowAuth lists as revoked are refused; the list is fetched when the
    app starts (its lifespan) and refreshed in the background until it stops.
    """
    if revocations is not None and revocations.server_name != server_name:
        raise ValueError(f"revocations are for server {revocations.server_name!r}, not {server_name!r}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if revocations is None:
            yield
            return
        await run_in_threadpool(revocations.start)
        try:
            yield
        finally:
            await run_in_threadpool(revocations.stop)

    app = Starlette(
        routes=[
            Route("/", root),
            Route(f"{PREFIX}/run", run_query, methods=["POST"]),
            Route(f"{PREFIX}/poll/{{query_id}}", poll_query),
            Route(f"{PREFIX}/poll/{{query_id}}", cancel_query, methods=["DELETE"]),
            Route(f"{PREFIX}/get/{{target}}", get_result),
            Route(f"{PREFIX}/geography/{{aggregation_unit}}", get_geography),
            Route(f"{PREFIX}/available_dates", get_available_dates),
            Route(f"{PREFIX}/qa/", qa.list_qa_checks),
            Route(f"{PREFIX}/qa/{{cdr_type}}/{{check_id}}", qa.get_qa_outcomes),
            Route(f"{PREFIX}/qa/{{cdr_type}}/{{check_id}}/{{check_date}}", qa.get_qa_outcome),
            Route(f"{PREFIX}/spec/openapi.json", openapi_json),
        ],
        middleware=[Middleware(AccessLog)],
        exception_handlers={APIError: api_error_response},
        lifespan=lifespan,
    )
    app.state.machine = machine
    app.state.spec_scopes = {}
    app.state.authenticator = Authenticator(
        public_key, server_name, revocations if revocations is not None else frozenset()
    )
    return app


__all__ = ["create_app"]
