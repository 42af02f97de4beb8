"""FlowAPI's QA routes (reference §1.8): the stored outcomes of FlowETL's checks, by scope
`get_qa_checks`. Bodies are FlowAPI 1.34's: bare JSON arrays, and the bare outcome text for one day."""

from __future__ import annotations

from datetime import date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from flowkit.api.errors import APIError
from flowkit.api.security import authorise
from flowkit.ingest import qa

SCOPE = "get_qa_checks"


async def list_qa_checks(request: Request) -> Response:
    authorise(request, [SCOPE])
    return JSONResponse(await run_in_threadpool(qa.available_checks, request.app.state.machine.db))


async def _outcomes(request: Request, start: str | None, end: str | None) -> list[dict]:
    cdr_type, check = request.path_params["cdr_type"], request.path_params["check_id"]
    request.state.spec = {"cdr_type": cdr_type, "check_id": check, "start_date": start, "end_date": end}
    authorise(request, [SCOPE])
    first, last = _date(start), _date(end)
    if first is None or last is None:
        raise APIError(
            400,
            f"Could not parse {start} or {end}; expected for format is YYYY-MM-DD",
            status="bad request",
        )
    found = await run_in_threadpool(qa.outcomes, request.app.state.machine.db, cdr_type, check, first, last)
    if not found:
        raise APIError(404, f"No qa checks found for {cdr_type}, {check} between {start} and {end}", status="not found")
    return [
        {
            "outcome": row["outcome"],
            "cdr_date": row["cdr_date"],
            "type_of_query_or_check": row["type_of_query_or_check"],
        }
        for row in found
    ]


def _date(text: str | None) -> date | None:
    """A `%Y-%m-%d` date, as FlowAPI parses it (`2016-1-2` passes too); None if it does not parse."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").date() if text is not None else None
    except ValueError:
        return None


async def get_qa_outcomes(request: Request) -> Response:
    """Outcomes of one check of one type between two dates, both inclusive."""
    start, end = request.query_params.get("start_date"), request.query_params.get("end_date")
    return JSONResponse(await _outcomes(request, start, end))


async def get_qa_outcome(request: Request) -> Response:
    """One day's outcome as bare text (empty where the check's value was NULL)."""
    day = request.path_params["check_date"]
    found = await _outcomes(request, day, day)
    return PlainTextResponse(found[0]["outcome"] or "")


__all__ = ["get_qa_outcome", "get_qa_outcomes", "list_qa_checks"]
